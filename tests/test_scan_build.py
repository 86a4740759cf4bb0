"""Scan-molded inserts (`build --scan`), measured on the exported files: the top against the scan's
plantar surface carried by the report's transform, the cast modifications as differences, the same
insert from any pose, unit or noise, the other side from a mirrored scan, bad scans."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
import trimesh
from shapely.geometry import Polygon

from conftest import FEET, footprint, grid_inside, load, report_of, run, top_at, top_crease_deg

SCANS = FEET.parent / "scans"
TECHMED = SCANS / "techmed3d_right_plantar.obj"
FIND = FEET / "find" / "template.obj"
FIND_SOLE = FEET / "find" / "templ_sole_faces.npy"
OFF = ["--set", "heel_cup.depth_mm=30", "--set", "scan.rim_mm=60"]  # nothing capped (rims over the trim height), every feature off; cast.* at 0

needs_scans = pytest.mark.skipif(not (TECHMED.is_file() and FIND.is_file()), reason="../shared/data scans are absent")
pytestmark = needs_scans


def _scan_mesh(path: Path) -> trimesh.Trimesh:
    return trimesh.load(path, process=False, force="mesh")


def _plantar(name: str) -> trimesh.Trimesh:
    """The truth plantar surface in the scan's own coordinates: the techmed sheet is one; the
    FIND foot's labelled sole faces; ``find-whole``: the whole FIND foot (below the trim height,
    what is seen from below: the labelled sole, its medial border and the heel's back)."""
    if name == "techmed":
        return _scan_mesh(TECHMED)
    if name == "find-whole":
        return _scan_mesh(FIND)
    whole = _scan_mesh(FIND)
    return trimesh.Trimesh(whole.vertices, whole.faces[np.load(FIND_SOLE)], process=False)


def _envelope(mesh: trimesh.Trimesh, xy: np.ndarray) -> np.ndarray:
    """(n,) the lowest z of the mesh above each xy (upward rays); NaN where it has none."""
    origins = np.c_[xy, np.full(len(xy), mesh.bounds[0, 2] - 10.0)]
    loc, ray, _ = mesh.ray.intersects_location(origins, np.tile([0.0, 0.0, 1.0], (len(xy), 1)), multiple_hits=True)
    low = np.full(len(xy), np.nan)
    np.fmin.at(low, ray, loc[:, 2])
    return low


def _carried(mesh: trimesh.Trimesh, report: dict) -> trimesh.Trimesh:
    moved = mesh.copy()
    moved.apply_transform(np.array(report["scan"]["transform_scan_to_output"]))
    return moved


