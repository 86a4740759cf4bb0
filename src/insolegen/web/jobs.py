"""The work the web app hands to its worker processes: builds, pairs, batches, formats.

Each job gets a folder of its own (``folder``, made by the server under a random token) and
writes only there, under fixed names. Uploaded files arrive as bytes with the user's file name;
they are saved under a server-made name and every error names them by the user's name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError

MESH_KEEP = "mesh.npz"  # vertices and faces, for the formats made on first download
LAZY_FORMATS = (".glb", ".3mf")
MAX_BATCH_UNZIPPED = 500 * 2**20  # bytes a batch zip may expand to (a zip bomb stops here)
MAX_BATCH_ENTRIES = 5000


@dataclasses.dataclass(frozen=True)
class Upload:
    """An uploaded file: the name the user gave (never a server path) and its bytes."""

    name: str
    data: bytes

    @property
    def safe_suffix(self) -> str:
        """The file's suffix if it is a plain one (``.csv``), else '' (the reader then names the problem)."""
        suffix = Path(self.name).suffix.lower()
        return suffix if re.fullmatch(r"\.[a-z0-9]{1,10}", suffix) else ""


@dataclasses.dataclass(frozen=True)
class Source:
    """Where the insert's shape comes from: an uploaded outline (``upload``) or foot scan
    (``scan``), or else the built-in outline of a foot size (mm)."""

    upload: Upload | None = None
    kind: str = "outline"
    units: str | None = None
    foot_length_mm: float = 265.0
    foot_width_mm: float = 100.0
    scan: Upload | None = None
    scan_units: str = "auto"
    shoe_size: float | None = None  # sizes the built-in outline instead of the length and width
    size_system: str = "eu"
    pressure: Upload | None = None  # a plantar pressure recording to design from


def warm_up() -> None:
    """Run everything a build needs once, so the first real build is as quick as the rest (the
    GLB's trimesh, a seventh of a second, loads on its first download: the page offers none)."""
    from .. import api, export

    insert = api.build(resolution=5.0)
    insert.qa()
    for suffix in (".stl", ".3mf"):
        export.encode(suffix, insert.vertices, insert.faces)


@contextlib.contextmanager
def _saved(upload: Upload, folder: Path, stem: str) -> Iterator[Path]:
    """The upload as a file under a server-made name while the block reads it; an error from the
    block names the upload by the user's file name, never the server's path."""
    path = folder / f"{stem}{upload.safe_suffix}"
    path.write_bytes(upload.data)
    try:
        yield path
    except InputError as exc:
        raise InputError(str(exc).replace(str(path), upload.name).replace(str(folder), "upload")) from None
    finally:
        path.unlink(missing_ok=True)


def _named(notes: tuple[str, ...], path: Path, upload: Upload) -> tuple[str, ...]:
    return tuple(n.replace(str(path), upload.name) for n in notes)


def load_outline(source: Source, side: str, folder: Path):
    """The :class:`~insolegen.outline.Outline` of ``source`` for ``side``."""
    from .. import api

    sizes = {"shoe_size": source.shoe_size, "size_system": source.size_system}  # refused beside an upload, as by the CLI
    if source.upload is None:
        return api.load_outline(None, side=side, foot_length_mm=source.foot_length_mm, foot_width_mm=source.foot_width_mm, **sizes)
    with _saved(source.upload, folder, "upload") as path:
        outline = api.load_outline(path, source.units, side, kind=source.kind, **sizes)
    return dataclasses.replace(outline, source=source.upload.name, notes=_named(outline.notes, path, source.upload))


def load_scan(source: Source, side: str, folder: Path):
    """The uploaded scan, read and posed (:func:`insolegen.api.load_scan`); ``side`` may be ``auto``.
    An outline uploaded beside it is the shoe's insole outline that trims the top."""
    from .. import api

    if source.shoe_size is not None:  # as the CLI answers
        raise InputError(f"{source.scan.name}: --shoe-size sizes the built-in outline; drop it or drop the scan")
    with _saved(source.scan, folder, "scan") as path, \
            (_saved(source.upload, folder, "upload") if source.upload else contextlib.nullcontext()) as shoe_path:
        scan = api.load_scan(path, source.scan_units, side, shoe_path, source.units)
    raw = dataclasses.replace(scan.raw, source=source.scan.name, notes=_named(scan.raw.notes, path, source.scan))
    shoe = scan.shoe and dataclasses.replace(scan.shoe, source=source.upload.name, notes=_named(scan.shoe.notes, shoe_path, source.upload))
    return dataclasses.replace(scan, raw=raw, shoe=shoe)


