"""The Python API that the command line and the batch runner use.

>>> from insolegen import api
>>> insert = api.build(settings={"heel_lift.height_mm": 6.0}, resolution=2.0)
>>> round(insert.qa()["as_built"]["heel_lift_mm"], 3)
6.0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import export, footprint, prescription, readers, report, template
from .build import Insert, build_insert, check_resolution
from .errors import InputError
from .outline import UNIT_MM, Outline, from_points, unit_name

KINDS = ("outline", "footprint")


def load_outline(
    path: str | Path | None = None,
    units: str | None = None,
    side: str = "right",
    foot_length_mm: float = 265.0,
    foot_width_mm: float = 100.0,
    kind: str = "outline",
    shoe_size: float | None = None,
    size_system: str = "eu",
) -> Outline:
    """An outline file in the output frame, or the built-in outline when ``path`` is None
    (sized by ``shoe_size`` in ``size_system`` when given, else by foot length and width).

    Units written in the file win; ``units`` serves files that carry none (default mm).
    ``kind``: ``"outline"`` (the file is the insole outline) or ``"footprint"`` (a pressure or
    ink footprint: its contact patches become an insole outline, see :mod:`insolegen.footprint`).
    """
    if path is None:
        if shoe_size is not None:
            foot_length_mm, foot_width_mm = template.foot_for_shoe(shoe_size, size_system)
        return template.builtin(foot_length_mm, foot_width_mm, side)
    if shoe_size is not None:
        raise InputError(f"{path}: --shoe-size sizes the built-in outline; drop it or drop --outline")
    if kind not in KINDS:
        raise InputError(f"outline kind '{kind}' is not known; use {' or '.join(KINDS)}")
    rings, file_units, sha = readers.read(path)
    units = unit_name(file_units or units or "mm", str(path))
    notes: list[str] = []
    if kind == "footprint":
        ring, notes = footprint.insole_ring(rings, UNIT_MM[units], str(path))
    elif len(rings) == 1:
        ring = rings[0]
    else:
        sizes = sorted(((np.ptp(r, axis=0) * UNIT_MM[units]).tolist() for r in rings if len(r)), reverse=True)
        listed = ", ".join(f"{w:.0f} x {h:.0f}" for w, h in sizes[:4]) + (", ..." if len(sizes) > 4 else "")
        raise InputError(
            f"{path}: the file holds {len(rings)} separate outlines ({listed} mm); give one closed outline "
            "(delete any page frame or other shape), or pass --outline-kind footprint if it is a footprint "
            "with separate toe prints"
        )
    return from_points(ring, units, side, str(path), sha, kind, tuple(notes))


def load_scan(path: str | Path, units: str = "auto", side: str = "auto", outline: str | Path | None = None,
              outline_units: str | None = None):
    """A foot scan (STL, OBJ, PLY, XYZ, CSV) read and posed: a :class:`~insolegen.scan.cast.ScanInput`
    that :func:`build` takes in place of an outline (its outline depends on the prescription).
    ``outline``: the shoe's insole outline (any outline file) that trims the molded top; drawn
    for the other foot, it is mirrored (and a note says so)."""
    import dataclasses

    from .scan import cast

    scan = cast.load(path, units, side)
    if outline is None:
        return scan
    shoe = load_outline(outline, outline_units, scan.pose.side)
    if shoe.apparent_side() != shoe.side:
        shoe = dataclasses.replace(shoe.mirrored(), notes=(*shoe.notes, f"{outline}: the outline looks like a "
                                                           f"{shoe.apparent_side()} foot's; mirrored for the {shoe.side} scan"))
    return dataclasses.replace(scan, shoe=shoe)


def load_pressure(path: str | Path, side: str | None = None, step: int | None = None):
    """A plantar pressure recording read and analysed: an :class:`insolegen.pressure.Analysis`
    that :func:`build` lays on the outline. ``side`` (the insert's) picks the insole of an in-shoe
    pair; a plate's step or a single insole keeps the side its load shows (laid on an insert of the
    other side, it is mirrored: see :func:`with_load`). ``step``: see :func:`insolegen.pressure.read`."""
    from . import pressure

    return pressure.analyse(pressure.read(path, side=side, step=step))


def with_load(outline: Outline, analysis) -> Outline:
    """``outline`` carrying the recording's load, registered on it (see :mod:`insolegen.pressure.register`)."""
    from dataclasses import replace

    from .pressure.register import register

    load = register(analysis, outline)
    notes = outline.notes
    if load.mirrored:
        notes += (f"{analysis.recording.source}: the recording is of the {analysis.recording.side} foot, the insert "
                  f"{outline.side}: its load is mirrored onto the insert",)
    return replace(outline, load=load, notes=notes)


