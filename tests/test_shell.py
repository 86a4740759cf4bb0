"""Functional shells on a rearfoot post (`device.type=shell`), measured on the exported files as a
lab measures a shell: the sheet's thickness along the normals of its top (rays cast here with
trimesh, not the product's own measure), the trim edge behind the heads, the post's bottom,
angle, motion and length, each part watertight and one body; PrusaSlicer slices the 3MF."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
import shapely
import trimesh
from conftest import FEET, load, real_outlines, report_of, run, top_at, write_csv
from scan_files import FIND, TECHMED, moved, needs_scans, scan_mm, write
from shapely.geometry import MultiLineString
from test_zones import needs_prusa, slice_, volumes_of

from insolegen.qa import manifold_status

RES = "1.5"
SHELL = ["--set", "device.type=shell", "--set", "heel_cup.depth_mm=14"]
THREE_QUARTER = ["--set", "shell.length=three_quarter"]
FOUR_FOUR = ["--set", "posting.rearfoot_deg=4", "--set", "posting.rearfoot_motion_deg=4"]
EMED = FEET / "emed" / "emed_test_footprint_outline_mm.csv"


def build(folder: Path, name: str, *args) -> Path:
    from insolegen.cli import main

    out = folder / name
    assert main(["build", "-q", "--resolution", RES, *SHELL, *map(str, args), "-o", str(out)]) == 0
    return out


def rim_of(mesh: trimesh.Trimesh) -> MultiLineString:
    """The device's rim seen from above: the xy segments of its vertical side walls."""
    walls = mesh.vertices[mesh.faces[np.abs(mesh.face_normals[:, 2]) < 1e-6]]
    segments = [np.unique(np.round(w[:, :2], 6), axis=0) for w in walls]
    return MultiLineString([s for s in segments if len(s) == 2])


def normal_thickness(mesh: trimesh.Trimesh, samples: int = 2500) -> tuple[np.ndarray, np.ndarray]:
    """(points (k, 3) on the top, thickness (k,) mm): from the centroids of evenly spread top
    faces (normal z > 0.2: walls up to 78 degrees), a ray in along the face normal to the first
    surface it meets."""
    top = np.flatnonzero(mesh.face_normals[:, 2] > 0.2)
    top = top[np.linspace(0, len(top) - 1, min(samples, len(top))).round().astype(int)]
    n, start = mesh.face_normals[top], mesh.triangles_center[top] - 1e-4 * mesh.face_normals[top]
    loc, ray, _ = mesh.ray.intersects_location(start, -n, multiple_hits=True)
    dist = np.einsum("ij,ij->i", loc - start[ray], -n[ray])
    out = np.full(len(top), np.inf)
    np.minimum.at(out, ray[dist > 1e-4], dist[dist > 1e-4] + 1e-4)
    return mesh.triangles_center[top], out


def shell_part(path: Path) -> trimesh.Trimesh:
    """The sheet alone: the body with the most top faces (an extrinsic post is a body of its own)."""
    bodies = load(path).split(only_watertight=False)
    return max(bodies, key=lambda b: np.count_nonzero(b.face_normals[:, 2] > 0.2) * b.area)


def plane(points: np.ndarray) -> tuple[np.ndarray, float]:
    """z = a x + b y + c fitted to points (k, 3): ((a, b, c), max |residual|)."""
    design = np.c_[points[:, :2], np.ones(len(points))]
    coef = np.linalg.lstsq(design, points[:, 2], rcond=None)[0]
    return coef, float(np.abs(design @ coef - points[:, 2]).max())


@pytest.fixture(scope="module")
def posted(tmp_path_factory):
    """The usual device: a 3 mm 3/4 shell on a 4/4 extrinsic post with a 14 mm cup (STL, 3MF),
    the same shell unposted, and an intrinsic valgus post (-4 degrees, 2 of motion)."""
    folder = tmp_path_factory.mktemp("shell")
    return {
        "extrinsic": build(folder, "post.stl", *THREE_QUARTER, *FOUR_FOUR, "--set", "post.rearfoot=extrinsic"),
        "3mf": build(folder, "post.3mf", *THREE_QUARTER, *FOUR_FOUR, "--set", "post.rearfoot=extrinsic"),
        "unposted": build(folder, "plain.stl", *THREE_QUARTER),
        "intrinsic": build(folder, "valgus.stl", *THREE_QUARTER, "--set", "post.rearfoot=intrinsic", "--set",
                           "posting.rearfoot_deg=-4", "--set", "posting.rearfoot_motion_deg=2", "--set", "post.length_pct=40"),
    }