def load_pressure(source: Source, side: str, folder: Path):
    """The uploaded pressure recording's analysis (:func:`insolegen.api.load_pressure`), or None."""
    from .. import api

    if source.pressure is None:
        return None
    with _saved(source.pressure, folder, "pressure") as path:
        analysis = api.load_pressure(path, side if side in ("left", "right") else None)
    return dataclasses.replace(analysis, recording=dataclasses.replace(analysis.recording, source=source.pressure.name))


def pressure_map(insert) -> dict[str, Any]:
    """The peak map under the insert for the page: each loaded sensor's square (n, 4, 2) mm in the
    insert's frame and its peak (n,) kPa."""
    from ..pressure import picture

    laid = insert.outline.load.laid()
    squares = picture.squares_out(laid, laid.contact)
    return {"squares": squares.round(2).tolist(), "peak_kpa": laid.peak[laid.contact].round(1).tolist(),
            "max_kpa": float(laid.peak[laid.contact].max())}


def _write_insert(insert, folder: Path, stem: str) -> dict[str, Any]:
    """STL, report, the kept mesh (and a 3MF of several volumes) of one insert; returns the report (its mesh named by file name)."""
    import numpy as np

    from .. import api, export, report

    mesh_name = f"{stem}.stl"
    insert.export(folder / mesh_name)
    vertices, faces = insert.body  # a lattice insert's lattice, else the solid
    np.savez(folder / f"{stem}.{MESH_KEEP}", vertices=vertices, faces=faces)
    rx = insert.prescription
    if rx.top_cover.thickness_mm > 0 or any(zone.infill_pct is not None for _, zone in rx.zones):
        # a top cover and print zones are volumes of the 3MF that the kept mesh has not: that 3MF is made now
        insert.export(folder / f"{stem}.3mf")
    doc = report.make_report(insert, Path(mesh_name), build_key=api.key_of(insert))
    export.write_bytes(folder / f"{stem}.report.json", report.encode(doc))
    return doc


def build(source: Source, rx_json: str, side: str, resolution: float, folder: str) -> dict[str, Any]:
    """One insert into ``folder``: ``insert-<side>.stl`` and its report; returns the report.

    ``side``: left or right, or ``auto`` for a scan (its side is found from the arch)."""
    from .. import api, prescription

    folder_path = Path(folder)
    rx = prescription.Prescription.model_validate_json(rx_json)
    shape = load_scan(source, side, folder_path) if source.scan else load_outline(source, side, folder_path)
    insert = api.build(shape, rx, resolution=resolution, pressure=load_pressure(source, side, folder_path))
    doc = _write_insert(insert, folder_path, f"insert-{insert.outline.side}")
    return doc if insert.outline.load is None else {**doc, "pressure_map": pressure_map(insert)}


VIEW_JOB = "view-job.pickle"  # a screen build's inputs, until its files are made


