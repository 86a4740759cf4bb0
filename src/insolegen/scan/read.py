"""Foot scan files -> :class:`RawScan`: points (and faces) in the file's units, checked, units decided.

Meshes: STL (ASCII and binary), OBJ, PLY (ASCII and binary). Point clouds: PLY without faces,
XYZ, CSV or TXT with x, y, z columns. A scan holds one foot: small loose pieces (scanner debris,
the plate's edge) are left out with a note; two bodies of similar size (two feet) are refused.
Every refusal is an :class:`InputError` naming the file, what is wrong and what would be right.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..arrays import column_max, column_min, row_norms
from ..errors import InputError
from ..outline import MAX_LENGTH_MM, MIN_LENGTH_MM, UNIT_MM, unit_name

MAX_SCAN_BYTES = 1 << 30  # 1 GiB: a 2-million-face binary STL is 100 MB, its ASCII twin about 500 MB
MIN_POINTS = 500  # fewer samples than this cannot show a heel, an arch and a ball apart
SCAN_UNITS = ("mm", "cm", "m", "in")  # what --scan-units accepts besides auto
TYPICAL_FOOT_MM = 260.0  # an adult foot; breaks the tie when two units both give a plausible foot
LINK_SHARE = 0.015  # points closer than 1.5 % of the scan's size (4 mm on a foot) belong to one body
SAME_BODY_SHARE = 0.5  # a second body at least half the size of the largest: which one is the foot?
FORMATS = {".stl": "stl", ".obj": "obj", ".ply": "ply", ".xyz": "xyz", ".csv": "csv", ".txt": "csv", ".pts": "xyz"}
_STL_RECORD = np.dtype([("normal", "<f4", (3,)), ("v", "<f4", (3, 3)), ("attr", "<u2")])


@dataclass(frozen=True)
class RawScan:
    """A foot scan as read, one body, before any pose is found.

    points: (n, 3) float64, in the file's units (``units``; times ``mm_per_unit`` gives mm).
    faces: (f, 3) int64 indices into points (triangles; polygons fan-triangulated), or None for
    a point cloud.
    sha256: of the file's bytes. source: the file's path as given. format: stl, obj, ply, xyz or csv.
    notes: one line each for the report (units chosen and why, pieces left out).
    """

    points: np.ndarray
    faces: np.ndarray | None
    sha256: str
    source: str
    format: str
    units: str
    mm_per_unit: float
    notes: tuple[str, ...] = ()

    @property
    def is_mesh(self) -> bool:
        return self.faces is not None


def read_scan(path: str | Path, units: str = "auto") -> RawScan:
    """Read a foot scan file, keep its foot (the one large body) and decide its units.

    units: ``auto`` (from the foot's size) or one of mm, cm, m, in (wins over auto).
    Raises :class:`InputError` (one line naming the file) for a missing, empty, oversized,
    truncated or garbled file, fewer than MIN_POINTS points, non-finite coordinates, two feet,
    or a size that no unit makes a foot.
    """
    path = Path(path)
    src = str(path)
    if units != "auto":
        units = unit_name(units, f"{src}: --scan-units")
        if units not in SCAN_UNITS:
            raise InputError(f"{src}: --scan-units {units} is not offered; use auto, {', '.join(SCAN_UNITS)}")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"{src}: unknown scan format '{path.suffix}'; give STL, OBJ, PLY, XYZ or CSV (x,y,z)")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{src}: cannot read the scan ({exc.strerror or exc}); check the path") from None
    if size > MAX_SCAN_BYTES:
        raise InputError(f"{src}: the scan is {size / 2**20:.0f} MB, over the {MAX_SCAN_BYTES >> 20} MB limit; decimate it first")
    if size == 0:
        raise InputError(f"{src}: the scan file is empty; give an STL, OBJ, PLY, XYZ or CSV scan of one foot")
    data = path.read_bytes()
    notes: list[str] = []
    points, faces = _READERS[fmt](src, data, notes)
    points, faces = _checked(src, points, faces)
    points, faces = _one_body(src, points, faces, notes)
    units, factor = _units(src, points, units, notes)
    return RawScan(points, faces, hashlib.sha256(data).hexdigest(), src, fmt, units, factor, tuple(notes))


# ---- formats -----------------------------------------------------------------------------------


def _read_stl(src: str, data: bytes, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Binary STL when the size fits the header's triangle count, else ASCII when it says so."""
    count = int(np.frombuffer(data, "<u4", 1, 80)[0]) if len(data) >= 84 else -1
    if count >= 0 and len(data) == 84 + _STL_RECORD.itemsize * count:
        return _stl_binary(src, data, count)
    head = data[:512].lstrip().lower()
    if head.startswith(b"solid") and (b"facet" in head or b"endsolid" in head):
        return _stl_ascii(src, data)
    if count < 0:
        raise InputError(f"{src}: {len(data)} bytes are too short for an STL (a binary STL has an 84-byte header)")
    held = (len(data) - 84) // _STL_RECORD.itemsize
    if count > held:  # checked before any allocation: a header may claim billions
        raise InputError(
            f"{src}: truncated binary STL: the header claims {count:,} triangles, the file holds {held:,}; export the scan again"
        )
    notes.append(f"{src}: {len(data) - 84 - count * _STL_RECORD.itemsize} bytes after the last triangle were ignored")
    return _stl_binary(src, data, count)


def _stl_binary(src: str, data: bytes, count: int) -> tuple[np.ndarray, np.ndarray]:
    corners = np.frombuffer(data, _STL_RECORD, count, 84)["v"].reshape(-1, 3)
    return _merge_corners(corners)


_STL_VERTEX = re.compile(rb"vertex[ \t]+(\S+)[ \t]+(\S+)[ \t]+(\S+)", re.I)
_CHUNK_BYTES = 1 << 24  # ASCII read 16 MB at a time: a list of every number of a 500 MB file would not fit


def _stl_ascii(src: str, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    parts, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start + _CHUNK_BYTES)
        end = len(data) if end < 0 else end
        try:
            parts.append(np.array(_STL_VERTEX.findall(data, start, end), dtype=float).reshape(-1, 3))
        except ValueError:
            raise InputError(f"{src}: ASCII STL with a vertex line that is not three numbers; export the scan again") from None
        start = end
    corners = np.concatenate(parts)
    if len(corners) == 0 or len(corners) % 3:
        raise InputError(f"{src}: ASCII STL with {len(corners)} vertex lines, not 3 per facet; export the scan again")
    return _merge_corners(corners)


def _merge_corners(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """STL corners (3f, 3) -> shared vertices (n, 3) float64 and faces (f, 3): equal coordinates
    are one vertex (compared bit for bit, after turning -0.0 into 0.0)."""
    corners = np.ascontiguousarray(corners + corners.dtype.type(0))
    bits = corners.view(np.uint32 if corners.dtype.itemsize == 4 else np.uint64).astype(np.uint64)
    # One 64-bit key per corner sorts far faster than 12-byte records; equal keys of unequal
    # corners (odds about 1e-7 for two million faces) are caught below and sorted exactly.
    key = bits[:, 0] * np.uint64(0x9E3779B97F4A7C15) ^ bits[:, 1] * np.uint64(0xC2B2AE3D27D4EB4F) ^ bits[:, 2]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    if not np.array_equal(corners[first][inverse.ravel()], corners):
        _, first, inverse = np.unique(corners, axis=0, return_index=True, return_inverse=True)
    return corners[first].astype(np.float64), inverse.reshape(-1, 3).astype(np.int64)


_OBJ_VERTEX = re.compile(rb"^v[ \t]+(\S+)[ \t]+(\S+)[ \t]+(\S+)", re.M)
_OBJ_FACE = re.compile(rb"^f[ \t]+([^\r\n]*)", re.M)
_OBJ_TRIANGLE = re.compile(rb"^f[ \t]+(-?\d+)[/\d]*[ \t]+(-?\d+)[/\d]*[ \t]+(-?\d+)[/\d]*[ \t]*\r?$", re.M)


def _read_obj(src: str, data: bytes, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """``v`` and ``f`` lines; ``f`` corners may be v, v/vt, v//vn or v/vt/vn, negative indices
    count back from the last vertex; polygons are fan-triangulated; other lines are ignored."""
    try:
        points = np.array(_OBJ_VERTEX.findall(data), dtype=float).reshape(-1, 3)
    except ValueError:
        raise InputError(f"{src}: an OBJ 'v' line that is not three numbers; export the scan again") from None
    lines = _OBJ_FACE.findall(data)
    if not lines:
        return points, None
    simple = _OBJ_TRIANGLE.findall(data)
    if len(simple) == len(lines):  # all triangles (most scanners): no loop over the faces
        faces = np.array(simple, dtype=np.int64)
        return points, np.where(faces < 0, faces + len(points), faces - 1)
    triangles: list[tuple[int, int, int]] = []
    for number, line in enumerate(lines):
        try:
            corner = [int(t.split(b"/", 1)[0]) for t in line.split()]
        except ValueError:
            raise InputError(f"{src}: OBJ face {number + 1} has a corner that is not a vertex number ({line[:40]!r})") from None
        if len(corner) < 3:
            raise InputError(f"{src}: OBJ face {number + 1} has {len(corner)} corners; a face needs 3 or more")
        triangles.extend((corner[0], corner[k], corner[k + 1]) for k in range(1, len(corner) - 1))
    faces = np.array(triangles, dtype=np.int64)
    faces = np.where(faces < 0, faces + len(points), faces - 1)  # 1-based; -1 is the last vertex
    return points, faces


_PLY_SIZES = {"char": 1, "uchar": 1, "int8": 1, "uint8": 1, "short": 2, "ushort": 2, "int16": 2, "uint16": 2,
              "int": 4, "uint": 4, "int32": 4, "uint32": 4, "float": 4, "float32": 4, "double": 8, "float64": 8}


def _read_ply(src: str, data: bytes, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """PLY through trimesh's reader, after its header is checked against the file's size (a
    header may claim more than the file holds, and a short ASCII body is not an error there)."""
    from trimesh.exchange.ply import load_ply

    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise InputError(f"{src}: not a PLY file (no 'ply' ... 'end_header' header); export the scan again")
    body = len(data) - data.index(b"\n", end) - 1 if b"\n" in data[end:] else 0
    counts, least = _ply_elements(src, data[:end].decode("ascii", "replace"))
    binary = b"binary" in data[: data.index(b"\n") + 64]
    if binary and least > body:
        raise InputError(f"{src}: truncated PLY: its header needs at least {least:,} bytes of data, the file holds {body:,}")
    try:
        loaded = load_ply(io.BytesIO(data))
        points = np.asarray(loaded.get("vertices", np.zeros((0, 3))), dtype=float).reshape(-1, 3)
        faces = loaded.get("faces")
        faces = None if faces is None or len(faces) == 0 else np.asarray(faces, dtype=np.int64)
    except Exception as exc:  # trimesh raises many kinds on garbage; each means the same to the user
        raise InputError(f"{src}: unreadable PLY ({_first_line(exc)}); export the scan again") from None
    if len(points) != counts.get("vertex", 0) or (faces is not None and len(faces) < counts.get("face", 0)):
        raise InputError(f"{src}: truncated PLY: the header promises {counts.get('vertex', 0):,} vertices, the file holds fewer")
    if faces is not None and faces.ndim != 2:
        raise InputError(f"{src}: PLY faces of mixed corner counts; export triangles")
    return points, faces


def _ply_elements(src: str, header: str) -> tuple[dict[str, int], int]:
    """Element counts, and the fewest data bytes a binary body with them can hold."""
    counts: dict[str, int] = {}
    least, element, size = 0, "", 0
    for line in header.splitlines():
        word = line.split()
        if word[:1] == ["element"] and len(word) == 3:
            least += counts.get(element, 0) * size
            element, size = word[1], 0
            try:
                counts[element] = int(word[2])
            except ValueError:
                raise InputError(f"{src}: PLY element '{element}' has a count that is not a number ({word[2]})") from None
        elif word[:1] == ["property"] and len(word) >= 3:
            size += _PLY_SIZES.get(word[2] if word[1] == "list" else word[1], 1)  # a list holds at least its count
    least += counts.get(element, 0) * size
    return counts, least


def _read_text_points(src: str, data: bytes, notes: list[str]) -> tuple[np.ndarray, None]:
    """x y z per row (XYZ, CSV, TXT): commas, semicolons, tabs or spaces between columns (with
    semicolons, commas are decimal points); lines starting with # or // are comments; an
    optional header names the x, y and z columns; further columns (normals, colours) are
    ignored. Parsed by numpy's C reader: no Python object per number, however long the file."""
    if b"\x00" in data[:4096]:
        raise InputError(f"{src}: a binary file, not a text point cloud; give x,y,z rows or a PLY")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{src}: not UTF-8 text; save the point cloud as UTF-8 x,y,z rows") from None
    head = text[:65536].replace("\r\n", "\n").replace("\r", "\n").split("\n")
    at = next((i for i, ln in enumerate(head) if ln.strip() and not ln.lstrip().startswith(("#", "//"))), None)
    if at is None:
        raise InputError(f"{src}: no x,y,z rows; give one point per row as x,y,z")
    first = head[at]
    sep = ";" if ";" in first else "," if "," in first else None
    columns, skip = [0, 1, 2], 0
    if not re.match(r"^\s*[-+.0-9]", first):
        names = [n.strip().strip('"').lower() for n in first.split(sep)]
        columns = [next((i for i, n in enumerate(names) if re.match(rf"^{axis}\b|^{axis}_", n)), -1) for axis in "xyz"]
        if min(columns) < 0:
            raise InputError(f"{src}: the header {first[:60]!r} names no x, y and z columns; name them x,y,z")
        skip = at + 1
    if sep == ";":
        text = text.replace(",", ".")
    try:
        table = np.loadtxt(io.StringIO(text), delimiter=sep, comments=("#", "//"), skiprows=skip, usecols=columns, ndmin=2)
    except (ValueError, IndexError) as exc:
        raise InputError(f"{src}: {_first_line(exc).rstrip('.')}; give x,y,z numbers on every row") from None
    return table.reshape(-1, 3), None


_READERS = {"stl": _read_stl, "obj": _read_obj, "ply": _read_ply, "xyz": _read_text_points, "csv": _read_text_points}


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc).strip() else type(exc).__name__


# ---- checks ------------------------------------------------------------------------------------


def _checked(src: str, points: np.ndarray, faces: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Finite points, faces in range, only the vertices that faces use; at least MIN_POINTS."""
    if len(points) == 0:
        raise InputError(f"{src}: the scan holds no points; give a scan of one foot")
    if not np.isfinite(points).all():
        row = int(np.argwhere(~np.isfinite(points))[0, 0])
        raise InputError(f"{src}: point {row + 1} is not a finite number ({points[row].tolist()}); the scan is corrupt, export it again")
    if faces is not None:
        if faces.min() < 0 or faces.max() >= len(points):
            raise InputError(f"{src}: a face refers to vertex {int(faces.max()) + 1} of {len(points)}; the mesh is corrupt, export it again")
        if np.count_nonzero(np.bincount(faces.ravel(), minlength=len(points))) < len(points):  # unused vertices
            used, faces = np.unique(faces, return_inverse=True)
            points, faces = points[used], faces.reshape(-1, 3)
    if len(points) < MIN_POINTS:
        raise InputError(f"{src}: only {len(points)} points; a foot scan needs at least {MIN_POINTS} (export it at a finer resolution)")
    return points, faces


def _one_body(src: str, points: np.ndarray, faces: np.ndarray | None, notes: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """The foot: the largest body (points linked closer than LINK_SHARE of the scan's size, or
    than a mesh's longest edges); small pieces go with a note, a second large body is refused."""
    from scipy import ndimage

    lo = column_min(points)
    span = column_max(points) - lo
    link = LINK_SHARE * float(span.max())
    if faces is not None:
        some = faces[:: max(1, len(faces) // 200_000)]  # the edge lengths' tail needs no more
        edges = row_norms(points[some[:, 1]] - points[some[:, 0]])
        link = max(link, 1.01 * float(np.percentile(edges, 99.9)))
    else:  # a sparse cloud: its points lie further apart than on a mesh's finest edges
        from scipy.spatial import cKDTree

        gaps, _ = cKDTree(points).query(points[:: max(1, len(points) // 2000)], k=2)
        link = max(link, 3.0 * float(np.median(gaps[:, 1])))
    if link <= 0:
        raise InputError(f"{src}: every point of the scan is the same point; give a scan of one foot")
    cell = np.floor((points - lo) / link).astype(np.int64)
    grid = np.zeros(column_max(cell) + 1, dtype=bool)
    grid[tuple(cell.T)] = True
    labels, count = ndimage.label(grid, structure=np.ones((3, 3, 3)))
    if count == 1:
        return points, faces
    body = labels[tuple(cell.T)]
    share = np.bincount(body, minlength=count + 1)[1:] / len(points)
    order = np.argsort(share)[::-1]
    if share[order[1]] >= SAME_BODY_SHARE * share[order[0]]:
        raise InputError(
            f"{src}: the scan holds {count} separate bodies, the two largest of similar size "
            f"({100 * share[order[0]]:.0f} % and {100 * share[order[1]]:.0f} % of the points); give one foot per file"
        )
    keep = body == order[0] + 1
    notes.append(f"{count - 1} loose piece(s) apart from the foot left out ({100 * (1 - share[order[0]]):.1f} % of the points)")
    if faces is None:
        return points[keep], None
    faces = faces[keep[faces].all(axis=1)]
    used, faces = np.unique(faces, return_inverse=True)
    return points[used], faces.reshape(-1, 3)


def foot_length(points: np.ndarray) -> float:
    """The longest extent of a point set along its principal axes, in its own units.

    points: (n, 3) float. A foot's length (with a lower leg, its longest diagonal at most)."""
    sample = points[:: max(1, len(points) // 20000)]
    centred = sample - sample.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return float(np.ptp(points @ axes[0]))


def _units(src: str, points: np.ndarray, units: str, notes: list[str]) -> tuple[str, float]:
    """Units given, or the one that makes the scan a foot 100-400 mm long (nearest a typical
    adult foot when two do: 12 in or 12 cm)."""
    length = foot_length(points)
    fits = [u for u in SCAN_UNITS if MIN_LENGTH_MM <= length * UNIT_MM[u] <= MAX_LENGTH_MM]
    if units != "auto":
        mm = length * UNIT_MM[units]
        if units not in fits:
            hint = f"; pass --scan-units {fits[0]} if the file is in {fits[0]}" if fits else "; check the scan's scale"
            raise InputError(
                f"{src}: the scan is {mm:.4g} mm long in {units}, not a foot ({MIN_LENGTH_MM:g}-{MAX_LENGTH_MM:g} mm){hint}"
            )
        notes.append(f"units: {units} as given (the foot {mm:.0f} mm long)")
        return units, UNIT_MM[units]
    if not fits:
        raise InputError(
            f"{src}: the scan is {length:.4g} units long: in no unit (mm, cm, m, in) a foot of "
            f"{MIN_LENGTH_MM:g}-{MAX_LENGTH_MM:g} mm; check the scan, or pass --scan-units if it is a foot"
        )
    best = min(fits, key=lambda u: abs(np.log(length * UNIT_MM[u] / TYPICAL_FOOT_MM)))
    why = f"units: {best}, found from the size: {length:.4g} units long, a foot of {length * UNIT_MM[best]:.0f} mm in {best}"
    others = [f"{length * UNIT_MM[u]:.0f} mm in {u}" for u in fits if u != best]
    if others:
        why += f" (also possible: {', '.join(others)}; pass --scan-units to choose)"
    notes.append(why)
    return best, UNIT_MM[best]