# --- the sheet: thickness along the normal ------------------------------------------------------


def _sheet_cases():
    yield pytest.param("builtin-posted", None, marks=())
    yield pytest.param("find-outline-turned-left-thick-deep", "outline", marks=pytest.mark.skipif(not FEET.is_dir(), reason="no feet data"))
    yield pytest.param("emed-turned-mirrored", EMED, marks=pytest.mark.skipif(not EMED.is_file(), reason="no emed data"))
    yield pytest.param("techmed", TECHMED, marks=needs_scans)
    yield pytest.param("find-whole-moved-mirrored", FIND, marks=needs_scans)


@pytest.fixture(scope="module")
def sheets(tmp_path_factory):
    return tmp_path_factory.mktemp("sheets")


@pytest.mark.parametrize("case,source", list(_sheet_cases()))
def test_the_sheet_is_its_thickness_along_the_normal(case, source, sheets, posted, capsys):
    """3 mm or more from the rim (the trim edge too) and away from the post: P5-P95 of the normal
    thickness within +-0.1 mm of the prescription, nowhere under it by more than 0.2 mm, the heel
    cup's walls included; on real outlines and scans in other places, turns and sides, and a
    5 mm sheet over a 25 mm cup, a 20 mm arch, a flange and a met pad (tight spots)."""
    if source is None:
        path = posted["extrinsic"]
    elif source == EMED:
        pts = real_outlines()["emed_test_footprint_outline_mm"]
        turn = np.radians(73.0)
        rot = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
        outline = write_csv(sheets / "emed.csv", (pts * [1.0, -1.0]) @ rot.T + [40.0, -90.0])  # mirrored: the other side
        path = build(sheets, f"{case}.stl", "--outline", outline, "--outline-kind", "footprint", "--side", "right",
                     "--set", "arch.height_mm=14")
    elif source == "outline":  # a real outline in another place and turn, a thick sheet over tight spots
        pts = real_outlines()["template_sole_outline_mm"]
        outline = write_csv(sheets / "find.csv", pts @ np.array([[0.0, -1.0], [1.0, 0.0]]) + [300.0, 120.0])
        thick = ["--set", "shell.thickness_mm=5", "--set", "heel_cup.depth_mm=25", "--set", "arch.height_mm=20",
                 "--set", "flange.medial_mm=12", "--set", "met_pad.enabled=true"]
        path = build(sheets, f"{case}.stl", "--outline", outline, "--side", "left", *thick)
    elif source == TECHMED:
        path = build(sheets, f"{case}.stl", "--scan", TECHMED)
    else:
        vertices, faces = scan_mm(FIND)
        scan = write(sheets / "find.ply", moved(vertices, seed=5, mirror=True), faces[:, ::-1])
        path = build(sheets, f"{case}.stl", "--scan", scan, *THREE_QUARTER, "--set", "post.rearfoot=intrinsic", *FOUR_FOUR)
    report = report_of(path)
    mesh = shell_part(path) if source is None else load(path)
    want = report["prescription"]["shell"]["thickness_mm"]
    points, thickness = normal_thickness(mesh)
    # 3 mm or more from the rim (a sheet's thickness, for thicker sheets: a normal ray on a steep
    # wall runs that far across before it meets the underside)
    away = shapely.distance(rim_of(mesh), shapely.points(points[:, :2])) >= max(3.0, want)
    post = report["shell"]["post"]
    if post is not None:  # the post under the heel: the first surface along the normal is its bottom
        away &= points[:, 0] > post["reach_mm"] + 3.0
    t = thickness[away]
    p5, p50, p95 = np.percentile(t, [5, 50, 95])
    print(f"{case}: {len(t)} normals, min {t.min():.3f} P5 {p5:.3f} P50 {p50:.3f} P95 {p95:.3f} mm")
    assert len(t) > 500 and np.isfinite(t).all()
    assert want - 0.1 <= p5 and p95 <= want + 0.1
    assert t.min() >= want - 0.2
    # and the report says the same
    nt = report["shell"]["normal_thickness"]
    assert abs(nt["p50_mm"] - want) <= 0.05 and nt["p5_mm"] >= want - 0.1 and nt["p95_mm"] <= want + 0.1
    assert report["qa"]["watertight"] and report["qa"]["manifold3d"] == "NoError"
    if post is not None:  # the post on a moved scan as on the built-in outline
        assert post["bottom_plane_residual_mm"] <= 0.05 and post["rearfoot_deg"] == pytest.approx(4.0, abs=0.5)
        assert post["motion_deg"] == pytest.approx(4.0, abs=0.5) and post["flat_end_pct"] == pytest.approx(30.0, abs=1.0)


