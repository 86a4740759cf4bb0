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


def _clear_of_overhang(whole: trimesh.Trimesh, xy: np.ndarray, clear_mm: float = 3.0) -> np.ndarray:
    """(n,) whether each xy (n, 2) lies ``clear_mm`` or more from where the whole foot's toes
    overhang the ball, seen from below: an upward ray meets the foot four times or more (a toe
    over the ball), its lowest surface lies over the 20 mm trim (the cave under the toes), or, in
    the forefoot (past 60 % of the length), that surface steps up by over 3 mm within 1 mm (the
    wall under a toe's overhanging underside)."""
    from scipy.spatial import cKDTree

    origins = np.c_[xy, np.full(len(xy), whole.bounds[0, 2] - 10.0)]
    _, ray, _ = whole.ray.intersects_location(origins, np.tile([0.0, 0.0, 1.0], (len(xy), 1)), multiple_hits=True)
    low = _envelope(whole, xy)
    steps = [np.abs(_envelope(whole, xy + d) - _envelope(whole, xy - d)) for d in ([0.5, 0.0], [0.0, 0.5])]
    step = np.fmax(*steps) > 3.0
    over = (np.bincount(ray, minlength=len(xy)) >= 4) | (low > np.nanmin(low) + 20.0) | (step & (xy[:, 0] > 0.6 * np.ptp(xy[:, 0])))
    return cKDTree(xy[over]).query(xy)[0] >= clear_mm if over.any() else np.ones(len(xy), bool)


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


@pytest.mark.parametrize("name", ["techmed", "find"])
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
    if name == "find":  # judged 3 mm or more from where the toes overhang the ball (SPEC)
        under &= _clear_of_overhang(_carried(_plantar("find-whole"), report), xy)
    assert under.mean() > 0.8  # the truth lies under nearly all of the insert
    distance = trimesh.proximity.closest_point(truth, np.c_[xy, top][under])[1]
    assert np.percentile(distance, 95) <= 0.5 and distance.max() <= 1.0, (np.percentile(distance, 95), distance.max())
    if name == "techmed":
        gap = np.abs(gap[under])
        assert np.percentile(gap, 95) <= 0.5 and gap.max() <= 1.0, (np.percentile(gap, 95), gap.max())


@pytest.mark.parametrize("name", ["techmed", "find"])
def test_top_has_no_crease_at_half_a_millimetre(built_off, name):
    """Nothing capped: no two neighbouring top faces 4 mm inside the rim meet at over 10 degrees
    (0.5 mm mesh). On the FIND foot the fairing bends the top less where the sole turns at the sulcus;
    the techmed sheet bends less than that and is left as fitted. The report says which."""
    mesh, report = built_off(name)
    crease, faired = top_crease_deg(mesh), report["scan"]["fairing"]
    assert crease <= 10.0 and crease <= faired["crease_after_deg"] + 0.01, (crease, faired)
    if name == "find":
        assert faired["crease_before_deg"] > 15.0 and 0.0 < faired["most_mm"] < 1.0, faired
    else:
        assert faired["most_mm"] == 0.0 and faired["crease_before_deg"] == faired["crease_after_deg"] <= 10.0, faired


@pytest.mark.parametrize("name,scan", [("techmed", TECHMED), ("find", FIND)])
def test_footprint_is_the_sole_silhouette_below_the_trim(tmp_path, capsys, name, scan):
    name = "find-whole" if name == "find" else name  # the FIND foot judged against the scan itself
    """The footprint lies within 2 mm of the silhouette of the plantar surface below
    scan.trim_height_mm (20) over its lowest point, the triangles cut exactly at that height, opened
    and closed by 5 mm as the outline is; the FIND foot judged against the scan itself (SPEC: its
    labelled sole is a segmentation in a frame rolled 10-14 degrees from the balanced cast's), all
    of it below that height."""
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
    # The outline is the silhouette without the notches and teeth of its edge: opened and closed by 5 mm
    # (on the FIND foot that seals the cave under its toes, 35 mm deep behind a 3 mm mouth: filled).
    smooth = Polygon(silhouette.buffer(-5.0).buffer(5.0).buffer(5.0).buffer(-5.0).exterior)
    assert footprint(load(out)).hausdorff_distance(smooth) <= 2.0


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


# ---- It fits a shoe: the rim's heights, a smooth rim, the shoe's outline (SPEC "Foot scans") ----

SHOE_SIZE = "M10.5"  # OpenFO's insole outline (278 mm) for the techmed foot (272 mm)


def _rim_points(rim: Polygon, inset: float = 0.7, step: float = 0.5) -> np.ndarray:
    """(n, 2) points ``step`` mm apart along the rim, ``inset`` mm inside it."""
    inner = rim.buffer(-inset).exterior
    return shapely.get_coordinates(shapely.line_interpolate_point(inner, np.arange(int(inner.length / step)) * step))