def build(
    outline: Outline | str | Path | None = None,
    rx: prescription.Prescription | None = None,
    *,
    profile: str | None = None,
    settings: dict[str, Any] | None = None,
    side: str = "right",
    units: str | None = None,
    resolution: float = 1.0,
    pressure=None,
) -> Insert:
    """Build one insert. ``outline``: an :class:`Outline`, a file path, None (built-in), or a
    scan from :func:`load_scan`. ``pressure``: a recording from :func:`load_pressure` (or its
    file) to design from: its landmarks, and ``pressure.*``."""
    check_resolution(resolution)
    if rx is None:
        rx = prescription.resolve(profile, settings)
    from .scan.cast import ScanInput

    if isinstance(outline, ScanInput):  # its outline and cast follow from the prescription
        outline = outline.outline(rx)
    if not isinstance(outline, Outline):
        outline = load_outline(outline, units, side)
    if pressure is not None:
        outline = with_load(outline, load_pressure(pressure) if isinstance(pressure, (str, Path)) else pressure)
    return build_insert(outline, rx, resolution)


def key_for(outline: Outline, rx: prescription.Prescription, resolution: float, keep_input_frame: bool = False) -> str:
    """The build key: the same key always gives the same mesh bytes."""
    load = f"|pressure={outline.load.digest}" if outline.load is not None else ""
    return report.build_key(outline.digest, rx.model_dump_json(), outline.side, resolution, f"kif={keep_input_frame}{load}")


def key_of(insert: Insert, keep_input_frame: bool = False) -> str:
    """:func:`key_for` of a built insert."""
    return key_for(insert.outline, insert.prescription, insert.resolution_mm, keep_input_frame)


def write(
    insert: Insert,
    path: str | Path,
    report_path: str | Path | None = None,
    *,
    ascii_stl: bool = False,
    keep_input_frame: bool = False,
) -> dict:
    """Write the mesh and its report (``<stem>.report.json`` beside it unless given), both atomically.

    Returns the report. If the report cannot be written the mesh is removed again.
    """
    path = export.check_writable(path)
    report_path = Path(report_path) if report_path else path.with_name(f"{path.stem}.report.json")
    mesh_path = insert.export(path, ascii_stl=ascii_stl, keep_input_frame=keep_input_frame)
    try:
        doc = report.make_report(insert, mesh_path, keep_input_frame=keep_input_frame, build_key=key_of(insert, keep_input_frame))
        export.write_bytes(report_path, report.encode(doc))
    except BaseException:
        mesh_path.unlink(missing_ok=True)
        raise
    return doc


def write_mold(insert: Insert, path: str | Path, *, ascii_stl: bool = False, keep_input_frame: bool = False) -> Path:
    """Write the insert's positive model (see :mod:`insolegen.construct.mold`) atomically; the
    format follows the suffix."""
    from .construct import mold

    path = export.check_writable(path)
    vertices, faces = mold.of_insert(insert)
    if keep_input_frame:
        vertices = export.to_input_frame(vertices, insert.outline.transform)
    return export.write_mesh(path, vertices, faces, ascii_stl=ascii_stl)


def pair_paths(path: str | Path) -> tuple[Path, Path]:
    """``pair.stl`` -> (``pair-left.stl``, ``pair-right.stl``)."""
    path = Path(path)
    return path.with_name(f"{path.stem}-left{path.suffix}"), path.with_name(f"{path.stem}-right{path.suffix}")


def build_pair(
    short_side: str,
    rx: prescription.Prescription,
    *,
    outline: Outline | None = None,
    left: Outline | None = None,
    right: Outline | None = None,
    resolution: float = 1.0,
) -> tuple[Insert, Insert]:
    """Left and right inserts; the heel lift goes under ``short_side`` only.

    Give one ``outline`` (the other side is its mirror) or both ``left`` and ``right``.
    """
    if short_side not in ("left", "right"):
        raise InputError(f"--short-side '{short_side}' is not known; use left or right")
    if outline is not None and outline.load is not None:  # its mirror would carry the load laid for this side
        raise InputError(f"{outline.load.analysis.recording.source}: a pressure recording is of one foot; give left and right, each with its own")
    if outline is not None:
        left = outline if outline.side == "left" else outline.mirrored()
        right = outline if outline.side == "right" else outline.mirrored()
    if left is None or right is None:
        raise InputError("a pair needs --outline, or both --outline-left and --outline-right")
    no_lift = rx.model_copy(update={"heel_lift": rx.heel_lift.model_copy(update={"height_mm": 0.0})})
    return tuple(
        build_insert(o, rx if o.side == short_side else no_lift, resolution) for o in (left, right)
    )  # type: ignore[return-value]