def test_the_heel_cup_is_a_wall_of_the_sheet_not_a_block(posted):
    """On the cup's wall the sheet is 3 mm along the normal, so more than 3 mm vertically, and a
    vertical ray meets it twice (top and underside): no solid block fills the cup."""
    mesh = load(posted["unposted"])
    points, thickness = normal_thickness(mesh, 6000)
    report = report_of(posted["unposted"])
    heel = np.array(report["landmarks"]["heel_centre"]["xy_mm"])
    near_heel = np.linalg.norm(points[:, :2] - heel, axis=1) < 40.0
    away = shapely.distance(rim_of(mesh), shapely.points(points[:, :2])) >= 3.0
    steep = near_heel & away & (points[:, 2] > 6.0)  # up the wall of the 14 mm cup
    assert np.count_nonzero(steep) > 10
    assert np.all(np.abs(thickness[steep] - 3.0) <= 0.2)
    xy = points[steep, :2]
    vertical = top_at(mesh, xy) - _bottom_at(mesh, xy)
    assert np.median(vertical) > 3.3, "a wall's vertical thickness is t / cos(slope)"
    assert vertical.max() < 12.0, "the cup is a wall of the sheet, not a block down to the ground"


def _bottom_at(mesh: trimesh.Trimesh, xy: np.ndarray) -> np.ndarray:
    """(n,) z of the sheet's underside under the top at xy (n, 2): a downward ray's second surface."""
    origins = np.c_[xy, np.full(len(xy), mesh.bounds[1, 2] + 10.0)]
    loc, ray, _ = mesh.ray.intersects_location(origins, np.tile([0.0, 0.0, -1.0], (len(xy), 1)), multiple_hits=True)
    out = np.full(len(xy), np.nan)
    for i in range(len(xy)):
        z = np.sort(np.unique(np.round(loc[ray == i, 2], 6)))[::-1]
        out[i] = z[1] if len(z) > 1 else np.nan
    return out


# --- trim ---------------------------------------------------------------------------------------


def test_the_three_quarter_trim_runs_12_and_10_mm_behind_the_heads(posted):
    """The distal edge is a straight line 12 mm behind the 1st head and 10 mm behind the 5th (+-1 mm)."""
    mesh, report = load(posted["unposted"]), report_of(posted["unposted"])
    first = np.array(report["landmarks"]["mtpj1"]["xy_mm"])
    fifth = np.array(report["landmarks"]["mtpj5"]["xy_mm"])
    rim = np.vstack([np.asarray(g.coords) for g in rim_of(mesh).geoms])
    front = rim[rim[:, 0] > min(first[0], fifth[0]) - 25.0]
    # the foremost rim point in each 1 mm band across: the distal edge; its ends (5 mm) may round
    bands = np.floor(front[:, 1]).astype(int)
    edge = np.array([front[bands == b][np.argmax(front[bands == b, 0])] for b in np.unique(bands)])
    lo, hi = edge[:, 1].min() + 5.0, edge[:, 1].max() - 5.0
    edge = edge[(edge[:, 1] > lo) & (edge[:, 1] < hi)]
    slope, cross = np.polyfit(edge[:, 1], edge[:, 0], 1)
    assert np.abs(edge[:, 0] - (slope * edge[:, 1] + cross)).max() < 0.3, "a straight line"
    behind1 = first[0] - (slope * first[1] + cross)
    behind5 = fifth[0] - (slope * fifth[1] + cross)
    print(f"trim edge {behind1:.2f} mm behind the 1st head, {behind5:.2f} behind the 5th")
    assert behind1 == pytest.approx(12.0, abs=1.0) and behind5 == pytest.approx(10.0, abs=1.0)
    trim = report["shell"]["trim_edge"]
    assert trim["behind_mtpj1_mm"] == pytest.approx(12.0, abs=1.0) and trim["behind_mtpj5_mm"] == pytest.approx(10.0, abs=1.0)