def _lowest_across(mesh: trimesh.Trimesh, rim: Polygon, x: np.ndarray) -> np.ndarray:
    """(n,) the lowest top across the foot (1 mm inside the rim, every 1 mm) at each x (n,)."""
    ys = np.arange(rim.bounds[1], rim.bounds[3], 1.0)
    q = np.c_[np.repeat(x, len(ys)), np.tile(ys, len(x))]
    z = np.where(shapely.contains_xy(rim.buffer(-1.0), q[:, 0], q[:, 1]), 0.0, np.nan)
    inside = ~np.isnan(z)
    z[inside] = top_at(mesh, q[inside])
    return np.nanmin(z.reshape(len(x), len(ys)), axis=1)


def _shoe_outline(path: Path, side: str) -> Path:
    """OpenFO's insole outline of SHOE_SIZE (20 landmarks through which it fits a periodic cubic
    spline, as OpenFO does) as a CSV, for ``side`` (OpenFO draws a left foot)."""
    import csv

    from scipy.interpolate import splev, splprep

    rows = [r for r in csv.DictReader(line for line in (FEET / "openfo" / "outlines_polygons_mm.csv").open() if not line.startswith("#"))
            if r["size"] == SHOE_SIZE]
    pts = np.array([[float(r["x_mm"]), float(r["y_mm"])] for r in rows])
    pts = pts[:-1] if np.allclose(pts[0], pts[-1]) else pts
    pts[:, 0] *= -1.0 if side == "right" else 1.0
    tck, _ = splprep(pts.T, s=0, per=1)
    ring = np.array(splev(np.linspace(0.0, 1.0, 400, endpoint=False), tck)).T
    path.write_text("x,y\n" + "".join(f"{x!r},{y!r}\n" for x, y in ring.tolist()))
    return path


@pytest.fixture(scope="module")
def built_fit(tmp_path_factory):
    """name -> (mesh, report) of a scan built with the default rims (heel_cup.depth_mm 12, scan.rim_mm 5):
    ``techmed`` and ``find`` at 0.5 mm; the techmed sheet ``posed`` (turned, moved, in metres), ``mirrored``
    and as a ``noisy`` cloud (0.3 mm) at 1 mm; ``shoe`` / ``shoe-uncapped``: techmed with OpenFO's insole
    outline, at 0.5 mm, with the default rims and with nothing capped."""
    from insolegen.cli import main

    folder, built = tmp_path_factory.mktemp("fit"), {}

    def get(name: str):
        if name not in built:
            scan, args, resolution = TECHMED, [], "0.5"
            if name == "find":
                scan = FIND
            elif name == "posed":
                scan, resolution = _write(_scan_mesh(TECHMED), folder / "posed.stl", _random_pose(7, 0.001)), "1.0"
            elif name == "mirrored":
                scan, resolution = _write(_scan_mesh(TECHMED), folder / "mirrored.ply", _random_pose(8, 1.0), mirror=True), "1.0"
            elif name == "noisy":
                points = _scan_mesh(TECHMED).vertices
                scan, resolution = folder / "noisy.xyz", "1.0"
                np.savetxt(scan, points + np.random.default_rng(5).normal(0.0, 0.3, points.shape), fmt="%.4f")
            elif name.startswith("shoe"):
                args = ["--outline", _shoe_outline(folder / "shoe.csv", "right"), *(OFF if name == "shoe-uncapped" else [])]
            out = folder / f"{name}.stl"
            assert main(["build", "-q", "--scan", str(scan), "--resolution", resolution, *map(str, args), "-o", str(out)]) == 0
            built[name] = load(out), report_of(out)
        return built[name]

    return get


FITS = ["techmed", "find", "posed", "mirrored", "noisy"]


@pytest.mark.parametrize("name", FITS)
def test_heel_rim_stands_at_the_heel_cup_depth(built_fit, name):
    """heel_cup.depth_mm (12) is the heel rim's height over the heel seat (the lowest top behind
    30 % of the length): +-1 mm along the back of the heel, 0.7 mm inside the rim."""
    mesh, report = built_fit(name)
    rim, length = footprint(mesh), mesh.bounds[1, 0]
    pts = _rim_points(rim)
    back = pts[pts[:, 0] < 0.04 * length]
    heel = grid_inside(mesh, 0.5, margin=1.0)
    seat = np.nanmin(top_at(mesh, heel[heel[:, 0] < 0.3 * length]))
    height = top_at(mesh, back) - seat
    assert len(back) > 20 and np.all(np.abs(height - 12.0) <= 1.0), (height.min(), height.max())
    assert report["scan"]["rim"]["capped"]["heel"]["area_cm2"] > 0


@pytest.mark.parametrize("name", FITS)
def test_border_and_forefoot_rim_stand_no_higher_than_scan_rim_mm(built_fit, name):
    """Ahead of the 1st head and along the lateral midfoot (35-60 % of the length), the rim (0.7 mm
    inside) stands no more than scan.rim_mm (5) + 0.5 mm over the top's lowest point across the foot there."""
    mesh, report = built_fit(name)
    rim, length = footprint(mesh), mesh.bounds[1, 0]
    pts = _rim_points(rim)[::4]  # every 2 mm
    lateral = -1 if report["side"] == "right" else 1
    ahead = pts[:, 0] > report["landmarks"]["mtpj1"]["xy_mm"][0]
    border = (pts[:, 0] > 0.35 * length) & (pts[:, 0] < 0.6 * length) & (pts[:, 1] * lateral > 0)
    for where in (ahead, border):
        over = top_at(mesh, pts[where]) - _lowest_across(mesh, rim, pts[where, 0])
        assert where.sum() > 10 and np.nanmax(over) <= 5.5, np.nanmax(over)


