"""Outline files -> points in the file's units. One reader per format, chosen by suffix.

Each reader returns ``(points, units)``: points (n, 2) float, units a name from
:data:`insolegen.outline.UNIT_MM` when the file says so, else None (``--units`` decides).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import numpy as np

from .errors import InputError

MAX_FILE_BYTES = 64 * 1024 * 1024  # an outline, even a dense scanner trace, is far smaller


def _text(path: Path, data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise InputError(f"{path}: this is a binary file, not a text outline; give CSV, JSON, GeoJSON, SVG or DXF")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; save the outline as UTF-8 CSV or JSON") from None


def read_csv(path: Path, data: bytes) -> tuple[np.ndarray, str | None]:
    """x,y per row; an optional header; lines starting with # are comments."""
    rows = []
    lines = [ln for ln in _text(path, data).splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t ") if lines else csv.excel
    for number, row in enumerate(csv.reader(io.StringIO("\n".join(lines)), dialect), start=1):
        cells = [c.strip() for c in row if c.strip()]
        try:
            rows.append([float(cells[0]), float(cells[1])])
        except (ValueError, IndexError):
            if number == 1:
                continue  # header
            raise InputError(f"{path}: row {number} is not an x,y pair of numbers ({','.join(row)!r})") from None
    if not rows:
        raise InputError(f"{path}: no x,y rows found; give one point per row as x,y")
    return np.array(rows, dtype=float), None


def read_json(path: Path, data: bytes) -> tuple[np.ndarray, str | None]:
    """``{"units": "mm", "points": [[x, y], ...]}``; GeoJSON Polygon geometry, Feature or collection."""
    try:
        doc = json.loads(_text(path, data))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); give {{\"units\": \"mm\", \"points\": [[x, y], ...]}}") from None
    if isinstance(doc, dict) and "type" in doc:
        return _geojson(path, doc), doc.get("units") if isinstance(doc.get("units"), str) else None
    if not isinstance(doc, dict) or "points" not in doc:
        raise InputError(f"{path}: expected a JSON object with a 'points' list of [x, y] pairs")
    units = doc.get("units")
    if units is not None and not isinstance(units, str):
        raise InputError(f"{path}: 'units' must be a string such as \"mm\", got {units!r}")
    return _pairs(path, doc["points"]), units


def _pairs(path: Path, value) -> np.ndarray:
    try:
        pts = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{path}: the points must be [x, y] pairs of numbers") from None
    if pts.ndim != 2 or pts.shape[1] < 2 or len(pts) == 0:
        raise InputError(f"{path}: the points must be a list of [x, y] pairs, got shape {pts.shape}")
    return pts[:, :2]


def _geojson(path: Path, doc: dict) -> np.ndarray:
    kind = doc.get("type")
    if kind == "FeatureCollection":
        polys = [f.get("geometry") for f in doc.get("features", []) if isinstance(f, dict)]
        polys = [g for g in polys if isinstance(g, dict) and g.get("type") == "Polygon"]
        if len(polys) != 1:
            raise InputError(f"{path}: the FeatureCollection holds {len(polys)} Polygons; give exactly one foot outline")
        return _geojson(path, polys[0])
    if kind == "Feature":
        return _geojson(path, doc.get("geometry") or {})
    if kind != "Polygon":
        raise InputError(f"{path}: GeoJSON type {kind!r} is not an outline; give a Polygon")
    rings = doc.get("coordinates")
    if not isinstance(rings, list) or not rings:
        raise InputError(f"{path}: the Polygon has no coordinates")
    return _pairs(path, rings[0])


READERS = {".csv": read_csv, ".txt": read_csv, ".json": read_json, ".geojson": read_json}


def read(path: str | Path) -> tuple[np.ndarray, str | None, str]:
    """(points, units or None, sha256 of the file) from an outline file of any known format."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"{path}: unknown outline format '{path.suffix}'; use one of {', '.join(sorted(READERS))}")
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{path}: {path.stat().st_size} bytes is too large for an outline (limit {MAX_FILE_BYTES // 2**20} MiB)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: outline file not found; check the path") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder; give an outline file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the outline ({exc.strerror})") from None
    points, units = reader(path, data)
    return points, units, hashlib.sha256(data).hexdigest()
