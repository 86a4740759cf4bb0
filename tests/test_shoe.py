"""Shoe fit: heel pitch and toe spring bend the bottom; the thickness above it stays the same.

Measured on the exported STL with vertical rays, built with and without the bend.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import grid_inside, load, report_of, run, top_at
from hypothesis import given, settings
from hypothesis import strategies as st

from insolegen import api

LENGTH = 265.0  # the built-in outline


def bottom_at(mesh, xy: np.ndarray) -> np.ndarray:
    """(n,) z of the lowest hit of a vertical ray at each xy (n, 2); NaN where nothing is hit."""
    origins = np.c_[xy, np.full(len(xy), mesh.bounds[1, 2] + 10.0)]
    loc, ray, _ = mesh.ray.intersects_location(origins, np.tile([0.0, 0.0, -1.0], (len(xy), 1)), multiple_hits=True)
    low = np.full(len(xy), np.nan)
    np.fmin.at(low, ray, loc[:, 2])
    return low


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(flat mesh, bent mesh, bent report, grid inside the footprint) built by the command line."""
    from insolegen.cli import main

    folder = tmp_path_factory.mktemp("shoe")
    common = ["build", "--resolution", "1", "--set", "heel_lift.height_mm=4", "--met-pad"]
    assert main([*common, "-o", str(folder / "flat.stl")]) == 0
    assert main([*common, "--set", "shoe.heel_pitch_mm=10", "--set", "shoe.toe_spring_mm=8",
                 "-o", str(folder / "bent.stl")]) == 0
    flat, bent = load(folder / "flat.stl"), load(folder / "bent.stl")
    return flat, bent, report_of(folder / "bent.stl"), grid_inside(flat, 1.5, margin=1.0)


def test_heel_pitch_raises_the_bottom_under_the_heel(pair):
    flat, bent, _, xy = pair
    heel = xy[xy[:, 0] < 0.25 * LENGTH]
    assert np.abs(bottom_at(bent, heel) - 10.0).max() <= 0.1
    assert np.abs(bottom_at(flat, heel)).max() <= 1e-6
    ball = xy[(xy[:, 0] > 0.71 * LENGTH) & (xy[:, 0] < 0.79 * LENGTH)]  # from the ball to the toe crease: on the board
    assert np.abs(bottom_at(bent, ball)).max() <= 1e-6


def test_thickness_above_the_bent_bottom_is_unchanged(pair):
    flat, bent, _, xy = pair
    thick_flat = top_at(flat, xy) - bottom_at(flat, xy)
    thick_bent = top_at(bent, xy) - bottom_at(bent, xy)
    assert not np.isnan(thick_flat).any() and not np.isnan(thick_bent).any()
    assert np.abs(thick_bent - thick_flat).max() <= 0.05


def test_toe_spring_lifts_the_toes_smoothly(pair):
    _, bent, _, _ = pair
    x = np.linspace(0.8 * LENGTH, LENGTH - 3.0, 200)  # along the middle of the toes, crease to tip
    rise = bottom_at(bent, np.c_[x, np.full_like(x, 0.137)])
    assert np.all(np.diff(rise) >= -1e-3)  # rising toward the tip (the lattice's linear facets aside)
    assert np.abs(rise - 8.0 * ((x - 0.8 * LENGTH) / (0.2 * LENGTH)) ** 3).max() <= 0.05


def test_bent_insert_is_watertight_and_its_report_shows_the_bend(pair):
    flat, bent, report, _ = pair
    assert bent.is_watertight and bent.is_winding_consistent and bent.body_count == 1
    qa = report["qa"]
    assert qa["watertight"] and qa["bodies"] == 1 and qa["manifold3d"] == "NoError"
    assert qa["undercut_rays"] == 0 and qa["millable_from_above"]
    assert np.allclose(qa["bounds_mm"], bent.bounds, atol=1e-3)
    assert qa["bounds_mm"][1][2] > flat.bounds[1][2] + 9.0  # the heel rides 10 mm up
    # thickness is measured above the bent bottom: the same as the flat insert's
    assert qa["min_thickness_mm"] == pytest.approx(3.0, abs=1e-3)
    assert qa["max_thickness_mm"] == pytest.approx(flat.bounds[1][2], abs=1e-3)


def test_check_measures_thickness_above_the_bent_bottom(pair, tmp_path, capsys):
    out = tmp_path / "b.stl"
    assert run(["build", "--resolution", "2", "--set", "shoe.heel_pitch_mm=12", "-o", out], capsys)[0] == 0
    code, text, _ = run(["check", out, "--json"], capsys)
    import json

    result = json.loads(text)
    assert code == 0 and result["passed"], result["reasons"]
    assert result["min_thickness_mm"] == pytest.approx(3.0, abs=0.01)


def test_flat_by_default_is_the_same_mesh():
    plain = api.build(resolution=2.0)
    zero = api.build(resolution=2.0, settings={"shoe.heel_pitch_mm": 0.0, "shoe.toe_spring_mm": 0.0})
    assert np.array_equal(plain.vertices, zero.vertices) and np.array_equal(plain.faces, zero.faces)
    assert len(plain.vertices) < 2 * len(plain.points)  # the flat bottom is the rim alone


@pytest.mark.parametrize("setting, value", [("shoe.heel_pitch_mm", "-1"), ("shoe.toe_spring_mm", "40"),
                                            ("shoe.heel_pitch_mm", "high")])
def test_bad_shoe_fields_are_named(tmp_path, capsys, setting, value):
    out = tmp_path / "x.stl"
    code, _, err = run(["build", "--set", f"{setting}={value}", "-o", out], capsys)
    assert code == 2 and setting in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


@settings(max_examples=12, deadline=None)
@given(pitch=st.floats(0.0, 40.0), spring=st.floats(0.0, 25.0), side=st.sampled_from(["left", "right"]),
       length=st.sampled_from(["full", "sulcus", "three_quarter"]), foot=st.floats(220, 300))
def test_any_shoe_fit_keeps_thickness_and_a_valid_solid(pitch, spring, side, length, foot):
    outline = api.load_outline(None, side=side, foot_length_mm=foot, foot_width_mm=0.376 * foot)
    rx = {"shell.length": length, "heel_lift.height_mm": 3.0, "met_pad.enabled": True}
    flat = api.build(outline, settings=rx, resolution=2.5)
    bent = api.build(outline, settings={**rx, "shoe.heel_pitch_mm": pitch, "shoe.toe_spring_mm": spring}, resolution=2.5)
    n = len(bent.points)
    assert np.allclose(bent.vertices[:n, 2] - bent.bottom, flat.vertices[:n, 2], atol=1e-9)  # thickness unchanged
    assert bent.bottom.min() >= 0.0 and bent.bottom.max() <= max(pitch, spring) + 1e-9
    heel = bent.points[:, 0] < 0.2 * foot
    assert np.allclose(bent.bottom[heel], pitch)
    qa = bent.qa()
    assert qa["manifold3d"] == "NoError" and qa["bodies"] == 1 and qa["undercut_rays"] == 0
    assert qa["min_thickness_mm"] == flat.qa()["min_thickness_mm"]
