"""The features together, end to end, on exported files: the lab form on a scan, zones on a scan
insert, milling a scan insert and an every-field insert, every profile on every kind of foot,
nested fields in a batch, shoe fit with lab fields, and random mixes of them all.

The measurements are the owning tests' own (imported, not copied): test_lab's B - B0 checks
run on the techmed3d scan, test_cam's G-code simulator on other inserts, test_zones' 3MF reader.
"""

from __future__ import annotations

import io
import tempfile
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_lab as lab
from conftest import (Builds, FEET, grid_inside, load, manifest_of, real_outlines, report_of, run, run_batch, top_at, top_change,
                      top_crease_deg, write_csv)
from test_cam import envelope, parse, tool_positions
from test_shoe import bottom_at
from test_zones import ZONES, needs_prusa, volumes_of, zone_figures

from insolegen.cli import main
from insolegen.prescription import Prescription, profile_names

TECHMED = FEET.parent / "scans" / "techmed3d_right_plantar.obj"
needs_scan = pytest.mark.skipif(not TECHMED.is_file(), reason="../shared/data/scans is absent")


class ScanCase(lab.Case):
    """test_lab's case, but the insert is molded to the techmed3d right plantar scan."""

    def __init__(self, root: Path):
        self.name, self.side, self.sign = "scan", "right", 1
        Builds.__init__(self, root, "scan", ["--scan", TECHMED])


@pytest.fixture(scope="module")
def scan_case(tmp_path_factory):
    return ScanCase(tmp_path_factory.mktemp("scan-lab"))


# --- the lab form on a scan -------------------------------------------------------------------

LAB_CHECKS = {
    "skive_medial": lab.test_skive_raises_the_medial_heel_and_leaves_the_forefoot,
    "skive_lateral": lab.test_lateral_skive_is_on_the_lateral_heel,
    "met_bar": lab.test_met_bar_is_behind_the_lesser_heads,
    "morton_extension": lab.test_morton_extension_raises_the_first_ray_only,
    "reverse_morton": lab.test_reverse_morton_raises_the_lesser_heads_and_frees_the_first,
    "first_ray_cutout": lab.test_first_ray_cutout_recess_under_the_first_head,
    "top_cover_toes": lambda case: lab.test_top_cover_is_a_uniform_layer(case, "toes"),
    "top_cover_sulcus": lambda case: lab.test_top_cover_is_a_uniform_layer(case, "sulcus"),
    "heel_lift_full_length": lab.test_full_length_lift_is_half_at_the_heads_and_to_the_toe,
}


@needs_scan
@pytest.mark.parametrize("check", LAB_CHECKS.values(), ids=LAB_CHECKS.keys())
def test_lab_field_on_a_scan(scan_case, check):
    """Each lab field's B - B0 on the scan insert: its height +-0.1 mm at its place, ~0 far away."""
    check(scan_case)


@needs_scan
def test_heel_lift_on_a_scan(scan_case):
    b0, b = scan_case.build(), scan_case.build("--set", "heel_lift.height_mm=6")
    mesh, m = lab.load(b0), lab.marks(b)
    xy = grid_inside(mesh, 1.5)
    d = top_change(b, b0, xy)
    heel = xy[:, 0] < m["heel_centre"][0] + 0.17 * mesh.bounds[1, 0]
    assert np.nanmax(np.abs(d[heel] - 6.0)) <= 0.05
    keep = Prescription().heel_lift.forefoot_fraction
    ahead = xy[:, 0] >= m["mtpj5"][0]
    assert np.nanmax(np.abs(d[ahead] - 6.0 * keep)) <= 0.05


