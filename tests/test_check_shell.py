"""`insolegen check` recognises a shell (a sheet standing clear of the ground, its two surfaces
parallel) and measures it along its normals, not vertically; a solid insert stays a solid."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run

from insolegen import export, triangulate
from insolegen.construct import solid

SHELL_POST = ["--set", "device.type=shell", "--set", "heel_cup.depth_mm=14", "--set", "shell.length=three_quarter",
              "--set", "post.rearfoot=extrinsic", "--set", "posting.rearfoot_deg=4", "--set", "posting.rearfoot_motion_deg=4"]
TILT = np.radians(30.0)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The usual shell (3 mm, 3/4, on a 4/4 extrinsic post), the same prescription as a solid, a
    plain 2 mm shell, a 3/4 shell on an intrinsic post, all by the command line; and a synthetic sheet: a 2.5 mm plate tilted 30
    degrees (vertically it is 2.5 / cos 30 = 2.887 mm thick)."""
    from insolegen.cli import main

    folder = tmp_path_factory.mktemp("check")
    out = {}
    for name, args in (("shell", SHELL_POST), ("solid", ["--set", "heel_cup.depth_mm=14"]),
                       ("thin", ["--set", "device.type=shell", "--set", "shell.thickness_mm=2"]),
                       ("intrinsic", [*SHELL_POST[:-6], "--set", "post.rearfoot=intrinsic", "--set", "posting.rearfoot_deg=4"])):
        out[name] = folder / f"{name}.stl"
        assert main(["build", "-q", "--resolution", "1.5", *args, "-o", str(out[name])]) == 0
    angle = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    ring = np.c_[60 + 55 * np.cos(angle), 35 * np.sin(angle)]
    points, triangles, rim = triangulate.triangulate(ring, 2.0)
    bottom = 5.0 + np.tan(TILT) * points[:, 0]
    vertices, faces = solid(points, triangles, rim, np.full(len(points), 2.5 / np.cos(TILT)), bottom)
    out["plate"] = export.write_mesh(folder / "plate.stl", vertices, faces)
    return out


def checked(path, capsys, *options) -> tuple[int, dict]:
    capsys.readouterr()  # what the test printed before
    try:
        code, out, _ = run(["check", path, "--json", *options], capsys)
    except SystemExit as exc:  # a failing check exits 4 from inside the command
        code, out = exc.code, capsys.readouterr().out
    return code, json.loads(out)


def test_a_shell_on_its_post_is_measured_along_the_normal(files, capsys):
    code, result = checked(files["shell"], capsys)
    nt = result["normal_thickness"]
    print(f"shell: {nt}; vertical {result['vertical_thickness_mm']}")
    assert code == 0 and result["device"] == "shell" and result["passed"]
    assert result["bodies"] == 2  # the sheet and its extrinsic post, touching
    assert nt["samples"] > 500 and nt["measured_along"] == "normal"
    assert 2.9 <= nt["p5_mm"] and nt["p95_mm"] <= 3.1 and abs(nt["p50_mm"] - 3.0) <= 0.05 and nt["min_mm"] >= 2.8
    assert result["min_thickness_mm"] == nt["min_mm"]
    assert result["vertical_thickness_mm"][1] > nt["p95_mm"] + 0.3  # vertically its walls read thicker


def test_an_intrinsic_post_is_not_counted_as_sheet(files, capsys):
    """One body: under the heel the post fills to the ground, and its bevel runs on under the arch;
    neither is the sheet's thickness."""
    code, result = checked(files["intrinsic"], capsys)
    nt = result["normal_thickness"]
    print(f"intrinsic: {nt}")
    assert code == 0 and result["device"] == "shell" and result["bodies"] == 1
    assert nt["samples"] > 500 and 2.9 <= nt["p5_mm"] and nt["p95_mm"] <= 3.1 and nt["min_mm"] >= 2.8


def test_a_solid_stays_a_solid(files, capsys):
    code, result = checked(files["solid"], capsys)
    assert code == 0 and result["device"] == "solid" and "normal_thickness" not in result
    assert result["millable_from_above"] and result["max_thickness_mm"] > 14.0


def test_a_thin_shell_fails_by_its_normal_thickness(files, capsys):
    code, result = checked(files["thin"], capsys, "--min-thickness", "1.8")
    nt = result["normal_thickness"]
    assert code == 0 and result["device"] == "shell" and abs(nt["p50_mm"] - 2.0) <= 0.05
    code, result = checked(files["thin"], capsys, "--min-thickness", "2.5")
    assert code == 4 and any("along the normal" in r for r in result["reasons"])


def test_a_tilted_plate_reads_its_normal_thickness_not_the_vertical(files, capsys):
    code, result = checked(files["plate"], capsys)
    nt = result["normal_thickness"]
    print(f"plate: {nt}; vertical {result['vertical_thickness_mm']}")
    assert result["device"] == "shell" and code == 0
    assert nt["min_mm"] == pytest.approx(2.5, abs=0.01) and nt["p95_mm"] == pytest.approx(2.5, abs=0.01)
    assert result["vertical_thickness_mm"][0] == pytest.approx(2.5 / np.cos(TILT), abs=0.01)
    code, result = checked(files["plate"], capsys, "--min-thickness", "2.7")  # vertically it would pass
    assert code == 4 and result["min_thickness_mm"] < 2.7 <= result["vertical_thickness_mm"][0]