# --- the post -----------------------------------------------------------------------------------


def _post_body(path: Path) -> trimesh.Trimesh:
    bodies = load(path).split(only_watertight=False)
    assert len(bodies) == 2, "the STL holds the whole device: the shell and its extrinsic post"
    return min(bodies, key=lambda b: b.bounds[1, 2])


def _seat_roll_deg(path: Path) -> float:
    """The heel seat's roll (degrees, + = medial side up), by vertical rays within 12 mm of the heel centre."""
    report, mesh = report_of(path), load(path)
    heel = np.array(report["landmarks"]["heel_centre"]["xy_mm"])
    theta, radius = np.meshgrid(np.linspace(0, 2 * np.pi, 24, endpoint=False), [3.0, 6.0, 9.0, 12.0])
    xy = heel + np.c_[(radius * np.cos(theta)).ravel(), (radius * np.sin(theta)).ravel()]
    (_, b, _), _ = plane(np.c_[xy, top_at(mesh, xy)])
    medial = 1.0 if report["side"] == "right" else -1.0
    return float(np.degrees(np.arctan(b * medial)))


@pytest.mark.parametrize("kind", ["extrinsic", "intrinsic"])
def test_the_post_stands_flat_turns_the_heel_seat_and_grinds_its_motion(kind, posted):
    """Bottom flat at z = 0 (plane residual <= 0.05 mm); the heel seat rolled by the post's angle
    against the same shell unposted (+-0.5 deg); the motion facet one plane at its angle (+-0.5)
    meeting the ground along the midline, on the medial half (lateral for valgus); the flat
    ending at post.length_pct of the foot length (+-2 mm); the post under the whole heel."""
    path = posted[kind]
    report = report_of(path)
    angle, motion, pct = (4.0, 4.0, 30.0) if kind == "extrinsic" else (-4.0, 2.0, 40.0)
    length = report["input"]["foot_length_mm"]
    heel = np.array(report["landmarks"]["heel_centre"]["xy_mm"])
    medial = 1.0 if report["side"] == "right" else -1.0
    body = _post_body(path) if kind == "extrinsic" else load(path)
    normals, centres = body.face_normals, body.triangles_center
    flat = (normals[:, 2] < -0.999) & (np.abs(centres[:, 2]) < 0.01)
    flat_pts = body.vertices[np.unique(body.faces[flat])]
    (_, _, c), residual = plane(flat_pts)
    assert residual <= 0.05 and abs(c) <= 0.05 and body.bounds[0, 2] == pytest.approx(0.0, abs=1e-6)
    in_post = flat_pts[:, 0] < 0.5 * length  # an intrinsic device's forefoot rests on the ground too
    flat_end = flat_pts[in_post, 0].max()
    print(f"{kind}: flat to {flat_end:.2f} mm ({100 * flat_end / length:.2f} %)")
    assert flat_end == pytest.approx(pct / 100 * length, abs=2.0)
    roll = _seat_roll_deg(path) - _seat_roll_deg(posted["unposted"])
    print(f"{kind}: heel seat roll against the unposted shell {roll:.3f} deg")
    assert roll == pytest.approx(angle, abs=0.5)
    side = medial * np.sign(angle)
    facet = (normals[:, 2] < -0.5) & (normals[:, 2] > -0.9999) & (normals[:, 1] * side > 0) & (centres[:, 0] < pct / 100 * length - 3.0)
    (a, b, c), facet_residual = plane(body.vertices[np.unique(body.faces[facet])])
    ground_y = -(a * heel[0] + c) / b  # where the facet's plane meets z = 0 at the heel centre
    print(f"{kind}: motion facet {np.degrees(np.arctan(abs(b))):.3f} deg, meets the ground at y {ground_y:.2f} (heel centre {heel[1]:.2f})")
    assert np.degrees(np.arctan(np.hypot(a, b))) == pytest.approx(motion, abs=0.5)
    assert facet_residual <= 0.05 and ground_y == pytest.approx(heel[1], abs=1.0)
    assert np.all((centres[facet, 1] - heel[1]) * side > -0.5), "the facet lies on its own half"
    # the post covers the heel to within a few mm of the outline
    sheet_rim = rim_of(shell_part(path) if kind == "extrinsic" else load(path))
    under = shapely.union_all([shapely.Polygon(t[:, :2]) for t in body.triangles[normals[:, 2] < -0.5]]).buffer(0.01)
    rim_pts = np.vstack([np.asarray(g.coords) for g in sheet_rim.geoms])
    heel_rim = rim_pts[rim_pts[:, 0] < 0.2 * length]
    assert shapely.distance(under, shapely.points(heel_rim)).max() <= 3.0
    built = report["shell"]["post"]
    assert built["bottom_plane_residual_mm"] <= 0.05 and built["rearfoot_deg"] == pytest.approx(angle, abs=0.5)
    assert built["motion_deg"] == pytest.approx(motion, abs=0.5) and built["flat_end_pct"] == pytest.approx(pct, abs=1.0)