@needs_scan
def test_met_pad_on_a_scan(scan_case):
    b0, b = scan_case.build(), scan_case.build("--met-pad")
    length = lab.load(b0).bounds[1, 0]
    top, at, xy, d = lab.extreme(b, b0, lambda xy: (xy[:, 0] > 0.4 * length) & (xy[:, 0] < 0.9 * length))
    pad = report_of(b)["qa"]["as_built"]["met_pad"]
    assert top == pytest.approx(Prescription().met_pad.height_mm, abs=0.1)
    assert np.linalg.norm(at - pad["at_xy_mm"]) <= 3.0
    assert pad["behind_met_line_mm"] == pytest.approx(Prescription().met_pad.offset_mm, abs=1.0)
    assert np.nanmax(np.abs(d[xy[:, 0] < 0.45 * length])) <= 1e-3  # the heel and arch untouched


@needs_scan
@pytest.mark.parametrize("args", [lab.ALL_ON_A, lab.ALL_ON_B], ids=["medial", "lateral"])
def test_every_lab_field_on_a_scan_is_watertight_and_smooth(tmp_path, capsys, args):
    """Every field near its greatest value on the scan at 0.5 mm: measured 8.95 degrees at most
    for both sets, at the scan's own toe crease (the lateral set creased 11.2 degrees, by the
    reverse Morton's, before the 1st ray's widening past the sulcus was spread over 12 % of the
    length instead of 8 %)."""
    from insolegen.qa import manifold_status

    path = tmp_path / "all.stl"
    code, _, err = run(["build", "--scan", TECHMED, *args, "--resolution", "0.5", "-o", path], capsys)
    assert code == 0, err
    mesh = load(path)
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.body_count == 1
    assert manifold_status(mesh.vertices, mesh.faces) == "NoError"
    assert top_crease_deg(mesh, cup_wall_mm=25.0) <= 10.0


# --- zones on a scan insert -------------------------------------------------------------------

@needs_scan
def test_scan_insert_with_zones_to_3mf(tmp_path, capsys):
    zoned, plain = tmp_path / "z.3mf", tmp_path / "p.stl"
    common = ["build", "--scan", TECHMED, "--resolution", "1.5", "--met-pad", "--set", "skive.medial_mm=3"]
    zones = ["--set", "zones.heel.infill_pct=10", "--set", "zones.arch.infill_pct=60",
             "--set", "zones.forefoot.infill_pct=25", "--set", "zones.met_pad.infill_pct=40"]
    assert run([*common, *zones, "-o", zoned], capsys)[0] == 0
    assert run([*common, "-o", plain], capsys)[0] == 0
    insert = load(plain)
    vols = volumes_of(zoned)
    assert [v["keys"]["name"] for v in vols] == ["insert", "heel zone", "arch zone", "forefoot zone", "met_pad zone"]
    assert [v["keys"].get("fill_density") for v in vols[1:]] == ["10%", "60%", "25%", "40%"]
    assert all(v["keys"]["modifier"] == "1" for v in vols[1:]) and vols[0]["keys"].get("modifier") is None
    part = vols[0]["mesh"]
    part.merge_vertices()
    assert part.is_watertight and part.volume == pytest.approx(insert.volume, rel=1e-6)
    for v in vols[1:]:
        zone = v["mesh"]
        assert zone.is_watertight and zone.volume > 0
        assert (zone.vertices[:, 2] >= -1e-6).all()
        assert (zone.vertices[:, 2] <= top_at(insert, zone.vertices[:, :2]) + 1e-6).all()  # under the molded top
    heel, arch, fore, _ = (v["mesh"] for v in vols[1:])
    assert heel.volume + arch.volume + fore.volume == pytest.approx(insert.volume, rel=0.02)


@needs_scan
@needs_prusa
def test_prusaslicer_prints_the_scan_zones_at_their_density(tmp_path, capsys):
    """PrusaSlicer itself slices the scan insert's 3MF: heel at 10 % and arch at 60 % against its
    own 20 % (measured line spacing 3.86 and 0.64 mm against 1.93)."""
    zoned, plain = tmp_path / "zoned.3mf", tmp_path / "plain.3mf"
    assert run(["build", "--scan", TECHMED, "--resolution", "2", *ZONES, "-o", zoned], capsys)[0] == 0
    assert run(["build", "--scan", TECHMED, "--resolution", "2", "-o", plain], capsys)[0] == 0
    with_zones, without = zone_figures(zoned), zone_figures(plain)
    assert with_zones["heel"][0] / without["heel"][0] == pytest.approx(20 / 10, rel=0.05)
    assert with_zones["arch"][0] / without["arch"][0] == pytest.approx(20 / 60, rel=0.05)


