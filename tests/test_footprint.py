"""--outline-kind footprint: a pressure or ink footprint becomes a whole insole outline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from conftest import FEET, footprint, load, needs_feet, report_of, run, to_output_frame
from shapely.geometry import Point, Polygon

from insolegen.template import builtin_points


def _ink_footprint() -> tuple[list[Polygon], Polygon]:
    """Contact patches of a high-arched right foot (heel and ball joined by a lateral band, five toe
    prints apart from the ball), on a 5 mm sensor grid; and the foot outline they came from."""
    foot = Polygon(builtin_points())  # right foot: medial side +y
    arch_gap = shapely.box(0.25 * 265, -8, 0.66 * 265, 80)
    sole = foot.intersection(shapely.box(-1, -80, 0.78 * 265, 80)).difference(arch_gap)
    toes = [Point(x, y).buffer(r) for x, y, r in [(250, 22, 11), (238, 0, 7), (228, -13, 6.5), (217, -24, 6), (205, -32, 5.5)]]
    cells = [shapely.box(i * 5, j * 5, i * 5 + 5, j * 5 + 5) for i in range(-2, 60) for j in range(-20, 20)]
    patches = [c for c in cells if c.intersection(shapely.union_all([sole, *toes])).area > 12.5]  # a sensor sees > half
    merged = shapely.union_all(patches)
    return list(getattr(merged, "geoms", [merged])), foot


def _write(path, parts):
    rings = [np.asarray(p.exterior.coords).tolist() for p in parts]
    path.write_text(json.dumps({"type": "MultiPolygon", "coordinates": [[r] for r in rings]}))
    return path


def test_footprint_with_toe_prints_and_arch_gap(tmp_path, capsys):
    parts, foot = _ink_footprint()
    assert len(parts) >= 4  # toes apart from the ball, as the plate sees them
    src = _write(tmp_path / "print.geojson", parts)
    code, _, err = run(["build", "--outline", src, "-o", tmp_path / "plain.stl"], capsys)
    assert code == 2 and "--outline-kind footprint" in err
    out = tmp_path / "insole.stl"
    code, _, err = run(["build", "--outline", src, "--outline-kind", "footprint", "-o", out], capsys)
    assert code == 0, err
    mesh = load(out)
    assert mesh.is_watertight and mesh.body_count == 1
    rep = report_of(out)
    assert rep["input"]["kind"] == "footprint" and rep["qa"]["manifold3d"] == "NoError"
    rim = footprint(mesh)
    contact = shapely.union_all([Polygon(to_output_frame(np.asarray(p.exterior.coords), rep)) for p in parts])
    assert contact.difference(rim.buffer(0.2)).area < 1.0  # every contact patch is under the insole
    whole = Polygon(to_output_frame(np.asarray(foot.exterior.coords), rep))
    behind_toes = whole.intersection(shapely.box(-1, -100, 0.78 * 265, 100))  # toes: only what the prints show
    assert rim.intersection(behind_toes).area > 0.98 * behind_toes.area  # the arch gap is filled
    assert rim.area < 1.05 * whole.area  # and not much more than the foot
    assert rim.bounds[2] - rim.bounds[0] == pytest.approx(contact.bounds[2] - contact.bounds[0], abs=0.2)
    assert rep["qa"]["as_built"]["arch"]["height_mm"] == pytest.approx(rep["prescription"]["arch"]["height_mm"], abs=0.1)


@needs_feet
def test_real_pressure_plate_footprint(tmp_path, capsys):
    src = FEET / "emed" / "emed_test_footprint_outline_mm.csv"
    code, _, err = run(["build", "--outline", src, "--side", "left", "-o", tmp_path / "plain.stl"], capsys)
    assert code == 0 and "--outline-kind footprint" in err  # built, with a warning that it looks like a footprint
    out = tmp_path / "emed.stl"
    code, _, err = run(["build", "--outline", src, "--side", "left", "--outline-kind", "footprint", "-o", out], capsys)
    assert code == 0 and "warning" not in err, err
    mesh = load(out)
    assert mesh.is_watertight and mesh.body_count == 1
    rep = report_of(out)
    contact = Polygon(to_output_frame(np.loadtxt(src, delimiter=",", comments="#", skiprows=3), rep))
    rim = footprint(mesh)
    assert contact.difference(rim.buffer(0.2)).area < 1.0
    assert rim.area > 1.2 * contact.area  # the arch gap is filled


@needs_feet
def test_raw_emed_plate_export(tmp_path, capsys):
    """The plate's own ASCII export: every sensor that saw pressure, toe prints apart, read as printed."""
    from insolegen import readers

    src = FEET / "emed" / "emed_test.lst"
    patches, units, _ = readers.read(src)
    assert units == "mm" and len(patches) > 1
    code, _, err = run(["build", "--outline", src, "-o", tmp_path / "plain.stl"], capsys)
    assert code == 2 and "--outline-kind footprint" in err
    out = tmp_path / "plate.stl"
    code, _, err = run(["build", "--outline", src, "--outline-kind", "footprint", "--side", "right", "-o", out], capsys)
    assert code == 0 and "warning" not in err, err  # the shape agrees: a right foot
    rep = report_of(out)
    rim = footprint(load(out))
    contact = shapely.union_all([Polygon(to_output_frame(p, rep)) for p in patches])
    assert contact.difference(rim.buffer(0.2)).area < 1.0
    assert rim.bounds[2] == pytest.approx(contact.bounds[2] - contact.bounds[0], abs=0.5)  # the rounding shaves sensor corners


