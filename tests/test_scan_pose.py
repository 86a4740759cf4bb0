"""Finding a foot scan's pose and sole: the real scans moved to random poses, units and sides,
as meshes and as noisy point clouds; the FIND template's labelled sole as truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from insolegen.errors import InputError
from insolegen.scan.pose import find_pose
from insolegen.scan.read import read_scan
from scan_files import FIND, FIND_SOLE, TECHMED, moved, needs_scans, scan_mm, sole_area_overlap, write

pytestmark = needs_scans
SCANS = {"find": (FIND, "left"), "techmed": (TECHMED, "right")}
OTHER = {"left": "right", "right": "left"}


@pytest.fixture(scope="module")
def reference():
    """name -> (raw, pose, placed points (n, 3) mm) of each scan as stored."""
    out = {}
    for name, (path, _) in SCANS.items():
        raw = read_scan(path)
        pose = find_pose(raw)
        out[name] = (raw, pose, pose.place(raw.points))
    return out


@pytest.mark.parametrize("name", SCANS)
def test_stored_scans_land_sole_down_heel_first(reference, name):
    raw, pose, placed = reference[name]
    assert pose.side == SCANS[name][1]
    assert pose.plantar_sheet == (name == "techmed")
    rotation = pose.transform[:3, :3] / raw.mm_per_unit
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    sole = pose.sole
    assert placed[:, 2].min() == pytest.approx(0.0, abs=1e-9)
    length = np.ptp(sole[:, 0])
    assert 240 < length < 280 and abs(sole[:, 0].min()) < 10.0  # x = 0 at the heel's rearmost point near the ground (walls may bulge back)
    # Heel and ball (not toes or arch) are the low points, near z = 0.
    heel = sole[sole[:, 0] < 0.25 * length, 2].min()
    ball = sole[(sole[:, 0] > 0.6 * length) & (sole[:, 0] < 0.8 * length), 2].min()
    assert heel < 2.0 and ball < 2.0
    # The toes point to +x: the forefoot is the wider end.
    width = lambda lo, hi: np.ptp(sole[(sole[:, 0] > lo * length) & (sole[:, 0] < hi * length), 1])
    assert width(0.6, 0.8) > width(0.1, 0.3) + 15
    if pose.plantar_sheet:  # the whole sheet, up to its cut, but none of its upward-facing walls
        assert sole[:, 2].max() <= placed[:, 2].max() and len(pose.sole_faces) < len(raw.faces)
    else:  # no ankle, instep or dorsum of the toes
        assert sole[:, 2].max() < 35.0


def _matches_the_label(raw, pose, truth=None):
    """The FIND foot's sole found as labelled (issue 10): 90 % or more of the labelled area,
    under 5 % of it more. The label is a footprint's: its lateral border runs up the side wall,
    its medial border stops where the foot lifts off the ground (measured 91.0 % and 3.8 %)."""
    recall, false = sole_area_overlap(raw.points, raw.faces, pose.sole_faces, np.load(FIND_SOLE) if truth is None else truth)
    assert recall >= 0.90 and false < 0.05, (recall, false)


def test_find_sole_matches_the_labelled_faces(reference):
    raw, pose, _ = reference["find"]
    _matches_the_label(raw, pose)
    # The leg and the top of the foot are never sole.
    assert pose.place(raw.points)[pose.sole_index, 2].max() < 30


@pytest.mark.parametrize("name", SCANS)
@pytest.mark.parametrize("seed, units, suffix", [(1, "m", ".obj"), (2, "in", ".ply"), (3, "cm", ".obj"), (4, "mm", ".ply")])
def test_any_pose_and_unit_gives_the_same_output(reference, tmp_path, name, seed, units, suffix):
    raw0, pose0, placed0 = reference[name]
    v, f = scan_mm(SCANS[name][0])
    raw = read_scan(write(tmp_path / f"s{suffix}", moved(v, seed), f, units))
    assert raw.units == units
    pose = find_pose(raw)
    assert pose.side == pose0.side
    np.testing.assert_allclose(pose.place(raw.points), placed0, atol=0.1)
    assert len(np.intersect1d(pose.sole_index, pose0.sole_index)) >= 0.99 * len(pose0.sole_index)
    if name == "find":
        _matches_the_label(raw, pose)


@pytest.mark.parametrize("name", SCANS)
def test_binary_stl_in_another_pose(reference, tmp_path, name):
    """STL stores corners: the vertices come back merged in another order."""
    _, pose0, _ = reference[name]
    v, f = scan_mm(SCANS[name][0])
    raw = read_scan(write(tmp_path / "s.stl", moved(v, 11), f, "mm"))
    pose = find_pose(raw)
    gap, _ = cKDTree(pose.sole).query(pose0.sole)
    assert pose.side == pose0.side and np.percentile(gap, 99) < 0.1
    if name == "find":  # the triangles keep their order
        _matches_the_label(raw, pose)


@pytest.mark.parametrize("name", SCANS)
def test_mirrored_scan_is_the_other_foot(reference, tmp_path, name):
    _, pose0, _ = reference[name]
    v, f = scan_mm(SCANS[name][0])
    raw = read_scan(write(tmp_path / "m.obj", moved(v, 5, mirror=True), f, "mm"))
    pose = find_pose(raw)
    assert pose.side == OTHER[pose0.side]
    assert np.linalg.det(pose.transform[:3, :3]) > 0  # turned, never mirrored: the foot is
    gap, _ = cKDTree(pose.sole * [1, -1, 1]).query(pose0.sole)
    assert np.percentile(gap, 95) < 0.1
    if name == "find":  # a right foot now: its medial border is +y
        _matches_the_label(raw, pose)


@pytest.mark.parametrize("name", SCANS)
@pytest.mark.parametrize("suffix, encoding", [(".xyz", ""), (".csv", ""), (".ply", "binary")])
def test_noisy_point_clouds(reference, tmp_path, name, suffix, encoding):
    """0.3 mm noise, vertices only: the same side, the same pose of one cloud in any placement,
    and the frame within a degree and a millimetre or so of the mesh's."""
    raw0, pose0, placed0 = reference[name]
    v, _ = scan_mm(SCANS[name][0])
    noisy = v + np.random.default_rng(7).normal(0.0, 0.3, v.shape)
    poses = []
    for seed, units in [(21, "mm"), (22, "cm")]:
        raw = read_scan(write(tmp_path / f"c{seed}{suffix}", moved(noisy, seed), None, units, encoding))
        assert raw.faces is None and raw.units == units
        pose = find_pose(raw)
        assert pose.side == pose0.side and pose.sole_faces is None
        poses.append(pose.place(raw.points))
        # The cloud's sole: the mesh's sole vertices (the cloud keeps their order), little else.
        both = len(np.intersect1d(pose.sole_index, pose0.sole_index))
        assert both > 0.9 * len(pose0.sole_index) and len(pose.sole_index) - both < 0.05 * len(pose0.sole_index)
    np.testing.assert_allclose(poses[0], poses[1], atol=0.1)
    drift = np.linalg.norm(poses[0] - placed0, axis=1)
    assert np.percentile(drift, 95) < 3.0, np.percentile(drift, 95)


