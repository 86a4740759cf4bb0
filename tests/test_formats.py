"""Every outline format, in every unit, anywhere on the page, gives the insert the CSV in mm gives."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import footprint, load, real_outlines, report_of, run, to_output_frame
from outline_files import MM, WRITERS, write_csv
from shapely.geometry import Polygon

from insolegen.template import builtin_points

OUTLINES = {name: pts for name, pts in real_outlines().items() if not name.startswith("emed")} or {"builtin": builtin_points()}
NAMES = sorted(OUTLINES)


def _placed(pts: np.ndarray, seed: int) -> np.ndarray:
    """The outline turned and moved somewhere on the page, as a tracing tablet might leave it."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 2 * np.pi)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return pts @ rot.T + rng.uniform(-500, 500, 2)


def _build(tmp_path, capsys, src, extra, stem):
    out = tmp_path / f"{stem}.stl"
    code, _, err = run(["build", "--outline", src, "--side", "left", "--resolution", "2", "-q", "-o", out, *extra], capsys)
    assert code == 0, err
    return out


@pytest.mark.parametrize("units", ["mm", "cm", "in"])
@pytest.mark.parametrize("suffix", sorted(WRITERS))
def test_format_and_units_give_the_csv_insert(tmp_path, capsys, suffix, units):
    index = sorted(WRITERS).index(suffix) * 3 + list(MM).index(units)
    name = NAMES[index % len(NAMES)]
    pts = _placed(OUTLINES[name], index)
    ref = _build(tmp_path, capsys, tmp_path / "ref.csv", write_csv(tmp_path / "ref.csv", pts, "mm"), "ref")
    src = tmp_path / f"foot{suffix}"
    out = _build(tmp_path, capsys, src, WRITERS[suffix](src, pts, units), "foot")
    ours, theirs = footprint(load(out)), footprint(load(ref))
    assert ours.hausdorff_distance(theirs) <= 0.2, name
    # The recorded transform maps the file's own coordinates onto the footprint.
    if suffix != ".svg":  # SVG user units also carry the viewBox and group transform
        assert ours.hausdorff_distance(Polygon(to_output_frame(pts / MM[units], report_of(out)))) <= 0.2
    assert load(out).volume == pytest.approx(load(ref).volume, rel=1e-3)
    assert report_of(out)["qa"]["manifold3d"] == "NoError"


def _bezier_outline() -> tuple[str, np.ndarray]:
    """An SVG path of cubic Beziers (Catmull-Rom through 24 outline points) and its true curve, mm."""
    knots = builtin_points()[:: max(1, len(builtin_points()) // 24)]
    prev, nxt, after = np.roll(knots, 1, 0), np.roll(knots, -1, 0), np.roll(knots, -2, 0)
    c1, c2 = knots + (nxt - prev) / 6, nxt - (after - knots) / 6
    t = np.linspace(0, 1, 400, endpoint=False)[:, None, None]
    curve = ((1 - t) ** 3 * knots + 3 * (1 - t) ** 2 * t * c1 + 3 * (1 - t) * t**2 * c2 + t**3 * nxt).transpose(1, 0, 2).reshape(-1, 2)
    d = f"M {float(knots[0, 0])!r},{-float(knots[0, 1])!r} " + " ".join(
        f"C {a[0]!r},{-a[1]!r} {b[0]!r},{-b[1]!r} {c[0]!r},{-c[1]!r}" for a, b, c in zip(c1.tolist(), c2.tolist(), nxt.tolist())) + " Z"
    return d, curve


def test_svg_curves_are_flattened_within_tolerance(tmp_path, capsys):
    d, curve = _bezier_outline()
    src = tmp_path / "curves.svg"
    src.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="300mm" height="150mm" viewBox="-10 -75 300 150">'
                   f'<path d="{d}"/></svg>')
    out = _build(tmp_path, capsys, src, [], "curves")
    page = curve + [10, -75]  # the reader's frame: mm from the viewBox origin, y up
    assert footprint(load(out)).hausdorff_distance(Polygon(to_output_frame(page, report_of(out)))) <= 0.2


@pytest.mark.parametrize("entity", ["SPLINE", "POLYLINE", "POLYLINE3D"])
def test_dxf_spline_and_polyline(tmp_path, capsys, entity):
    import ezdxf

    doc = ezdxf.new()
    doc.header["$INSUNITS"] = 5  # cm
    pts = builtin_points()[::6] / 10
    if entity == "SPLINE":
        tool = doc.modelspace().add_spline_control_frame(np.vstack([pts, pts[:1]]).tolist()).construction_tool()
        curve = np.array([(v.x, v.y) for v in tool.points(np.linspace(0, tool.max_t, 20000))])
    elif entity == "POLYLINE":
        doc.modelspace().add_polyline2d(pts.tolist(), close=True)
        curve = pts
    else:  # a 3D polyline on the drawing plane, as some CAD programs export every polyline
        doc.modelspace().add_polyline3d(np.c_[pts, np.full(len(pts), 1.5)].tolist(), close=True)
        curve = pts
    src = tmp_path / "foot.dxf"
    doc.saveas(src)
    out = _build(tmp_path, capsys, src, ["--units", "in"], "dxf")  # $INSUNITS wins over --units
    assert load(out).bounds[1, 0] == pytest.approx(np.ptp(curve[:, 0]) * 10, abs=1.0)
    assert footprint(load(out)).hausdorff_distance(Polygon(to_output_frame(curve, report_of(out)))) <= 0.2


def test_svg_pixels_and_unitless(tmp_path, capsys):
    pts = builtin_points()
    d = "M " + " L ".join(f"{x!r},{-y!r}" for x, y in pts.tolist()) + " Z"
    px = tmp_path / "px.svg"
    scale = 96 / 25.4
    px.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="{300 * scale}px" height="{150 * scale}px" '
                  f'viewBox="0 -75 300 150"><path d="{d}"/></svg>')
    bare = tmp_path / "bare.svg"
    bare.write_text(f'<svg xmlns="http://www.w3.org/2000/svg"><path transform="scale(0.1)" d="{d}"/></svg>')
    assert load(_build(tmp_path, capsys, px, [], "px")).bounds[1, 0] == pytest.approx(265.0, abs=0.05)
    assert load(_build(tmp_path, capsys, bare, ["--units", "cm"], "bare")).bounds[1, 0] == pytest.approx(265.0, abs=0.05)