@needs_feet
def test_emed_export_with_decimal_commas(tmp_path):
    """The same export from a German installation: "0,500x0,500 cm", "12,50"."""
    from insolegen import readers

    src = FEET / "emed" / "emed_test.lst"
    german = tmp_path / "de.lst"
    german.write_bytes(src.read_bytes().replace(b".", b","))
    ours, units, _ = readers.read(german)
    theirs = readers.read(src)[0]
    assert units == "mm" and len(ours) == len(theirs)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs))


def test_csv_with_blank_line_separated_patches(tmp_path, capsys):
    """A footprint traced as several contours in one CSV, a blank line between them."""
    parts, _ = _ink_footprint()
    text = "x,y\n" + "\n".join("".join(f"{x},{y}\n" for x, y in np.asarray(p.exterior.coords)) for p in parts)
    src = tmp_path / "print.csv"
    src.write_text(text)
    code, _, err = run(["build", "--outline", src, "-o", tmp_path / "plain.stl"], capsys)
    assert code == 2 and f"{len(parts)} separate outlines" in err and "--outline-kind footprint" in err
    code, _, err = run(["build", "--outline", src, "--outline-kind", "footprint", "-o", tmp_path / "fp.stl"], capsys)
    assert code == 0, err


def test_stray_sensors_are_left_out_and_said(tmp_path, capsys):
    """Two sensors that fired far from the foot (noise, the other foot's edge) would drag the hull
    out to them: they are left out, with a warning and a note in the report; a cavus print's
    heel, a large patch apart from the ball, is kept."""
    parts, foot = _ink_footprint()
    cavus = shapely.union_all(parts).difference(shapely.box(0.25 * 265, -80, 0.66 * 265, 80))  # no lateral band
    cavus = list(cavus.geoms)
    strays = [shapely.box(120, 95, 125, 100), shapely.box(-40, -70, -35, -65)]
    src = _write(tmp_path / "noisy.geojson", cavus + strays)
    out = tmp_path / "clean.stl"
    code, _, err = run(["build", "--outline", src, "--outline-kind", "footprint", "-o", out], capsys)
    assert code == 0 and "2 small contact patches more than 25 mm" in err, err
    rep = report_of(out)
    assert any("stray" in w for w in rep["warnings"])
    ref = tmp_path / "ref.stl"
    assert run(["build", "--outline", _write(tmp_path / "quiet.geojson", cavus), "--outline-kind", "footprint", "-o", ref], capsys)[0] == 0
    assert footprint(load(out)).hausdorff_distance(footprint(load(ref))) <= 1e-6
    heel = Polygon(to_output_frame(np.asarray(foot.exterior.coords), rep)).intersection(shapely.box(-1, -100, 0.2 * 265, 100))
    assert footprint(load(out)).intersection(heel).area > 0.95 * heel.area