@pytest.mark.parametrize("cut_mm, sheet", [(90, False), (60, False), (30, True)])
def test_foot_cut_at_the_ankle_or_to_a_plantar_sheet(reference, tmp_path, cut_mm, sheet):
    """The FIND foot cut above the ankle, below it, and to its plantar sheet (an open mesh):
    the same frame and side; the sheet's sole is all but its upward-facing walls."""
    raw0, pose0, placed0 = reference["find"]
    v, f = scan_mm(FIND)
    keep = (v[f][:, :, 2] < v[:, 2].min() + cut_mm).all(axis=1)
    raw = read_scan(write(tmp_path / "cut.obj", moved(v, 8), f[keep]))
    pose = find_pose(raw)
    assert pose.side == "left" and pose.plantar_sheet == sheet
    np.testing.assert_allclose(pose.place(raw.points), placed0[np.unique(f[keep])], atol=0.1)
    truth = np.nonzero(np.isin(np.nonzero(keep)[0], np.load(FIND_SOLE)))[0]
    if sheet:
        recall, false = sole_area_overlap(raw.points, raw.faces, pose.sole_faces, truth)
        assert recall > 0.95 and false < 0.21, (recall, false)
    else:
        _matches_the_label(raw, pose, truth)


def test_given_side_wins_with_a_warning(reference, capsys):
    raw, _, _ = reference["techmed"]
    pose = find_pose(raw, "left")
    assert pose.side == "left"
    err = capsys.readouterr().err
    assert "looks like a right foot" in err and err.count("\n") == 1
    assert any("looks like a right foot" in note for note in pose.notes)
    assert find_pose(raw, "right").side == "right" and capsys.readouterr().err == ""
    with pytest.raises(InputError, match="--side both"):
        find_pose(raw, "both")


def test_notes_say_units_side_and_what_was_left_out(reference):
    raw, pose, _ = reference["find"]
    text = " | ".join([*raw.notes, *pose.notes])
    assert "units: m" in text and "side: left, found from the arch" in text and "a whole foot" in text and "sole:" in text
    assert not set(raw.notes) & set(pose.notes)  # each said once


def test_a_flat_sheet_of_points_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    flat = np.c_[rng.uniform(0, 260, 2000), rng.uniform(0, 100, 2000), np.zeros(2000)]
    raw = read_scan(write(tmp_path / "flat.xyz", flat, None))
    with pytest.raises(InputError) as err:
        find_pose(raw)
    assert "\n" not in str(err.value) and str(tmp_path / "flat.xyz") in str(err.value) and "flat" in str(err.value)