def test_each_part_is_watertight_one_body_and_the_3mf_holds_them_as_two_parts(posted):
    """The STL holds the whole device (two bodies for an extrinsic post, one for an intrinsic);
    the 3MF's object has the shell and the post as two printed parts, each watertight, one body,
    accepted by manifold3d."""
    for kind, bodies in (("extrinsic", 2), ("intrinsic", 1), ("unposted", 1)):
        whole = load(posted[kind])
        assert whole.is_watertight, "the bodies share no vertex: merged, each is still closed"
        parts = whole.split(only_watertight=False)
        assert len(parts) == bodies
        for part in parts:
            assert part.is_watertight and part.is_winding_consistent and part.volume > 0
            assert manifold_status(part.vertices, part.faces) == "NoError"
    archive = zipfile.ZipFile(posted["3mf"])
    config = ElementTree.fromstring(archive.read("Metadata/Slic3r_PE_model.config"))
    names = [{m.get("key"): m.get("value") for m in v.iter("metadata")} for v in config.iter("volume")]
    assert [(n["name"], n["volume_type"]) for n in names] == [("insert", "ModelPart"), ("post", "ModelPart")]
    for volume in volumes_of(posted["3mf"]):
        part = volume["mesh"]
        part.merge_vertices()
        assert part.is_watertight and part.body_count == 1
        assert manifold_status(part.vertices, part.faces) == "NoError"


# --- bad combinations ---------------------------------------------------------------------------


@pytest.mark.parametrize("args,names", [
    (["--set", "post.rearfoot=extrinsic"], "post.rearfoot"),
    (["--set", "device.type=shell", "--set", "shell.thickness_mm=1.5", "--set", "shell.min_thickness_mm=1"], "shell.thickness_mm"),
    (["--set", "device.type=shell", "--set", "first_ray_cutout.depth_mm=1.5"], "first_ray_cutout.depth_mm"),
    (["--set", "device.type=shell", "--set", "shoe.heel_pitch_mm=10"], "shoe.heel_pitch_mm"),  # was built flat, silently
    (["--set", "device.type=shell", "--set", "shoe.toe_spring_mm=5"], "shoe.toe_spring_mm"),
])
def test_bad_combinations_get_one_line_and_exit_2(args, names, tmp_path, capsys):
    out = tmp_path / "bad.stl"
    code, _, err = run(["build", *args, "-o", out], capsys)
    assert code == 2 and names in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()


def test_bundled_shell_profiles_build(tmp_path, capsys):
    """The usual devices as bundled profiles, each with its sources."""
    from insolegen import prescription

    for name in ("polypropylene_shell_4_4", "dress_shell"):
        rx = prescription.resolve(name)
        assert rx.device.type == "shell" and prescription.profile_sources(name)
    rx = prescription.resolve("polypropylene_shell_4_4")
    assert (rx.shell.thickness_mm, rx.shell.length, rx.post.rearfoot, rx.posting.rearfoot_deg, rx.posting.rearfoot_motion_deg,
            rx.heel_cup.depth_mm) == (3.0, "three_quarter", "extrinsic", 4.0, 4.0, 14.0)
    out = tmp_path / "dress.stl"
    assert run(["build", "--resolution", "2", "--profile", "dress_shell", "-o", out], capsys)[0] == 0
    assert json.loads(out.with_name("dress.report.json").read_text())["shell"]["normal_thickness"]["p50_mm"] == pytest.approx(
        prescription.resolve("dress_shell").shell.thickness_mm, abs=0.05)


