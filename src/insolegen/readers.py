"""Outline files -> rings of points in the file's units. One reader per format, chosen by suffix.

Each reader returns ``(rings, units)``: rings a list of (n, 2) float arrays (one per closed
outline in the file; curves already flattened), units a name from
:data:`insolegen.outline.UNIT_MM` when the file says so, else None (``--units`` decides).
XML entities are refused before parsing and nothing a file refers to is ever fetched.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import InputError
from .outline import unit_name

MAX_FILE_BYTES = 64 * 1024 * 1024  # an outline, even a dense scanner trace, is far smaller
MAX_POINTS = 2_000_000  # about 0.1 um apart on a foot outline: more is not an outline
FLATTEN = 2e-5  # curve flattening tolerance as a share of the drawing's size: 0.005 mm on a foot


def _text(path: Path, data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise InputError(f"{path}: this is a binary file, not a text outline; give CSV, JSON, GeoJSON, SVG or DXF")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; save the outline as UTF-8 CSV or JSON") from None


Rings = list[np.ndarray]


def _first_line(exc: Exception) -> str:
    """A parser's complaint, kept to one line (the error message is one line)."""
    return str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__


def read_csv(path: Path, data: bytes) -> tuple[Rings, str | None]:
    """x,y per row, separated by commas, semicolons, tabs or spaces; with semicolons or tabs a
    comma is a decimal point (as spreadsheets write numbers in much of Europe). An optional
    header may name the x and y columns and their units ("id,x,y", "x_mm;y_mm", "X (cm)").
    Lines starting with # are comments; a blank line between rows starts another ring (a
    footprint's separate contact patches)."""
    blocks = _blocks(_text(path, data))
    if not blocks:
        raise InputError(f"{path}: no x,y rows found; give one point per row as x,y")
    columns, units = (0, 1), None
    if not _is_data(blocks[0][1][0]):
        columns, units = _header(path, blocks[0][1][0])
        numbers, lines = blocks[0]
        blocks = [b for b in [(numbers[1:], lines[1:]), *blocks[1:]] if b[1]]
        if not blocks:
            raise InputError(f"{path}: a header and no x,y rows; give one point per row under it")
    sep, decimal_comma = _separator(blocks[0][1][0])
    return [_rows(path, numbers, lines, columns, sep, decimal_comma) for numbers, lines in blocks], units


Block = tuple[Sequence[int], list[str]]  # (line numbers counted from 1, the lines)
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")


def _blocks(text: str) -> list[Block]:
    """The rows of a CSV text in runs that blank lines separate, comments left out."""
    text = text.replace("\r\n", "\n")
    body = text.strip()
    if body and "#" not in body and "\r" not in body and not _BLANK_LINE.search(body):
        # One run, no comments (every scanner export): no need to look at the lines one by one.
        lines = body.split("\n")
        first = text[: len(text) - len(text.lstrip())].count("\n") + 1
        return [(range(first, first + len(lines)), lines)]
    blocks: list[tuple[list[int], list[str]]] = [([], [])]
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            if blocks[-1][1]:
                blocks.append(([], []))
        elif not line.lstrip().startswith("#"):
            blocks[-1][0].append(number)
            blocks[-1][1].append(line)
    return [b for b in blocks if b[1]]


_AXIS = re.compile(r"^([xy])(?:[\W_]*(mm|cm|in|inch|inches|m|ft|millimet\w*|centimet\w*))?[\W_]*$", re.IGNORECASE)


def _separator(line: str) -> tuple[str | None, bool]:
    """The cell separator of ``line`` (None: runs of spaces) and whether its commas are decimal points."""
    sep = next((s for s in ("\t", ";", ",") if s in line), None)
    return sep, sep in ("\t", ";") and "," in line


def _cells(line: str, sep: str | None, decimal_comma: bool) -> list[str]:
    if decimal_comma:
        line = line.replace(",", ".")
    return [c.strip().strip("\"'") for c in (line.split(sep) if sep else line.split())]