def _random_pose(seed: int, scale: float) -> np.ndarray:
    """A 4x4 rigid turn (any direction) and shift, then ``scale`` (mm -> the file's units)."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=4)
    rot = trimesh.transformations.quaternion_matrix(q / np.linalg.norm(q))
    rot[:3, 3] = rng.uniform(-300, 300, 3)
    return np.diag([scale, scale, scale, 1.0]) @ rot


def _write(mesh: trimesh.Trimesh, path: Path, transform: np.ndarray | None = None, mirror: bool = False) -> Path:
    out = mesh.copy()
    if mirror:
        out.vertices[:, 1] *= -1
        out.faces = out.faces[:, ::-1]
    if transform is not None:
        out.apply_transform(transform)
    out.export(path)
    return path


def _build(tmp_path: Path, capsys, scan: Path, *args, name: str = "s.stl", resolution: str = "1.0") -> Path:
    out = tmp_path / name
    code, _, err = run(["build", "--scan", scan, "--resolution", resolution, *args, "-o", out], capsys)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def built_off(tmp_path_factory):
    """name -> (mesh, report) of that stored scan built at 0.5 mm with every feature off, cast.* at 0."""
    from insolegen.cli import main

    folder, built = tmp_path_factory.mktemp("off"), {}

    def get(name: str):
        if name not in built:
            out = folder / f"{name}.stl"
            assert main(["build", "-q", "--scan", str(TECHMED if name == "techmed" else FIND), "--resolution", "0.5", *OFF,
                         "-o", str(out)]) == 0
            built[name] = load(out), report_of(out)
        return built[name]

    return get


STEP = ("the FIND foot's sulcus under its lesser toes is, seen from below, a step 3.4 mm high in 0.3 mm (the toes' "
        "undersides overhang the ball) and the label has no faces on its wall: a fit steep enough to stay within 1.0 mm "
        "of the labelled faces there bends by 17 degrees")


@pytest.mark.parametrize("name", ["techmed", pytest.param("find", marks=pytest.mark.xfail(strict=True, reason=(
    STEP + "; measured 1.01 mm at most there (0.98 before the balancing stopped early), P95 0.11 mm")))])
def test_top_follows_the_plantar_surface(built_off, name):
    """Every feature off, cast.* at 0: the top within 0.5 mm (P95) and 1.0 mm (max) of the
    scan's plantar surface carried by the report's transform, 4 mm inside the rim, wherever that
    surface lies under the top (the distance to its nearest point: the FIND foot's toes overhang
    the ball, which no height field follows vertically); the plantar sheet, which has no
    overhang, within those limits straight down too. Watertight."""
    mesh, report = built_off(name)
    assert mesh.is_watertight and report["qa"]["manifold3d"] == "NoError"
    truth = _carried(_plantar(name), report)
    xy = grid_inside(mesh, 1.0, margin=4.0)
    top = top_at(mesh, xy)
    gap = top - _envelope(truth, xy)
    under = ~np.isnan(gap)
    assert under.mean() > 0.8  # the truth lies under nearly all of the insert
    distance = trimesh.proximity.closest_point(truth, np.c_[xy, top][under])[1]
    assert np.percentile(distance, 95) <= 0.5 and distance.max() <= 1.0, (np.percentile(distance, 95), distance.max())
    if name == "techmed":
        gap = np.abs(gap[under])
        assert np.percentile(gap, 95) <= 0.5 and gap.max() <= 1.0, (np.percentile(gap, 95), gap.max())


@pytest.mark.parametrize("name", ["techmed", pytest.param("find", marks=pytest.mark.xfail(strict=True, reason=(
    STEP + "; a fit stiff enough for 10 degrees lies farther from them (smoothing 1.0: 8.3 degrees, 1.63 mm; stiffened "
    "only where it bends: 9.4 degrees, 1.33 mm)")))])
def test_top_has_no_crease_at_half_a_millimetre(built_off, name):
    """No two neighbouring top faces 4 mm inside the rim meet at over 10 degrees (0.5 mm mesh)."""
    assert top_crease_deg(built_off(name)[0]) <= 10.0


@pytest.mark.parametrize("name,scan", [("techmed", TECHMED), ("find-whole", FIND), pytest.param("find", FIND, marks=pytest.mark.xfail(
    strict=True, reason="the FIND foot's labelled sole is a footprint in a frame rolled 10-14 degrees onto the lateral border "
                        "from the balanced cast's (whose heel is level: a bisector 2-8 mm up turns it 1.7 degrees more); it "
                        "leaves out the medial border and the heel's back, which lie below the 20 mm trim in the balanced "
                        "cast: measured 13.3 mm there; the whole scan's silhouette (find-whole) within 1.3 mm"))])
def test_footprint_is_the_sole_silhouette_below_the_trim(tmp_path, capsys, name, scan):
    """The footprint lies within 2 mm of the silhouette of the plantar surface below
    scan.trim_height_mm (20) over its lowest point, the triangles cut exactly at that height;
    on the whole FIND foot, of all of it below that height (its toes' clefts kept open)."""
    out = _build(tmp_path, capsys, scan, *OFF)
    truth = _carried(_plantar(name), report_of(out))
    tri = truth.triangles
    level = tri[:, :, 2].min() + 20.0
    below = tri[:, :, 2] < level
    parts = [Polygon(t[:, :2]) for t in tri[below.all(axis=1)]]
    for t, b in zip(tri[below.any(axis=1) & ~below.all(axis=1)], below[below.any(axis=1) & ~below.all(axis=1)]):
        ring = []  # the part of the triangle below the level, corner by corner
        for i in range(3):
            a, c = t[i], t[(i + 1) % 3]
            if b[i]:
                ring.append(a[:2])
            if b[i] != b[(i + 1) % 3]:
                s = (level - a[2]) / (c[2] - a[2])
                ring.append((a + s * (c - a))[:2])
        parts.append(Polygon(ring))
    silhouette = shapely.union_all([p.buffer(0.01) for p in parts if p.area > 0])
    silhouette = max(shapely.get_parts(silhouette), key=lambda g: g.area)
    silhouette = Polygon(silhouette.exterior)  # holes (toe clefts seen from above) filled
    assert footprint(load(out)).hausdorff_distance(silhouette) <= 2.0


def test_report_says_what_the_scan_gave(tmp_path, capsys):
    out = _build(tmp_path, capsys, FIND)
    scan = report_of(out)["scan"]
    assert scan["units"] == "m" and scan["side"] == "left" and scan["side_from"].startswith("found")
    assert np.array(scan["transform_scan_to_output"]).shape == (4, 4)
    fit = scan["fit_residuals_mm"]
    assert 0 <= fit["p50"] <= fit["p95"] <= fit["max"]
    assert 10.0 < scan["arch_height_mm"] < 40.0 and 30.0 <= scan["arch_apex"]["pct_length"] <= 60.0
    assert "cm2" in scan["trimmed"] and any("arch.height_mm" in i for i in scan["ignored"])


@pytest.mark.parametrize("name,scan", [("techmed", TECHMED), ("find", FIND)])
def test_same_insert_from_any_pose_and_unit(tmp_path, capsys, name, scan):
    """The scan turned and moved at random, and written in other units, gives the same insert
    within 0.1 mm."""
    base = load(_build(tmp_path, capsys, scan, name="base.stl"))
    mm = 1000.0 if name == "find" else 1.0  # file units -> mm
    units, per_mm = ("cm", 0.1) if name == "find" else ("m", 0.001)  # another unit than the file's own
    pose = _random_pose(10 if name == "find" else 11, per_mm) @ np.diag([mm, mm, mm, 1.0])
    moved = _write(_scan_mesh(scan), tmp_path / "moved.stl", pose)
    other = load(_build(tmp_path, capsys, moved, name="moved-out.stl"))
    assert report_of(tmp_path / "moved-out.stl")["scan"]["units"] == units
    xy = grid_inside(base, 1.0, margin=4.0)
    diff = np.abs(top_at(base, xy) - top_at(other, xy))
    assert np.nanpercentile(diff, 99) <= 0.1, (np.nanpercentile(diff, 99), np.nanmax(diff))
    assert abs(base.volume - other.volume) <= 0.002 * base.volume


@pytest.mark.parametrize("name,scan,side", [("techmed", TECHMED, "right"), ("find", FIND, "left")])
def test_mirrored_scan_gives_the_other_side(tmp_path, capsys, name, scan, side):
    """Every grid of the cast is symmetric about the pose's y = 0 (the mirror plane): the mirrored
    scan's top, turned and moved at random too, is the mirror of the scan's own (rounding in the
    pose, 1e-5 mm, may move a sample across the fit's height cut)."""
    other = "left" if side == "right" else "right"
    own = _build(tmp_path, capsys, scan, name="own.stl")
    mm = 1.0 if name == "techmed" else 1000.0  # file units -> mm
    mirrored = _write(_scan_mesh(scan), tmp_path / "mirrored.ply", _random_pose(3, 1.0) @ np.diag([mm, mm, mm, 1.0]), mirror=True)
    flipped = _build(tmp_path, capsys, mirrored, name="mirrored.stl")
    assert report_of(own)["side"] == side and report_of(flipped)["side"] == other
    a, b = load(own), load(flipped)
    xy = grid_inside(a, 1.0, margin=4.0)
    diff = np.abs(top_at(a, xy) - top_at(b, xy * [1.0, -1.0]))
    assert np.nanpercentile(diff, 99) <= 0.1, np.nanpercentile(diff, [50, 99, 100])


def test_noisy_cloud_gives_a_smooth_top(tmp_path, capsys):
    """The techmed sheet's points as an XYZ cloud, and again with 0.3 mm Gaussian noise: the noisy
    one's top within 0.6 mm (P95) of the clean one's."""
    points = _scan_mesh(TECHMED).vertices
    tops = []
    for name, noise in (("clean", 0.0), ("noisy", 0.3)):
        cloud = tmp_path / f"{name}.xyz"
        np.savetxt(cloud, points + np.random.default_rng(5).normal(0.0, noise, points.shape), fmt="%.4f")
        tops.append(load(_build(tmp_path, capsys, cloud, *OFF, name=f"{name}.stl")))
        assert report_of(tmp_path / f"{name}.stl")["scan"]["kind"] == "point cloud"
    xy = grid_inside(tops[0], 1.0, margin=4.0)
    diff = np.abs(top_at(tops[0], xy) - top_at(tops[1], xy))
    assert np.nanpercentile(diff, 95) <= 0.6, np.nanpercentile(diff, 95)


@pytest.mark.parametrize("fill", [1.6, 3.2, 6.4])
def test_arch_fill_lowers_the_arch_apex_only(tmp_path, capsys, fill):
    b0 = _build(tmp_path, capsys, TECHMED, *OFF, name="b0.stl")
    b = _build(tmp_path, capsys, TECHMED, *OFF, "--set", f"cast.arch_fill_mm={fill}", name="b.stl")
    without, with_fill = load(b0), load(b)
    xy = grid_inside(without, 0.5, margin=1.0)
    diff = top_at(with_fill, xy) - top_at(without, xy)
    report = report_of(b)
    assert abs(np.nanmin(diff) + fill) <= 0.1
    deepest = xy[np.nanargmin(diff)]
    apex = report["scan"]["arch_apex"]["xy_mm"]
    assert abs(deepest[0] - apex[0]) <= 0.1 * report["input"]["foot_length_mm"]
    assert deepest[1] * (1 if report["side"] == "right" else -1) > 0  # medial
    marks = report["landmarks"]
    for name in ("heel_centre", "mtpj1", "mtpj5"):
        x, y = marks[name]["xy_mm"]
        inward = np.array([x, y * 0.9])  # the heads lie on the border: look just inside it
        assert abs(float((top_at(with_fill, inward[None]) - top_at(without, inward[None]))[0])) <= 0.01
    assert report["scan"]["as_built"]["arch_fill_mm"] == pytest.approx(fill, abs=0.1)


def test_heel_expansion_widens_the_heel_seat(tmp_path, capsys):
    b0 = load(_build(tmp_path, capsys, TECHMED, *OFF, name="b0.stl"))
    b = load(_build(tmp_path, capsys, TECHMED, *OFF, "--set", "cast.heel_expansion_mm=3", name="b.stl"))
    assert b.is_watertight

    def heel_width(mesh):
        rim = footprint(mesh)
        length = mesh.bounds[1, 0]
        return max(shapely.LineString([(x, -200), (x, 200)]).intersection(rim).length for x in np.linspace(0.05, 0.2, 16) * length)

    assert heel_width(b) - heel_width(b0) == pytest.approx(6.0, abs=0.6)
    assert b.bounds[1, 0] - b0.bounds[1, 0] == pytest.approx(3.0, abs=0.3)  # the heel grows back: 3 mm longer


def test_check_and_preview_take_the_scan(tmp_path, capsys):
    out = _build(tmp_path, capsys, TECHMED, *OFF, resolution="0.5")
    code, text, err = run(["check", out, "--scan", TECHMED, "--json"], capsys)
    assert code == 0, err
    fit = json.loads(text)["scan_fit"]
    # check samples the sole every 0.5 mm (test_top_follows_the_plantar_surface: every 1 mm) and finds a
    # little more at the toes' worst spot (1.05 mm)
    assert fit["p95_mm"] <= 0.5 and fit["max_mm"] <= 1.5 and fit["points"] > 1000
    png = tmp_path / "fit.png"
    code, text, err = run(["preview", out, "--scan", TECHMED, "-o", png], capsys)
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_check_scan_needs_the_build_report(tmp_path, capsys):
    out = _build(tmp_path, capsys, TECHMED)
    out.with_name(f"{out.stem}.report.json").unlink()
    code, _, err = run(["check", out, "--scan", TECHMED], capsys)
    assert code == 2 and err.count("\n") == 1 and "report" in err


@pytest.mark.parametrize("content,why", [
    (b"", "empty"),
    (b"".join(b"%f %f %f\n" % tuple(p) for p in np.random.default_rng(1).uniform(0, 40, (800, 3))), "foot"),
    (b"1 2 nan\n" * 600, "finite"),
    (b"".join(b"%f %f %f\n" % tuple(p) for p in trimesh.creation.icosphere(4, 120.0).vertices), "shape of a foot"),  # a ball
])
def test_bad_scans_exit_2_with_one_line(tmp_path, capsys, content, why):
    scan = tmp_path / "bad.xyz"
    scan.write_bytes(content)
    out = tmp_path / "never.stl"
    code, _, err = run(["build", "--scan", scan, "-o", out], capsys)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err and str(scan) in err and why in err
    assert not out.exists()


def test_scan_options_are_checked(tmp_path, capsys):
    code, _, err = run(["build", "--side", "auto", "-o", tmp_path / "x.stl"], capsys)
    assert code == 2 and "--scan" in err
    code, _, err = run(["build", "--scan", TECHMED, "--pair", "--short-side", "left", "-o", tmp_path / "x.stl"], capsys)
    assert code == 2 and "--pair" in err
    code, _, err = run(["build", "--scan", TECHMED, "--set", "cast.inversion_deg=40", "-o", tmp_path / "x.stl"], capsys)
    assert code == 2 and "cast.inversion_deg" in err and "35" in err


def test_inverted_cast_turns_medial_side_up(tmp_path, capsys):
    """cast.inversion_deg 15: the scan-to-output transform turns 15 degrees more about the long
    axis, medial side up, and the exported top still follows the scan carried by it."""
    b0 = _build(tmp_path, capsys, TECHMED, *OFF, name="b0.stl")
    b = _build(tmp_path, capsys, TECHMED, *OFF, "--set", "cast.inversion_deg=15", name="b.stl")
    t0, t1 = (np.array(report_of(p)["scan"]["transform_scan_to_output"])[:3, :3] for p in (b0, b))
    turn = t1 @ np.linalg.inv(t0)
    medial = 1 if report_of(b)["side"] == "right" else -1
    roll = np.degrees(np.arctan2(turn[2, 1], turn[2, 2]))  # about x: +y (the right foot's medial side) up
    assert roll * medial == pytest.approx(15.0, abs=0.5)
    mesh = load(b)
    xy = grid_inside(mesh, 1.0, margin=4.0)
    gap = np.abs(top_at(mesh, xy) - _envelope(_carried(_plantar("techmed"), report_of(b)), xy))
    assert np.nanpercentile(gap, 95) <= 0.5


def test_same_scan_same_bytes(tmp_path, capsys):
    a = _build(tmp_path, capsys, TECHMED, name="a.stl", resolution="2.0")
    b = _build(tmp_path, capsys, TECHMED, name="b.stl", resolution="2.0")
    assert a.read_bytes() == b.read_bytes()