@needs_prusa
def test_prusaslicer_slices_the_shell_and_its_post(posted):
    """PrusaSlicer reads the 3MF (the shell and the post, two parts of one object) and prints
    both: extrusion from the post's first layer up to the top of the heel cup."""
    gcode = slice_(posted["3mf"])
    layers = sorted({float(z) for z in re.findall(r"^G1 Z([\d.]+)", gcode, flags=re.MULTILINE)})
    assert layers and layers[0] <= 0.35 and layers[-1] >= load(posted["3mf"]).bounds[1, 2] - 0.5


@pytest.mark.parametrize("extent", ["toes", "sulcus"])
def test_a_top_cover_continues_past_the_three_quarter_shell_on_the_ground(extent, tmp_path):
    """The cover runs on past the shell's trim edge to top_cover.extent as a layer of its own
    thickness on the ground (its own body, touching the shell's edge), level with the cover on
    the shell at the edge; the shell under the cover keeps its thickness."""
    path = build(tmp_path, "cover.stl", *THREE_QUARTER, "--set", "top_cover.thickness_mm=2", "--set", f"top_cover.extent={extent}")
    report, mesh = report_of(path), load(path)
    length = report["input"]["foot_length_mm"]
    reach = mesh.bounds[1, 0]
    assert reach == pytest.approx(length if extent == "toes" else report["landmarks"]["sulcus_x_mm"], abs=15.0 if extent == "sulcus" else 0.5)
    first = np.array(report["landmarks"]["mtpj1"]["xy_mm"]) - [12.0, 0.0]
    fifth = np.array(report["landmarks"]["mtpj5"]["xy_mm"]) - [10.0, 0.0]
    edge = first[0] + (fifth[0] - first[0]) * (0.0 - first[1]) / (fifth[1] - first[1])  # the trim edge at y = 0
    tip = mesh.vertices[np.abs(mesh.vertices[:, 1]) < 1.0, 0].max()  # the cover's front at y = 0
    xs = np.arange(edge + 15.5, tip - 3.0, 3.0)  # past the cover's 15 mm ramp down from the shell's edge
    xy = np.c_[xs, np.zeros_like(xs)]
    assert len(xs) >= 3
    assert np.allclose(top_at(mesh, xy), 2.0, atol=0.05), "the cover's own thickness on the ground"
    assert np.allclose(_bottom_at(mesh, xy), 0.0, atol=1e-6)
    bodies = mesh.split(only_watertight=False)
    assert mesh.is_watertight and len(bodies) == 2 and all(b.is_watertight for b in bodies)
    assert report["shell"]["normal_thickness"]["p50_mm"] == pytest.approx(3.0, abs=0.05)


def test_the_sheet_never_folds_and_builds_the_same_bytes(posted, tmp_path):
    """Every vertical ray through the unposted shell meets it exactly twice (top, underside: no
    fold, no self-intersection, tight spots included), and the same inputs give the same bytes."""
    from conftest import grid_inside, hit_counts

    mesh = load(posted["unposted"])
    xy = grid_inside(mesh, 1.0)
    assert len(xy) > 5000 and np.all(hit_counts(mesh, xy) == 2)
    some = xy[:: len(xy) // 400]
    assert np.all(top_at(mesh, some) - _bottom_at(mesh, some) >= 3.0 - 0.01), "never thinner than the sheet, vertically"
    again = build(tmp_path, "again.stl", *THREE_QUARTER)
    assert again.read_bytes() == posted["unposted"].read_bytes()


def test_print_zones_grade_the_shell_and_leave_the_post_as_it_is(tmp_path):
    """A zone's infill is the shell's: the heel zone's modifier lies inside the sheet, none of it in
    the extrinsic post (which a slicer would otherwise print at the heel's 20 %, soft)."""
    from insolegen.qa import as_manifold

    out = build(tmp_path, "zoned.3mf", *THREE_QUARTER, *FOUR_FOUR, "--set", "post.rearfoot=extrinsic", "--set", "zones.heel.infill_pct=20")
    found = {v["keys"]["name"]: v["mesh"] for v in volumes_of(out)}
    solid = {}
    for name in ("insert", "post", "heel zone"):
        part = found[name].copy()
        part.merge_vertices()
        solid[name] = as_manifold(part.vertices, part.faces.astype(np.int32))
    zone = solid["heel zone"].volume()
    assert zone > 1000.0
    assert (solid["heel zone"] ^ solid["post"]).volume() < 0.01 * zone
    assert (solid["heel zone"] ^ solid["insert"]).volume() > 0.99 * zone