def _is_data(line: str) -> bool:
    """Whether ``line`` holds at least two numbers (else it is a header)."""
    count = 0
    for cell in _cells(line, *_separator(line)):
        try:
            float(cell)
            count += 1
        except ValueError:
            pass
    return count >= 2


def _header(path: Path, line: str) -> tuple[tuple[int, int], str | None]:
    """(x column, y column) named in a header line, and the units it gives them (or None)."""
    axes = {}
    for k, cell in enumerate(_cells(line, _separator(line)[0], False)):
        match = _AXIS.match(cell)
        if match and match[1].lower() not in axes:
            axes[match[1].lower()] = (k, match[2])
    if set(axes) != {"x", "y"}:
        return (0, 1), None  # a header that names no x and y: the first two columns
    units = {axes["x"][1] and unit_name(axes["x"][1], str(path)), axes["y"][1] and unit_name(axes["y"][1], str(path))}
    if len(units) > 1:
        raise InputError(f"{path}: the header gives x and y different units ({line.strip()!r}); give both in the same unit")
    return (axes["x"][0], axes["y"][0]), units.pop() or None


def _rows(path: Path, numbers: Sequence[int], lines: list[str], columns: tuple[int, int], sep: str | None,
          decimal_comma: bool) -> np.ndarray:
    """(n, 2) float: the x and y ``columns`` of each line (``numbers``: their line numbers)."""
    fast = _plain_numbers(lines, sep, decimal_comma)
    if fast is not None and fast.shape[1] > max(columns):
        return fast[:, columns]
    rows = []
    for number, text in zip(numbers, lines):
        try:
            cells = [c for c in _cells(text, sep, decimal_comma) if c]
            rows.append([float(cells[columns[0]]), float(cells[columns[1]])])
        except (ValueError, IndexError):
            raise InputError(f"{path}: line {number} is not an x,y pair of numbers ({text.strip()!r})") from None
    return np.array(rows, dtype=float)


def _plain_numbers(lines: list[str], sep: str | None, decimal_comma: bool) -> np.ndarray | None:
    """(n, k) float from lines of k numbers each, parsed in one go; None when they are not that.

    Scanner exports run to a million rows: parsing cell by cell would take seconds over them.
    """
    text = "\n".join(lines)
    if decimal_comma:
        text = text.replace(",", ".")
    if sep:
        text = text.replace(sep, " ")
    width = len(lines[0].split(sep) if sep else lines[0].split())
    try:
        values = np.array(text.split(), dtype=float)
    except ValueError:
        return None
    return values.reshape(-1, width) if len(values) == width * len(lines) else None


