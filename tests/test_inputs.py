"""Bad input ends in exit 2, one stderr line, no traceback, no output file; real outlines build."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import (
    footprint,
    load,
    needs_feet,
    real_outlines,
    report_of,
    run,
    to_output_frame,
    write_csv,
)
from shapely.geometry import Polygon

from insolegen.template import builtin_points

GOOD = builtin_points()


def _rotated(points, angle_deg=37.0, shift=(412.0, -88.0)):
    a = np.radians(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return points @ rot.T + shift


BAD_OUTLINES = {
    "self_crossing.csv": "x,y\n0,0\n250,100\n250,0\n0,100\n",
    "too_few.csv": "x,y\n0,0\n250,0\n0,0\n",
    "nan.csv": "x,y\n0,0\n250,0\nnan,90\n0,100\n",
    "empty.csv": "",
    "garbage.csv": "hello world\nthis is, not an outline\n",
    "binary.csv": b"\x00\x01\x02PK\x03\x04" * 50,
    "latin1.csv": "x,y\n0,0\n250,0\n250,100\n0,100\n\xe9\xe8".encode("latin-1"),
    "cm_as_mm.csv": "x,y\n" + "".join(f"{x / 10},{y / 10}\n" for x, y in GOOD),
    "open.csv": "x,y\n" + "".join(f"{x},{y}\n" for x, y in GOOD[: len(GOOD) // 2]),
    "bad.json": '{"units": "mm", "points": [[0, 0], [1, "a"]]}',
    "badunits.json": json.dumps({"units": "furlong", "points": GOOD.tolist()}),
    "outline.xyz": "0 0\n",
    "square.csv": "x,y\n0,0\n200,0\n200,200\n0,200\n",  # a plausible length, but not the shape of a foot
    "strip.csv": "x,y\n0,0\n260,0\n260,40\n0,40\n",
}


@pytest.mark.parametrize("name", sorted(BAD_OUTLINES))
def test_bad_outline_files(tmp_path, capsys, name):
    path = tmp_path / name
    data = BAD_OUTLINES[name]
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    out = tmp_path / "out" / "x.stl"
    code, _, err = run(["build", "--outline", path, "-o", out], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert name in err or "units" in err
    assert not out.exists() and not out.with_name("x.report.json").exists()


@pytest.mark.parametrize("args, needle", [
    (["--outline", "missing.csv"], "not found"),
    (["--set", "arch.height_mm=40"], "arch.height_mm"),
    (["--set", "arch.height_mm=high"], "arch.height_mm"),
    (["--set", "arch.colour=red"], "arch.colour"),
    (["--set", "noequals"], "KEY=VALUE"),
    (["--side", "middle"], "side"),
    (["--units", "furlong"], "units"),
    (["--resolution", "0.01"], "resolution"),
    (["--profile", "no_such_profile"], "no_such_profile"),
    (["--foot-length", "20"], "foot-length"),
    (["--met-pad", "--set", "met_pad.height_mm=10", "--set", "met_pad.width_mm=18"], "met_pad.height_mm"),
    (["--set", "shell.thickness_mm=2", "--set", "shell.min_thickness_mm=3"], "shell.thickness_mm"),
    (["--set", "shell.length=half"], "shell.length"),
    (["-o", "x.docx"], "format"),
    (["--pair"], "--short-side"),
])
def test_bad_arguments(tmp_path, capsys, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["build", *args], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert needle in err
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").iterdir())


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run(["build", "-o", blocker / "x.stl"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_bad_profile_file_names_the_field(tmp_path, capsys):
    profile = tmp_path / "rx.toml"
    profile.write_text("[arch]\nheight_mm = '12'\n")
    code, _, err = run(["build", "--profile", profile, "-o", tmp_path / "x.stl"], capsys)
    assert code == 2 and "arch.height_mm" in err and str(profile) in err
    profile.write_text("[arch]\nheigth_mm = 12.0\n")
    code, _, err = run(["build", "--profile", profile, "-o", tmp_path / "x.stl"], capsys)
    assert code == 2 and "heigth_mm" in err


def test_command_line_exit_status_without_traceback(tmp_path):
    """The installed console script, as a pipeline calls it."""
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n0,0\n1,1\n")
    proc = subprocess.run([sys.executable, "-m", "insolegen.cli", "build", "--outline", str(bad), "-o", str(tmp_path / "x.stl")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("side", ["left", "right"])
def test_csv_in_any_position_matches_outline(tmp_path, capsys, side):
    pts = _rotated(GOOD * [1, 1 if side == "right" else -1])
    src = write_csv(tmp_path / "foot.csv", pts)
    out = tmp_path / f"{side}.stl"
    code, _, err = run(["build", "--outline", src, "--side", side, "-o", out], capsys)
    assert code == 0, err
    rep = report_of(out)
    rim = footprint(load(out))
    assert rim.hausdorff_distance(Polygon(to_output_frame(pts, rep))) <= 0.2
    assert load(out).bounds[0, 0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("units, factor", [("cm", 0.1), ("in", 1 / 25.4)])
def test_units(tmp_path, capsys, units, factor):
    src = write_csv(tmp_path / "foot.csv", GOOD * factor)
    out = tmp_path / "u.stl"
    assert run(["build", "--outline", src, "--units", units, "-o", out], capsys)[0] == 0
    assert load(out).bounds[1, 0] == pytest.approx(265.0, abs=0.5)


def test_json_units_win(tmp_path, capsys):
    src = tmp_path / "foot.json"
    src.write_text(json.dumps({"units": "cm", "points": (GOOD / 10).tolist()}))
    out = tmp_path / "j.stl"
    assert run(["build", "--outline", src, "--units", "mm", "-o", out], capsys)[0] == 0
    assert load(out).bounds[1, 0] == pytest.approx(265.0, abs=0.5)


@needs_feet
@pytest.mark.parametrize("name", sorted(real_outlines()) or ["none"])
def test_real_outlines_build_valid_inserts(tmp_path, capsys, name):
    pts = real_outlines()[name]
    src = write_csv(tmp_path / f"{name}.csv", _rotated(pts, 123.0, (-40.0, 700.0)))
    out = tmp_path / "real.stl"
    code, _, err = run(["build", "--outline", src, "--side", "left", "--leg-length-offset", "6", "--met-pad",
                        "--arch-height", "12", "-o", out], capsys)
    assert code == 0, err
    mesh = load(out)
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.body_count == 1 and mesh.volume > 0
    rep = report_of(out)
    assert rep["qa"]["manifold3d"] == "NoError" and rep["qa"]["millable_from_above"]
    rim = footprint(mesh)
    assert rim.hausdorff_distance(Polygon(to_output_frame(src_points(src), rep))) <= 0.2
    assert rep["qa"]["as_built"]["heel_lift_mm"] == pytest.approx(6.0, abs=0.05)
    assert rep["qa"]["as_built"]["arch"]["height_mm"] == pytest.approx(12.0, abs=0.1)


def src_points(path):
    return np.loadtxt(path, delimiter=",", skiprows=1)


@needs_feet
def test_builtin_outline_looks_like_real_feet():
    from shapely import affinity

    from insolegen.outline import from_points
    from insolegen.template import builtin

    for name, pts in real_outlines().items():
        if name.startswith("emed"):
            continue  # a pressure footprint, no insole outline
        real = from_points(pts, "mm", "left", name)
        ours = builtin(real.length_mm, real.width_mm, "left").polygon
        ours = affinity.translate(ours, 0, real.polygon.centroid.y - ours.centroid.y)
        iou = real.polygon.intersection(ours).area / real.polygon.union(ours).area
        assert iou > 0.84, name
        assert real.apparent_side() == "left", name


@pytest.mark.parametrize("units, factor", [("Millimeters", 1.0), ("inches", 1 / 25.4), ("centimetre", 0.1)])
def test_unit_words_in_files(tmp_path, capsys, units, factor):
    src = tmp_path / "foot.json"
    src.write_text(json.dumps({"units": units, "points": (GOOD * factor).tolist()}))
    out = tmp_path / "w.stl"
    assert run(["build", "--outline", src, "-o", out], capsys)[0] == 0
    assert load(out).bounds[1, 0] == pytest.approx(265.0, abs=0.5)


@pytest.mark.parametrize("text, line", [("\n\nx,y\n1,2\nfoo,3\n", 5), ("# traced\nx,y\n1,2\n\n3,4\nfoo,3\n", 6),
                                        ("\r\n1,2\r\n3,4\r\n5;6;x\r\n", 4)])
def test_a_bad_csv_row_is_named_by_its_line(tmp_path, capsys, text, line):
    src = tmp_path / "rows.csv"
    src.write_bytes(text.encode())
    code, _, err = run(["build", "--outline", src, "-o", tmp_path / "x.stl"], capsys)
    assert code == 2 and f"line {line} is not an x,y pair" in err