def view(source: Source, rx_json: str, side: str, resolution: float, folder: str) -> tuple[dict[str, Any], bytes]:
    """One insert for the screen: (the figures the page shows, the mesh as :func:`pack_mesh` bytes).

    No file is written but the inputs: the STL, 3MF and report are made on their first download
    (:func:`complete`), and so is the whole QA report (rays, face areas, footprint): the screen
    shows manifold3d's verdict on the body downloaded (a lattice insert's lattice) and the features
    as built, read off the insert's own fields (and a shell's or a lattice's section of the report)."""
    import pickle

    from .. import api, prescription
    from ..qa import as_manifold, features_as_built

    folder_path = Path(folder)
    rx = prescription.Prescription.model_validate_json(rx_json)
    shape = load_scan(source, side, folder_path) if source.scan else load_outline(source, side, folder_path)
    insert = api.build(shape, rx, resolution=resolution, pressure=load_pressure(source, side, folder_path))
    (folder_path / VIEW_JOB).write_bytes(pickle.dumps((source, rx_json, side, resolution)))
    vertices, faces = insert.body  # a lattice insert's lattice, else the solid: what the download holds
    solid = as_manifold(vertices, faces)  # about 300 bytes a face: freed before the figures
    watertight, bodies, volume = solid.status().name == "NoError", len(solid.decompose()), float(solid.volume())
    del solid
    built = features_as_built(insert)  # as the report measures them
    arch, pad = built["as_built"]["arch"], built["as_built"]["met_pad"]
    outline = insert.outline
    figures = {
        "side": outline.side,
        "watertight": watertight,  # closed, consistently wound, manifold: manifold3d accepts it
        "bodies": bodies,
        "volume_mm3": round(volume, 3),
        "faces": len(faces),
        "resolution_mm": resolution,
        "arch_mm": arch["height_mm"],
        "arch_at_pct_length": arch["at_pct_length"],
        "heel_lift_mm": built["as_built"]["heel_lift_mm"],
        "met_pad_mm": pad["height_mm"],
        "met_pad_behind_met_line_mm": pad["behind_met_line_mm"],
        "heel_cup_mm": built["as_built"]["heel_cup_mm"],
        "set": {"arch_mm": rx.arch.height_mm, "heel_lift_mm": rx.heel_lift.height_mm, "met_pad": rx.met_pad.enabled,
                "heel_cup_mm": rx.heel_cup.depth_mm, "rim_mm": rx.scan.rim_mm},
        "thickness_mm": [built["min_thickness_mm"], built["max_thickness_mm"]],
        "foot": {"length_mm": round(outline.length_mm, 3), "width_mm": round(outline.width_mm, 3), "outline": outline.source},
        "warnings": insert.warnings,
    }
    if insert.outline.load is not None:  # the peak map under the insert
        figures["pressure_map"] = pressure_map(insert)
    if source.scan:  # a scan's arch is the foot's own, as the report gives it
        from ..report import scan_section

        figures["scan"] = scan_section(insert)
    if rx.device.type == "shell":  # as the report measures it (normal rays: most of a shell's view)
        from ..construct.as_built import shell_as_built

        figures["shell"] = shell_as_built(insert)
    if insert.lattice is not None:  # its zones' densities and thinnest wall, as the report measures them
        from ..construct.lattice_qa import figures as lattice_figures

        figures["lattice"] = lattice_figures(insert, volume)
    return figures, pack_mesh(vertices, faces)


def pack_mesh(vertices, faces) -> bytes:
    """(n, 3) vertices as float32 then (f, 3) faces as uint32, little-endian: a third of an STL's
    bytes, drawn by the page without parsing."""
    import numpy as np

    return np.asarray(vertices, "<f4").tobytes() + np.asarray(faces, "<u4").tobytes()


def complete(folder: str) -> None:
    """The files of a screen build (:func:`view`): STL, report (the whole QA), and the 3MF when it has volumes."""
    import pickle

    job = Path(folder) / VIEW_JOB
    if job.is_file():
        source, rx_json, side, resolution = pickle.loads(job.read_bytes())
        build(source, rx_json, side, resolution, folder)
        job.unlink()


def build_pair(source: Source, rx_json: str, side: str, short_side: str, resolution: float, folder: str) -> dict[str, dict]:
    """Left and right inserts (the lift under ``short_side``) into ``folder``; returns side -> report.

    ``side``: the side the uploaded outline is (its mirror makes the other)."""
    from .. import api, prescription

    folder_path = Path(folder)
    rx = prescription.Prescription.model_validate_json(rx_json)
    outline = load_outline(source, side, folder_path)
    left, right = api.build_pair(short_side, rx, outline=outline, resolution=resolution)
    return {"left": _write_insert(left, folder_path, "insert-left"), "right": _write_insert(right, folder_path, "insert-right")}


def mesh_format(folder: str, stem: str, suffix: str) -> None:
    """Write ``<stem><suffix>`` (.glb or .3mf) from the mesh a build kept."""
    import numpy as np

    from .. import export

    kept = np.load(Path(folder) / f"{stem}.{MESH_KEEP}")
    export.write_mesh(Path(folder) / f"{stem}{suffix}", kept["vertices"], kept["faces"])


