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
from .fabrication import shoe
from .outline import Outline
from .prescription import Prescription

MIN_RESOLUTION_MM, MAX_RESOLUTION_MM = 0.2, 5.0


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


def check_resolution(resolution, name: str = "--resolution") -> float:
    """``resolution`` as mm, or an error naming ``name`` (the option or column it came from)."""
    from .errors import InputError

    allowed = f"allowed {MIN_RESOLUTION_MM:g} to {MAX_RESOLUTION_MM:g} mm"
    try:
        value = float(resolution)
    except (TypeError, ValueError):
        raise InputError(f"{name} {resolution!r} is not a number; {allowed}") from None
    if not MIN_RESOLUTION_MM <= value <= MAX_RESOLUTION_MM:
        raise InputError(f"{name} {value:g} mm is out of range; {allowed}")
    return value


def build_insert(outline: Outline, rx: Prescription, resolution: float = 1.0) -> Insert:
    """Build the insert for ``outline`` and prescription ``rx`` at ``resolution`` mm."""
    check_resolution(resolution)
    start = time.perf_counter()
    marks = landmarks.place(outline, rx)
    footprint = mesh.trim(outline.points, marks, rx.shell.length)
    # The lattice runs through the pad apex whether the pad is on or not: builds with a feature
    # on and off share one triangulation and differ by exactly that feature's field.
    points, triangles, rim = triangulate.triangulate(footprint, resolution, marks.met_pad_apex)
    heights = features.fields(points, outline, marks, rx)
    features.check_thickness(points, heights, marks, rx)
    top = sum(heights.values())
    bottom = shoe.board(points, marks, rx)
    vertices, faces = construct.solid(points, triangles, rim, top, bottom)
    insert = Insert(
        outline=outline, marks=marks, prescription=rx, resolution_mm=resolution, footprint=footprint,
        points=points, triangles=faces[: len(triangles)], rim=rim, fields=heights, vertices=vertices, faces=faces,
        build_seconds=time.perf_counter() - start, warnings=[*outline.notes, *rx.warnings()], bottom=bottom,
    )
    if rx.lattice.type != "none":
        from .construct import lattice

        insert.lattice = lattice.build(insert)
        insert.build_seconds = time.perf_counter() - start
    return insert