def test_dense_noisy_scan_is_thinned_within_tolerance(tmp_path, capsys):
    """A scanner trace of 400,000 points with 0.01 mm jitter builds, footprint within 0.2 mm."""
    pts = builtin_points()
    closed = np.vstack([pts, pts[:1]])
    seg = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    s = np.r_[0, np.cumsum(seg)]
    t = np.linspace(0, s[-1], 400_000, endpoint=False)
    dense = np.c_[np.interp(t, s, closed[:, 0]), np.interp(t, s, closed[:, 1])]
    dense += np.random.default_rng(3).normal(0, 0.01, dense.shape)
    src = tmp_path / "scan.json"
    src.write_text(json.dumps({"units": "mm", "points": dense.round(4).tolist()}))
    out = _build(tmp_path, capsys, src, [], "scan")
    rim = footprint(load(out))
    assert len(rim.exterior.coords) < 20_000
    assert rim.hausdorff_distance(Polygon(to_output_frame(dense[::50], report_of(out)))) <= 0.2


def test_dxf_lines_and_arcs_in_a_block(tmp_path, capsys):
    """An outline drawn piece by piece (LINEs, an ARC round the heel) inside a block, inserted."""
    import ezdxf

    doc = ezdxf.new()
    doc.header["$INSUNITS"] = 4
    block = doc.blocks.new("FOOT")
    toe = builtin_points()
    body = toe[toe[:, 0] > 40]  # the outline in front of the heel, as straight pieces
    for a, b in zip(body[:-1], body[1:]):
        block.add_line(a.tolist(), b.tolist())
    # Close behind with a half circle through the heel, drawn from the last point back to the first.
    (x1, y1), (x0, y0) = body[-1], body[0]
    centre, radius = ((x0 + x1) / 2, (y0 + y1) / 2), abs(y0 - y1) / 2
    block.add_line(body[-1].tolist(), (centre[0], centre[1] + radius * np.sign(y1 - y0)))
    block.add_line((centre[0], centre[1] - radius * np.sign(y1 - y0)), body[0].tolist())
    block.add_arc(centre, radius, 90, 270)
    doc.modelspace().add_blockref("FOOT", (500, 200), dxfattribs={"rotation": 30})
    src = tmp_path / "pieces.dxf"
    doc.saveas(src)
    out = _build(tmp_path, capsys, src, [], "pieces")
    mesh = load(out)
    assert mesh.is_watertight and report_of(out)["qa"]["manifold3d"] == "NoError"
    assert 240 < mesh.bounds[1, 0] < 270