def read_json(path: Path, data: bytes) -> tuple[Rings, str | None]:
    """``{"units": "mm", "points": [[x, y], ...]}`` (or ``"unit"``, or points as ``{"x": .., "y": ..}``,
    or the bare list of points); GeoJSON (Multi)Polygon or closed LineString, Feature or collection."""
    try:
        doc = json.loads(_text(path, data))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); give {{\"units\": \"mm\", \"points\": [[x, y], ...]}}") from None
    except RecursionError:
        raise InputError(f"{path}: the JSON is nested too deeply to be an outline; give {{\"units\": \"mm\", \"points\": [[x, y], ...]}}") from None
    if isinstance(doc, list):
        doc = {"points": doc}
    if isinstance(doc, dict) and "type" in doc:
        return _geojson(path, doc), doc.get("units") if isinstance(doc.get("units"), str) else None
    if not isinstance(doc, dict) or "points" not in doc:
        raise InputError(f"{path}: expected a JSON object with a 'points' list of [x, y] pairs")
    units = doc.get("units", doc.get("unit"))
    if units is not None and not isinstance(units, str):
        raise InputError(f"{path}: 'units' must be a string such as \"mm\", got {units!r}")
    return [_pairs(path, doc["points"])], units


def _pairs(path: Path, value) -> np.ndarray:
    if isinstance(value, list) and value and all(isinstance(p, dict) for p in value):
        value = [[p.get("x"), p.get("y")] for p in value]
    try:
        pts = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{path}: the points must be [x, y] pairs of numbers") from None
    if pts.ndim != 2 or pts.shape[1] < 2 or len(pts) == 0:
        raise InputError(f"{path}: the points must be a list of [x, y] pairs, got shape {pts.shape}")
    return pts[:, :2]


def _geojson(path: Path, doc: dict) -> Rings:
    """The outer ring of every Polygon (holes are not part of a foot outline)."""
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise InputError(f"{path}: the FeatureCollection has no 'features' list")
        rings = [r for f in features if isinstance(f, dict) for r in _geojson(path, f.get("geometry") or {})]
        if not rings:
            raise InputError(f"{path}: the FeatureCollection holds no Polygon; give the foot outline as a Polygon")
        return rings
    if kind == "Feature":
        return _geojson(path, doc.get("geometry") or {})
    coords = doc.get("coordinates")
    # A closed line traced round the foot is a ring as much as a Polygon's outer ring is.
    if kind == "Polygon":
        polygons = [coords]
    elif kind == "LineString":
        polygons = [[coords]]
    elif kind == "MultiLineString" and isinstance(coords, list):
        polygons = [[line] for line in coords]
    elif kind in ("MultiPolygon", "MultiLineString"):
        polygons = coords
    else:
        raise InputError(f"{path}: GeoJSON type {kind!r} is not an outline; give a Polygon")
    if not isinstance(polygons, list) or not all(isinstance(p, list) and p for p in polygons) or not polygons:
        raise InputError(f"{path}: the {kind} has no coordinates; give [[[x, y], ...]]")
    return [_pairs(path, p[0]) for p in polygons]


_SVG_LENGTH = re.compile(r"^\s*([-+0-9.eE]+)\s*(mm|cm|in|pt|pc|px|q)?\s*$", re.IGNORECASE)


def read_svg(path: Path, data: bytes) -> tuple[Rings, str | None]:
    """Every closed shape of an SVG, y turned to point up; mm when width/height carry units."""
    from svgelements import SVG, Move, Shape
    from svgelements import Path as SvgPath

    text = _text(path, data)
    if "<!ENTITY" in text:
        raise InputError(f"{path}: the SVG declares XML entities, which insolegen never expands; save it without a DOCTYPE")
    try:
        # ppi 25.4: one svgelements pixel is one millimetre, so physical widths come out in mm.
        svg = SVG.parse(io.BytesIO(text.encode()), ppi=25.4, on_error="raise")
    except Exception as exc:  # the XML parser and svgelements raise many kinds
        raise InputError(f"{path}: not a readable SVG ({_first_line(exc)})") from None
    units = _svg_units(svg.values.get("width"), svg.values.get("height"))
    # User units are CSS pixels (1/96 in) unless a viewBox maps them onto a physical width.
    scale = 25.4 / 96 if units == "px" or (units and not svg.values.get("viewBox")) else 1.0
    rings = []
    for element in svg.elements():
        if not isinstance(element, Shape):
            continue
        for sub in SvgPath(element).as_subpaths():
            segments = [seg for seg in SvgPath(sub) if not isinstance(seg, Move)]
            if segments:
                rings.append(_flatten_svg(segments) * [scale, -scale])
    if not rings:
        raise InputError(f"{path}: the SVG holds no path or shape; draw the outline as one closed path")
    return rings, ("mm" if units else None)


def _svg_units(width, height) -> str | None:
    """'mm' for absolute CSS units, 'px' for px, None for unitless or missing sizes."""
    found = [_SVG_LENGTH.match(str(v)) for v in (width, height) if v is not None]
    if not found or not all(found) or not all(m.group(2) for m in found):
        return None
    return "px" if all(m.group(2).lower() == "px" for m in found) else "mm"


def _flatten_svg(segments) -> np.ndarray:
    """(n, 2) points along the segments, curves sampled within :data:`FLATTEN` of the drawing size."""
    probes = [np.asarray(seg.npoint(np.linspace(0, 1, 17)), dtype=float) for seg in segments]
    allp = np.concatenate(probes)
    step = max(float(np.ptp(allp, axis=0).max()), 1e-9) * FLATTEN * 40  # chord error ~ step^2 / 8R
    out = []
    for seg, probe in zip(segments, probes):
        if type(seg).__name__ in ("Line", "Close"):
            out.append(probe[:1])
            continue
        length = float(np.linalg.norm(np.diff(probe, axis=0), axis=1).sum())
        n = int(min(max(8, np.ceil(length / step)), 100_000))
        out.append(np.asarray(seg.npoint(np.linspace(0, 1, n + 1)[:-1]), dtype=float))
    return np.concatenate(out)


DXF_UNITS = {1: "in", 2: "ft", 4: "mm", 5: "cm", 6: "m"}  # $INSUNITS codes


def read_dxf(path: Path, data: bytes) -> tuple[Rings, str | None]:
    """Every LWPOLYLINE, POLYLINE (2D, or 3D seen from above) and SPLINE in model space (blocks
    inserted there included), and every closed chain of LINE, ARC and ELLIPSE edges; units from
    $INSUNITS."""
    import ezdxf
    from ezdxf import recover

    try:
        doc, _ = recover.read(io.BytesIO(data))
    except Exception as exc:  # ezdxf raises DXFStructureError and plain I/O errors for junk
        raise InputError(f"{path}: not a readable DXF ({_first_line(exc)})") from None
    entities = list(_drawn(doc.modelspace()))
    try:
        rings = [_flatten_dxf(e) for e in entities if e.dxftype() in ("LWPOLYLINE", "SPLINE")
                 or (e.dxftype() == "POLYLINE" and (e.is_2d_polyline or e.is_3d_polyline))]
        rings += _edge_loops([e for e in entities if e.dxftype() in ("LINE", "ARC", "ELLIPSE")])
    except (ezdxf.DXFError, ValueError, ZeroDivisionError, AttributeError, IndexError) as exc:
        raise InputError(f"{path}: a curve in the DXF cannot be read ({exc}); save the outline as one closed polyline") from None
    rings = [r for r in rings if len(r) >= 2]
    if not rings:
        raise InputError(f"{path}: the DXF holds no outline (no polyline, spline or closed chain of lines and arcs); "
                         "draw the outline as one closed polyline")
    return rings, DXF_UNITS.get(doc.header.get("$INSUNITS", 0))


def _drawn(space, depth: int = 0):
    """The entities of a layout, each INSERT replaced by its block's entities (8 levels at most)."""
    for entity in space:
        if entity.dxftype() == "INSERT":
            if depth < 8:
                yield from _drawn(entity.virtual_entities(), depth + 1)
        else:
            yield entity


def _flatten_dxf(entity) -> np.ndarray:
    from ezdxf import path as dxfpath

    outline = dxfpath.make_path(entity)
    corners = np.array([(v.x, v.y) for v in outline.control_vertices()], dtype=float).reshape(-1, 2)
    if len(corners) < 2:
        return corners
    tolerance = max(float(np.ptp(corners, axis=0).max()), 1e-9) * FLATTEN
    return np.array([(v.x, v.y) for v in outline.flattening(tolerance)], dtype=float)


def _edge_loops(entities: list) -> Rings:
    """Closed chains of LINE/ARC/ELLIPSE edges (an outline drawn piece by piece), flattened."""
    if not entities:
        return []
    from ezdxf import bbox, edgeminer, edgesmith

    box = bbox.extents(entities)
    gap = max(float(max(box.size.x, box.size.y)), 1e-9) * 1e-5  # 0.003 mm on a foot: joins what CAD meant to join
    deposit = edgeminer.Deposit(list(edgesmith.edges_from_entities_2d(entities, gap_tol=gap)), gap_tol=gap)
    loops = [c for c in edgeminer.find_all_simple_chains(deposit) if edgeminer.is_loop(c, gap_tol=gap)]
    rings = []
    for chain in loops:
        outline = edgesmith.path2d_from_chain(chain)
        rings.append(np.array([(v.x, v.y) for v in outline.flattening(max(box.size.x, box.size.y) * FLATTEN)], dtype=float))
    return rings


_SENSOR = re.compile(r"Sensor size:\s*([0-9.,]+)\s*x\s*([0-9.,]+)\s*(mm|cm)")


def read_emed(path: Path, data: bytes) -> tuple[Rings, str | None]:
    """A novel emed pressure-plate ASCII export (.lst): the outline of every sensor that saw pressure
    in any frame, one ring per contact patch, in mm. The table is read as printed (row 1 at the top),
    as seen from above. A footprint: build it with ``--outline-kind footprint``.
    """
    text = data.decode("latin-1")  # the export writes "cm²" in Latin-1
    size = _SENSOR.search(text)
    if size is None or b"\x00" in data[:4096]:
        raise InputError(f"{path}: not a novel emed export (no 'Sensor size: AxB cm' line); export the plate as ASCII .lst")
    # German installations write decimal commas: "0,500x0,500 cm", "12,50"
    dx, dy = (float(size.group(i).replace(",", ".")) * (10.0 if size.group(3) == "cm" else 1.0) for i in (1, 2))
    touched: set[tuple[int, int]] = set()  # (row, column) of every sensor that saw pressure
    columns: list[int] = []
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[-1] == "Force" and all(c.isdigit() for c in cells[:-1]):
            columns = [int(c) for c in cells[:-1]]
        elif cells and cells[0].isdigit() and columns:
            for col, value in zip(columns, cells[1:1 + len(columns)]):
                try:
                    pressure = float(value.replace(",", "."))
                except ValueError:
                    raise InputError(f"{path}: row {cells[0]} holds {value!r}, not a pressure; give the plain ASCII export") from None
                if pressure > 0:
                    touched.add((int(cells[0]), col))
    if not touched:
        raise InputError(f"{path}: no sensor saw pressure; give the export of a step on the plate")
    import shapely

    area = shapely.union_all([shapely.box(c * dx, -(r + 1) * dy, (c + 1) * dx, -r * dy) for r, c in sorted(touched)])
    return [np.asarray(g.exterior.coords)[:-1] for g in getattr(area, "geoms", [area])], "mm"


READERS = {".csv": read_csv, ".txt": read_csv, ".tsv": read_csv, ".json": read_json, ".geojson": read_json, ".svg": read_svg, ".dxf": read_dxf, ".lst": read_emed}


def read_input(path: Path, what: str, limit: int) -> bytes:
    """The bytes of an input file (an outline, a pressure recording: ``what``), or one line naming
    the file and what is wrong: missing, a folder, unreadable, or larger than ``limit`` bytes."""
    try:
        if path.stat().st_size > limit:
            raise InputError(f"{path}: {path.stat().st_size} bytes is too large for {_article(what)} {what} (limit {limit // 2**20} MiB)")
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: {what} file not found; check the path") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder; give {_article(what)} {what} file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror})") from None


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def read(path: str | Path) -> tuple[Rings, str | None, str]:
    """(rings, units or None, sha256 of the file) from an outline file of any known format."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"{path}: unknown outline format '{path.suffix}'; use one of {', '.join(sorted(READERS))}")
    data = read_input(path, "outline", MAX_FILE_BYTES)
    rings, units = reader(path, data)
    if sum(len(r) for r in rings) > MAX_POINTS:
        raise InputError(f"{path}: {sum(len(r) for r in rings)} points is too many for an outline (limit {MAX_POINTS}); thin the scan first")
    return rings, units, hashlib.sha256(data).hexdigest()