@pytest.mark.parametrize("name", FITS)
def test_rim_runs_smoothly_along_a_smooth_outline(built_fit, name):
    """0.7 mm inside the rim, no step over 0.3 mm between points 0.5 mm apart; the outline within
    0.3 mm of its own opening and closing by 5 mm (no notch or tooth of the scan's edge)."""
    mesh, _ = built_fit(name)
    rim = footprint(mesh)
    z = top_at(mesh, _rim_points(rim))
    steps = np.abs(np.diff(np.r_[z, z[:1]]))
    assert not np.isnan(steps).any() and steps.max() <= 0.3, steps.max()
    assert rim.hausdorff_distance(rim.buffer(-5.0).buffer(5.0)) <= 0.3
    assert rim.hausdorff_distance(rim.buffer(5.0).buffer(-5.0)) <= 0.3


@pytest.mark.parametrize("name", ["techmed", "find"])
def test_rim_levels_off_without_a_crease(built_fit, name):
    """The top meets the rim's heights smoothly: no two neighbouring top faces 4 mm inside the
    rim meet at over 10 degrees (0.5 mm mesh). On the FIND foot the forefoot's rim also levels
    off the step its toes make over the ball."""
    mesh, _ = built_fit(name)
    assert mesh.is_watertight
    assert top_crease_deg(mesh) <= 10.0


def test_medial_arch_follows_the_cast_to_the_outline(built_off, built_fit):
    """Along the medial arch (35-50 % of the length) the default rims change nothing: the top as
    with nothing capped, to 1 mm from the rim; elsewhere they lower it."""
    capped, report = built_fit("techmed")
    free, _ = built_off("techmed")
    xy = grid_inside(capped, 1.0, margin=1.0)
    length, medial = capped.bounds[1, 0], 1 if report["side"] == "right" else -1
    arch = (xy[:, 0] > 0.35 * length) & (xy[:, 0] < 0.5 * length) & (xy[:, 1] * medial > 0)
    diff = top_at(capped, xy) - top_at(free, xy)
    assert np.nanmax(np.abs(diff[arch])) <= 0.05
    assert np.nanmin(diff[~arch]) < -5.0


def test_shoe_outline_trims_the_molded_top(built_fit, tmp_path):
    """--outline beside --scan: the footprint within 0.2 mm of the shoe's outline (as placed in the
    output frame); inside it, 4 mm or more from the rim and where nothing is capped, the top within
    0.5 mm (P95) of the scan's sole; where it reaches past the scan's footprint the top goes on
    smoothly (no crease over 10 degrees) at the rim's height. The report names the outline used."""
    from insolegen import api

    mesh, report = built_fit("shoe")
    uncapped, _ = built_fit("shoe-uncapped")
    shoe = api.load_outline(_shoe_outline(tmp_path / "shoe.csv", "right"), side="right")
    rim = footprint(mesh)
    assert rim.hausdorff_distance(shoe.polygon) <= 0.2
    assert report["scan"]["outline"]["file"].endswith("shoe.csv") and "--outline" in report["scan"]["outline"]["used"]
    assert report["input"]["foot_length_mm"] == pytest.approx(shoe.length_mm, abs=0.2)
    xy = grid_inside(mesh, 1.0, margin=4.0)
    top = top_at(mesh, xy)
    sole = _envelope(_carried(_plantar("techmed"), report), xy)
    kept = ~np.isnan(sole) & (np.abs(top - top_at(uncapped, xy)) <= 0.01)
    assert kept.mean() > 0.5
    assert np.percentile(np.abs(top - sole)[kept], 95) <= 0.5
    assert top_crease_deg(mesh) <= 10.0 and top_crease_deg(uncapped) <= 10.0
    # Past the scan's footprint (its silhouette below the trim, 1 mm out) the top stays at the rim's height:
    # no higher than the highest rim of the build without the shoe's outline, no lower than its lowest.
    own, _ = built_fit("techmed")
    ring = top_at(own, _rim_points(footprint(own)))
    past = ~shapely.contains_xy(footprint(own).buffer(1.0), xy[:, 0], xy[:, 1])
    assert past.sum() > 50 and np.nanmin(ring) - 0.5 <= np.nanmin(top[past]) and np.nanmax(top[past]) <= np.nanmax(ring) + 0.5


def test_shoe_outline_is_checked(tmp_path, capsys):
    code, _, err = run(["build", "--scan", TECHMED, "--outline", tmp_path / "missing.csv", "-o", tmp_path / "x.stl"], capsys)
    assert code == 2 and err.count("\n") == 1 and "missing.csv" in err and not (tmp_path / "x.stl").exists()