@pytest.mark.parametrize("suffix", sorted(WRITERS))
def test_every_real_outline_reads_alike_in_every_format(tmp_path, suffix):
    """Every real outline, written in this format in a unit and a position of its own, loads as
    the same outline (output frame) as its CSV in mm; the full builds are checked above."""
    from insolegen import api

    for n, (name, pts) in enumerate(sorted(real_outlines().items()) or [("builtin", builtin_points())]):
        placed = _placed(pts, 100 + n)
        units = list(MM)[n % 3]
        write_csv(tmp_path / "ref.csv", placed, "mm")
        ref = api.load_outline(tmp_path / "ref.csv")
        src = tmp_path / f"{n}{suffix}"
        extra = WRITERS[suffix](src, placed, units)
        ours = api.load_outline(src, units=extra[1] if extra else None)
        assert ours.polygon.hausdorff_distance(ref.polygon) <= 0.2, name


def test_svg_without_viewbox_is_in_css_pixels(tmp_path, capsys):
    """width/height in mm but no viewBox: the path's user units are CSS pixels, as a browser draws it."""
    pts = builtin_points() * 96 / 25.4  # mm -> px
    d = "M " + " L ".join(f"{x!r},{-y + 400!r}" for x, y in pts.tolist()) + " Z"
    src = tmp_path / "px.svg"
    src.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="300mm" height="150mm"><path d="{d}"/></svg>')
    assert load(_build(tmp_path, capsys, src, [], "nobox")).bounds[1, 0] == pytest.approx(265.0, abs=0.05)


def _dialect(pts: np.ndarray, header: str, sep: str, decimal: str = ".", extra: str = "") -> str:
    cells = [[f"{v:.6f}".replace(".", decimal) for v in row] for row in pts.tolist()]
    return "".join(f"{line}\n" for line in [header, *(sep.join(c) + extra for c in cells)] if line)


CSV_DIALECTS = {  # name: (text from the outline in mm, --units); the file's own units must win
    "semicolon_decimal_comma": (lambda p: _dialect(p, "x;y", ";", ","), "mm"),
    "tab_decimal_comma_cm": (lambda p: _dialect(p / 10, "X [cm]\tY [cm]", "\t", ","), "mm"),
    "spaces_no_header": (lambda p: _dialect(p, "", "  "), "mm"),
    "index_column_first": (lambda p: _dialect(np.c_[np.arange(len(p)), p], "id,x,y", ","), "mm"),
    "y_column_first_inches": (lambda p: _dialect(p[:, ::-1] / 25.4, "y_in,x_in", ","), "cm"),
    "scanner_xyz_trailing_comma": (lambda p: _dialect(np.c_[p, np.zeros(len(p))], "x,y,z,", ",", ".", ","), "mm"),
    "quoted": (lambda p: _dialect(p, '"x","y"', '","').replace("\n", '"\n').replace('\n"x', '\n"x'), "mm"),
}


@pytest.mark.parametrize("name", sorted(CSV_DIALECTS))
def test_csv_dialects_read_as_the_plain_csv(tmp_path, name):
    """CSV as spreadsheets (decimal commas), tracing tablets and scanners write it: columns found
    by the header's names, units taken from it, else the first two columns in --units."""
    from insolegen import api

    pts = _placed(builtin_points(), 7)
    write_csv(tmp_path / "ref.csv", pts, "mm")
    ref = api.load_outline(tmp_path / "ref.csv")
    text, units = CSV_DIALECTS[name]
    src = tmp_path / f"{name}.tsv"
    src.write_text(text(pts))
    ours = api.load_outline(src, units=units)
    assert ours.polygon.hausdorff_distance(ref.polygon) <= 0.01, name


JSON_VARIANTS = {  # name: (suffix, document from the outline in mm, --units)
    "bare_list": (".json", lambda p: p.tolist(), "mm"),
    "unit_key_cm": (".json", lambda p: {"unit": "cm", "points": (p / 10).tolist()}, "in"),
    "xy_objects": (".json", lambda p: {"units": "mm", "points": [{"x": x, "y": y} for x, y in p.tolist()]}, "mm"),
    "closed_linestring": (".geojson", lambda p: {"type": "LineString", "coordinates": np.vstack([p, p[:1]]).tolist()}, "mm"),
    "multilinestring_feature": (".geojson", lambda p: {"type": "Feature", "properties": {}, "geometry": {
        "type": "MultiLineString", "coordinates": [np.vstack([p, p[:1]]).tolist()]}}, "mm"),
}


@pytest.mark.parametrize("name", sorted(JSON_VARIANTS))
def test_json_variants_read_as_the_plain_csv(tmp_path, name):
    from insolegen import api

    pts = _placed(builtin_points(), 11)
    write_csv(tmp_path / "ref.csv", pts, "mm")
    suffix, doc, units = JSON_VARIANTS[name]
    src = tmp_path / f"{name}{suffix}"
    src.write_text(json.dumps(doc(pts)))
    ours = api.load_outline(src, units=units)
    assert ours.polygon.hausdorff_distance(api.load_outline(tmp_path / "ref.csv").polygon) <= 1e-6, name