# --- milling ----------------------------------------------------------------------------------

DIAMETER, STEPOVER = 6.0, 1.5


def _finish_error(tmp_path: Path, capsys, stl: Path) -> tuple[np.ndarray, np.ndarray]:
    """Mill ``stl`` by the command line; (grid xy, the finishing cut's envelope minus the top)."""
    nc = tmp_path / "insert.nc"
    code, _, err = run(["cam", stl, "-o", nc, "--tool-diameter", DIAMETER, "--stepover", STEPOVER, "-q"], capsys)
    assert code == 0, err
    moves = parse(nc.read_text())
    assert moves and nc.read_text().rstrip().endswith("M30")
    mesh = load(stl)
    xy = grid_inside(mesh, 1.3, margin=0.5)
    cut = envelope(tool_positions(moves, "finishing"), xy, "ball", DIAMETER / 2)
    return xy, cut - top_at(mesh, xy)


CAM_CASES = {"scan": ["--scan", TECHMED, "--set", "skive.medial_mm=3", "--set", "heel_cup.depth_mm=14"],
             "every_lab_field": lab.ALL_ON_B}


@pytest.mark.parametrize("name", CAM_CASES)
def test_cam_never_gouges(tmp_path, capsys, name):
    if name == "scan" and not TECHMED.is_file():
        pytest.skip("../shared/data/scans is absent")
    stl = tmp_path / "insert.stl"
    code, _, err = run(["build", *CAM_CASES[name], "--resolution", "1", "-o", stl, "-q"], capsys)
    assert code == 0, err
    xy, error = _finish_error(tmp_path, capsys, stl)
    assert np.isfinite(error).all()
    assert error.min() >= -0.01, f"gouge of {-error.min():.4f} mm at {xy[error.argmin()]}"


# --- every profile on every kind of foot ------------------------------------------------------

PROFILES = profile_names()


@pytest.mark.parametrize("foot", ["builtin", "real", "scan"])
@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_on_every_foot(tmp_path, capsys, profile, foot):
    source = []
    if foot == "real":
        outlines = real_outlines()
        if not outlines:
            pytest.skip("../shared/data/feet is absent")
        source = ["--outline", write_csv(tmp_path / "foot.csv", outlines["template_sole_outline_mm"]), "--side", "left"]
    elif foot == "scan":
        if not TECHMED.is_file():
            pytest.skip("../shared/data/scans is absent")
        source = ["--scan", TECHMED]
    out = tmp_path / "p.stl"
    code, _, err = run(["build", *source, "--profile", profile, "--resolution", "2", "-o", out, "-q"], capsys)
    assert code == 0, err
    mesh, report = load(out), report_of(out)
    parts = len((report.get("shell") or {}).get("parts", [])) or 1  # an extrinsic post is a body of its own
    assert mesh.is_watertight and mesh.body_count == parts and mesh.volume > 0
    assert report["qa"]["manifold3d"] == "NoError"


# --- batch with nested fields -----------------------------------------------------------------

