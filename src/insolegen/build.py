"""The Python API: outline + prescription -> insert (mesh, fields, report, export).

>>> from insolegen import build, template, prescription
>>> insert = build.build_insert(template.builtin(), prescription.Prescription(), resolution=2.0)
>>> insert.qa()["watertight"]
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from . import construct, features, landmarks, mesh, triangulate
from .construct import shell as construct_shell
from .fabrication import shoe
from .outline import Outline
from .prescription import Prescription
from .resolution import MAX_RESOLUTION_MM, MIN_RESOLUTION_MM, check_resolution  # noqa: F401  (the API's names)


@dataclass
class Insert:
    """A built insert.

    points: (n, 2) float, mm, the triangulated outline; rim: points[:rim] is the rim;
    triangles: (t, 3) int32, the top's triangles over points (a view of the first faces);
    vertices: (n + b, 3) float, mm, the top's n first; faces: (f, 3) int32;
    fields: feature name -> (n,) float, mm, summing to the thickness;
    bottom: (n,) float, mm, the bottom's height under each point (0 unless fitted to a shoe).
    """

    outline: Outline
    marks: landmarks.Landmarks
    prescription: Prescription
    resolution_mm: float
    footprint: np.ndarray
    points: np.ndarray
    triangles: np.ndarray
    rim: int
    fields: dict[str, np.ndarray]
    vertices: np.ndarray
    faces: np.ndarray
    build_seconds: float
    warnings: list[str] = field(default_factory=list)
    bottom: np.ndarray | None = None
    parts: tuple = ()  # (name, vertices, faces) of each printed body when there are several (a shell's extrinsic post)
    lattice: "construct.lattice.Lattice | None" = None  # the printed body when lattice.type is not none

    @property
    def body(self) -> tuple[np.ndarray, np.ndarray]:
        """The body written out: the lattice's vertices and faces when there is one, else the solid's."""
        return (self.lattice.vertices, self.lattice.faces) if self.lattice is not None else (self.vertices, self.faces)

    @cached_property
    def mesh(self):
        """The solid as a ``trimesh.Trimesh`` (no vertex merging: vertices are already unique)."""
        import trimesh

        return trimesh.Trimesh(*self.body, process=False)

    def qa(self) -> dict:
        """QA figures measured on the solid (see :mod:`insolegen.qa`)."""
        from . import qa

        return qa.insert_qa(self)

    def export(self, path: str | Path, ascii_stl: bool = False, keep_input_frame: bool = False) -> Path:
        """Write the mesh atomically; the format follows the suffix (see :func:`insolegen.export.write_insert`)."""
        from . import export

        return export.write_insert(self, path, ascii_stl=ascii_stl, keep_input_frame=keep_input_frame)


def build_insert(outline: Outline, rx: Prescription, resolution: float = 1.0) -> Insert:
    """Build the insert for ``outline`` and prescription ``rx`` at ``resolution`` mm."""
    check_resolution(resolution)
    check_load(outline, rx)
    start = time.perf_counter()
    marks = landmarks.place(outline, rx)
    sheet = rx.device.type == "shell"
    footprint = (construct_shell.trim if sheet else mesh.trim)(outline.points, marks, rx.shell.length)
    # The lattice runs through the pad apex whether the pad is on or not: builds with a feature
    # on and off share one triangulation and differ by exactly that feature's field.
    points, triangles, rim = triangulate.triangulate(footprint, resolution, marks.met_pad_apex)
    heights = features.fields(points, outline, marks, rx)
    features.check_thickness(points, heights, marks, rx)
    parts = ()
    if sheet:
        device = construct_shell.build(points, triangles, rim, footprint, heights, lambda xy: features.fields(xy, outline, marks, rx),
                                       outline, marks, rx, resolution)
        vertices, faces, bottom, heights, parts = device.vertices, device.faces, device.bottom, device.fields, device.parts
    else:
        top = sum(heights.values())
        bottom = shoe.board(points, marks, rx)
        vertices, faces = construct.solid(points, triangles, rim, top, bottom)
    insert = Insert(
        outline=outline, marks=marks, prescription=rx, resolution_mm=resolution, footprint=footprint,
        points=points, triangles=faces[: len(triangles)], rim=rim, fields=heights, vertices=vertices, faces=faces,
        build_seconds=time.perf_counter() - start, warnings=[*outline.notes, *rx.warnings()], bottom=bottom,
        parts=parts,
    )
    if rx.pressure.grade_zones:  # the zones' infill from the load: the slicer's settings, not the mesh
        from .pressure.grading import graded

        insert = graded(insert)
    if rx.lattice.type != "none":
        from .construct import lattice

        insert.lattice = lattice.build(insert)
        insert.build_seconds = time.perf_counter() - start
    return insert


def check_load(outline: Outline, rx: Prescription) -> None:
    """A design from load (``pressure.offload_kpa``, ``pressure.grade_zones``) needs a recording laid on the outline."""
    from .errors import InputError

    asked = [name for name, on in (("pressure.offload_kpa", rx.pressure.offload_kpa is not None),
                                   ("pressure.grade_zones", rx.pressure.grade_zones)) if on]
    if asked and outline.load is None:
        raise InputError(f"{' and '.join(asked)} design from a pressure recording; give one (build --pressure FILE) or unset them")