def mill(folder: str, stem: str, options: dict[str, Any], out_name: str) -> dict[str, Any]:
    """Write ``out_name``, the 3-axis G-code of the insert ``stem`` (branch cam's mill_program with
    ``options``, MillOptions fields); returns the toolpath report (time, scallop, clearance)."""
    import hashlib

    import numpy as np

    from .. import export
    from ..fabrication.mill import MillOptions, mill_program

    root = Path(folder)
    kept = np.load(root / f"{stem}.{MESH_KEEP}")
    try:
        chosen = MillOptions(**options)
    except TypeError as exc:
        raise InputError(f"milling options: {exc}") from None
    sha = hashlib.sha256((root / f"{stem}.stl").read_bytes()).hexdigest()
    text, report = mill_program(kept["vertices"], kept["faces"], chosen, f"{stem}.stl", sha)
    export.write_bytes(root / out_name, text.encode())
    return report


def _unpack(upload: Upload, into: Path) -> None:
    """Unzip ``upload`` into ``into``: plain relative names only, size and count limited."""
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(upload.data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, ValueError) as exc:
        raise InputError(f"{upload.name}: not a zip file ({exc}); zip the manifest and its outline files") from None
    if len(members) > MAX_BATCH_ENTRIES:
        raise InputError(f"{upload.name}: {len(members)} files is too many for a batch (limit {MAX_BATCH_ENTRIES})")
    if sum(m.file_size for m in members) > MAX_BATCH_UNZIPPED:
        raise InputError(f"{upload.name}: unzips to more than {MAX_BATCH_UNZIPPED // 2**20} MiB; send fewer or smaller files")
    for member in members:
        parts = member.filename.replace("\\", "/").split("/")
        if member.filename.startswith(("/", "\\")) or ":" in parts[0] or any(p in ("", ".", "..") for p in parts):
            raise InputError(f"{upload.name}: '{member.filename}' is not a plain relative name; zip the folder itself")
        target = into.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as src:
            data = src.read(MAX_BATCH_UNZIPPED + 1)
        if len(data) != member.file_size:  # a header that lies about the size
            raise InputError(f"{upload.name}: '{member.filename}' is damaged (size differs from its header)")
        target.write_bytes(data)


def _manifest_in(upload: Upload, folder: Path) -> Path:
    manifests = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".csv", ".jsonl", ".ndjson") and p.name != "batch-summary.csv")
    # outlines may be CSV too: the manifest is the CSV with an 'id' column, nearest the top
    candidates = [p for p in manifests if p.suffix.lower() != ".csv" or "id" in _csv_header(p)]
    if not candidates:
        raise InputError(f"{upload.name}: no manifest (.csv or .jsonl with an 'id' column) in the zip")
    candidates.sort(key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    return candidates[0]


def _csv_header(path: Path) -> list[str]:
    head = path.read_text(encoding="utf-8-sig", errors="replace").split("\n", 1)[0]
    return [cell.strip() for cell in re.split(r"[,;\t]", head)]


def _check_rows(rows: list[dict[str, Any]], base: Path, shown: str) -> None:
    """Only files inside the zip and bundled profiles: no manifest cell reaches the server's files."""
    from ..prescription import profile_names

    for number, row in enumerate(rows, start=1):
        outline = str(row.get("outline") or "")
        if outline:
            inside = (base / outline).resolve()
            if Path(outline).is_absolute() or not inside.is_relative_to(base.resolve()):
                raise InputError(f"{shown}: row {number}: outline '{outline}' is outside the zip; give a path inside it")
        profile = row.get("profile")
        if profile and profile not in profile_names():
            raise InputError(f"{shown}: row {number}: profile '{profile}' is not bundled; use one of {', '.join(profile_names())}")


def batch(upload: Upload, folder: str) -> dict[str, Any]:
    """Every row of the zipped manifest; ``batch.zip`` (meshes, reports, summary) in ``folder``."""
    from .. import batch as batches

    root = Path(folder)
    unpacked, out = root / "in", root / "out"
    _unpack(upload, unpacked)
    manifest = _manifest_in(upload, unpacked)
    shown = f"{upload.name}: {manifest.relative_to(unpacked).as_posix()}"
    try:
        rows = batches.read_manifest(manifest)
        _check_rows(rows, manifest.parent, shown)
        results = batches.run(manifest, out, jobs=1)
    except InputError as exc:
        raise InputError(str(exc).replace(str(manifest), shown)) from None
    with zipfile.ZipFile(root / "batch.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(out.iterdir()):
            archive.write(path, path.name)
    for r in results:  # errors name files as the zip has them
        r["error"] = r["error"].replace(str(unpacked) + "/", "")
    return {"summary": results, "counts": {s: sum(r["status"] == s for r in results) for s in ("built", "skipped", "failed")}}