def test_batch_with_nested_fields(tmp_path, capsys):
    rows = [{"id": "nested", "side": "left", "resolution": 2.0, "zones.heel.infill_pct": 15, "skive.medial_mm": 3.0,
             "heel_cup.depth_mm": 14.0, "heel_lift.height_mm": 8.0, "heel_lift.profile": "full_length"},
            {"id": "bad_zone", "resolution": 2.0, "zones.heel.infill_pct": 150},
            {"id": "bad_profile", "resolution": 2.0, "heel_lift.profile": "wedge"}]
    out = tmp_path / "out"
    code, summary = run_batch(manifest_of(tmp_path / "m.jsonl", rows), out, capsys, "--jobs", "1")
    assert code == 3
    assert {k: r["status"] for k, r in summary.items()} == {"nested": "built", "bad_zone": "failed", "bad_profile": "failed"}
    assert "zones.heel.infill_pct" in summary["bad_zone"]["error"]
    assert "heel_lift.profile" in summary["bad_profile"]["error"]
    assert load(out / "nested.stl").is_watertight
    rx = report_of(out / "nested.stl")["prescription"]
    assert rx["zones"]["heel"]["infill_pct"] == 15 and rx["skive"]["medial_mm"] == 3.0
    assert rx["heel_lift"]["profile"] == "full_length"


# --- shoe fit with lab fields -----------------------------------------------------------------

def test_heel_pitch_keeps_the_lab_thickness(tmp_path, capsys):
    common = ["build", "--resolution", "1", "--set", "skive.medial_mm=4", "--set", "heel_cup.depth_mm=14",
              "--set", "heel_lift.height_mm=5", "-q"]
    flat, pitched = tmp_path / "flat.stl", tmp_path / "pitched.stl"
    assert run([*common, "-o", flat], capsys)[0] == 0
    assert run([*common, "--set", "shoe.heel_pitch_mm=10", "-o", pitched], capsys)[0] == 0
    a, b = load(flat), load(pitched)
    xy = grid_inside(a, 1.5, margin=1.0)
    thick_flat, thick_pitched = top_at(a, xy) - bottom_at(a, xy), top_at(b, xy) - bottom_at(b, xy)
    assert np.isfinite(thick_flat).all() and np.isfinite(thick_pitched).all()
    assert np.abs(thick_pitched - thick_flat).max() <= 0.05
    heel = xy[:, 0] < 0.25 * a.bounds[1, 0]
    assert np.abs(bottom_at(b, xy[heel]) - 10.0).max() <= 0.1  # the pitch is under it all the same
    assert b.is_watertight


# --- any mix ----------------------------------------------------------------------------------

@st.composite
def mixes(draw):
    rx = draw(lab.lab_prescriptions())
    for name in draw(st.sets(st.sampled_from(["heel", "arch", "forefoot", "met_pad"]))):
        rx[f"zones.{name}.infill_pct"] = draw(st.floats(0, 100))
    rx["shoe.heel_pitch_mm"] = draw(st.floats(0, 40))
    rx["shoe.toe_spring_mm"] = draw(st.floats(0, 25))
    rx["met_pad.enabled"] = draw(st.booleans())
    return rx


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rx=mixes(), side=st.sampled_from(["left", "right"]))
def test_any_mix_builds_or_is_refused_in_one_line(tmp_path, rx, side):
    """Lab fields, zones and shoe fit at random on the built-in outline: exit 2 with one line, no
    file; or a watertight insert at least shell.min_thickness_mm thick everywhere."""
    here = Path(tempfile.mkdtemp(dir=tmp_path))
    out = here / "mix.stl"
    args = ["build", "--side", side, "--resolution", "2", "-o", str(out), "-q"]
    for key, value in rx.items():
        args += ["--set", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
    with redirect_stderr(io.StringIO()) as err:
        code = main(args)
    if code == 2:
        assert err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()
        assert not out.exists()
        return
    assert code == 0, err.getvalue()
    mesh = load(out)
    assert mesh.is_watertight and mesh.body_count == 1 and mesh.volume > 0
    xy = grid_inside(mesh, 2.0, margin=0.5)
    thickness = top_at(mesh, xy) - bottom_at(mesh, xy)
    assert np.isfinite(thickness).all()
    least = report_of(out)["prescription"]["shell"]["min_thickness_mm"]
    assert thickness.min() >= least - 1e-3, f"{thickness.min():.3f} mm at {xy[thickness.argmin()]}"
