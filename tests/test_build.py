"""The core contract, checked on exported files: solid validity, frame, precision, smoothness."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import footprint, grid_inside, hit_counts, load, report_of, run, top_at

from insolegen.qa import manifold_status


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Builds shared by several tests: name -> path of the exported STL."""
    out = tmp_path_factory.mktemp("built")
    import io
    from contextlib import redirect_stderr

    from insolegen.cli import main

    cases = {
        "default": [],
        "plain": ["--arch-height", "0", "--set", "heel_cup.depth_mm=0"],
        "lift6": ["--leg-length-offset", "6"],
        "pad": ["--met-pad", "--set", "met_pad.height_mm=6"],
        "left18": ["--side", "left", "--arch-height", "18"],
        "left0": ["--side", "left", "--arch-height", "0"],
    }
    paths = {}
    for name, args in cases.items():
        paths[name] = out / f"{name}.stl"
        with redirect_stderr(io.StringIO()):
            assert main(["build", *args, "-o", str(paths[name])]) == 0
    return paths


def test_default_build_writes_insert_and_report(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["build"], capsys)
    assert code == 0, err
    stl = tmp_path / "outputs" / "insert-right.stl"
    assert stl.is_file() and (tmp_path / "outputs" / "insert-right.report.json").is_file()
    mesh = load(stl)
    assert mesh.bounds[0].tolist() == pytest.approx([0.0, -50.0, 0.0], abs=1e-4)
    assert (mesh.bounds[1] - mesh.bounds[0])[:2].tolist() == pytest.approx([265.0, 100.0], abs=1e-3)


@pytest.mark.parametrize("name", ["default", "lift6", "pad", "left18", "plain"])
def test_solid_is_valid(built, name):
    mesh = load(built[name])
    assert mesh.is_watertight
    assert mesh.is_winding_consistent
    assert mesh.body_count == 1
    assert mesh.volume > 0
    assert mesh.area_faces.min() > 1e-6
    assert manifold_status(mesh.vertices, mesh.faces) == "NoError"


def test_top_is_a_height_field(built):
    mesh = load(built["default"])
    xy = grid_inside(mesh, 3.0)
    assert len(xy) > 1500
    assert (hit_counts(mesh, xy) == 2).all()


def test_thickness_never_below_minimum(built):
    mesh = load(built["default"])
    xy = grid_inside(mesh, 2.0, margin=0.05)
    assert np.nanmin(top_at(mesh, xy)) >= 2.0
    assert mesh.vertices[:, 2].min() == pytest.approx(0.0, abs=1e-9)


def _diff(with_path, without_path, xy):
    return top_at(load(with_path), xy) - top_at(load(without_path), xy)


def test_heel_lift_is_exact_under_the_heel_and_zero_at_toes(built):
    mesh = load(built["default"])
    xy = grid_inside(mesh, 1.5)
    d = _diff(built["lift6"], built["default"], xy)
    length = mesh.bounds[1, 0]
    heel = xy[:, 0] < 0.28 * length
    toes = xy[:, 0] > 0.62 * length
    assert np.abs(d[heel] - 6.0).max() <= 0.05
    assert np.abs(d[toes]).max() <= 0.05


def test_left_arch_is_on_minus_y(built):
    mesh = load(built["left18"])
    xy = grid_inside(mesh, 0.7, margin=0.01)
    d = _diff(built["left18"], built["left0"], xy)
    i = int(np.nanargmax(d))
    length = mesh.bounds[1, 0]
    assert d[i] == pytest.approx(18.0, abs=0.1)
    assert 0.30 * length <= xy[i, 0] <= 0.60 * length
    assert xy[i, 1] < 0


def test_arch_on_and_off_differ_by_the_arch_only(tmp_path, capsys):
    a, b = tmp_path / "a.stl", tmp_path / "b.stl"
    assert run(["build", "--arch-height", "15", "-o", a], capsys)[0] == 0
    assert run(["build", "--arch-height", "0", "-o", b], capsys)[0] == 0
    mesh = load(a)
    xy = grid_inside(mesh, 0.7, margin=0.01)
    d = _diff(a, b, xy)
    i = int(np.nanargmax(d))
    length = mesh.bounds[1, 0]
    assert d[i] == pytest.approx(15.0, abs=0.1)
    assert 0.30 * length <= xy[i, 0] <= 0.60 * length
    assert xy[i, 1] > 0  # medial half of a right insert
    assert np.abs(d[xy[:, 0] > 0.75 * length]).max() <= 1e-3


def test_met_pad_height_and_place(built):
    mesh = load(built["pad"])
    rep = report_of(built["pad"])
    xy = grid_inside(mesh, 0.5)
    d = _diff(built["pad"], built["default"], xy)
    i = int(np.nanargmax(d))
    assert d[i] == pytest.approx(6.0, abs=0.1)
    m1, m5 = (np.array(rep["landmarks"][k]["xy_mm"]) for k in ("mtpj1", "mtpj5"))
    normal = np.array([(m5 - m1)[1], -(m5 - m1)[0]]) / np.linalg.norm(m5 - m1)
    normal = normal if normal[0] > 0 else -normal
    behind = (m1 - xy[i]) @ normal
    assert behind > 0  # proximal to the metatarsal-head line
    along = (xy[i] - m1) @ (m5 - m1) / np.linalg.norm(m5 - m1) ** 2
    assert 0.25 <= along <= 0.75  # between the 2nd and 4th metatarsals
    assert np.abs(d[(xy[:, 0] < 0.45 * mesh.bounds[1, 0])]).max() <= 1e-3


def test_footprint_matches_outline_and_frame(built):
    from insolegen.template import builtin

    rim = footprint(load(built["default"]))
    assert rim.hausdorff_distance(builtin().polygon) <= 0.2


def test_same_inputs_same_bytes(tmp_path, capsys):
    a, b = tmp_path / "a.stl", tmp_path / "b.stl"
    for path in (a, b):
        assert run(["build", "--met-pad", "--leg-length-offset", "4", "-o", path], capsys)[0] == 0
    assert a.read_bytes() == b.read_bytes()


def _dihedral_deg(mesh, faces_mask):
    """Angles between adjacent faces both selected by faces_mask."""
    pairs = mesh.face_adjacency
    keep = faces_mask[pairs[:, 0]] & faces_mask[pairs[:, 1]]
    return np.degrees(mesh.face_adjacency_angles[keep])


@pytest.mark.parametrize("args", [
    ["--arch-height", "25", "--leg-length-offset", "20", "--met-pad", "--set", "met_pad.height_mm=10",
     "--set", "met_pad.width_mm=26", "--set", "posting.rearfoot_deg=8", "--set", "heel_cup.depth_mm=30"],
    ["--arch-height", "15", "--set", "arch.apex_pct=60", "--met-pad", "--set", "met_pad.width_mm=18",
     "--set", "met_pad.length_mm=20", "--set", "met_pad.height_mm=5.2", "--set", "posting.rearfoot_deg=-10"],
])
def test_smooth_at_half_millimetre(tmp_path, capsys, args):
    import shapely

    path = tmp_path / "s.stl"
    assert run(["build", *args, "--resolution", "0.5", "-o", path], capsys)[0] == 0
    mesh = load(path)
    normals = mesh.face_normals
    centre = mesh.triangles_center
    rim = footprint(mesh)
    inner = rim.buffer(-4.0)
    length = mesh.bounds[1, 0]
    top = (normals[:, 2] > 0.1) & shapely.contains_xy(inner, centre[:, 0], centre[:, 1])
    away_from_cup = top & ~((centre[:, 0] < 0.45 * length) & ~shapely.contains_xy(rim.buffer(-25.0), centre[:, 0], centre[:, 1]))
    assert _dihedral_deg(mesh, away_from_cup).max() <= 10.0


@pytest.mark.parametrize("resolution", [0.5, 1.0, 3.0])
def test_triangulation_is_a_disc_on_every_outline(resolution):
    """The rim band (Delaunay) and the lattice core meet edge to edge on every real outline:
    each edge in at most two triangles, the rim exactly the boundary, one orientation."""
    from conftest import real_outlines

    from insolegen import landmarks, prescription, triangulate
    from insolegen.outline import from_points
    from insolegen.template import builtin_points

    rx = prescription.resolve(None, {})
    for name, pts in {**real_outlines(), "builtin": builtin_points()}.items():
        outline = from_points(pts, "mm", "left", name)
        points, tri, rim = triangulate.triangulate(outline.points, resolution, landmarks.place(outline, rx).met_pad_apex)
        a, b = tri.ravel().astype(np.int64), tri[:, [1, 2, 0]].ravel().astype(np.int64)
        n = len(points)
        assert len(np.unique(a * n + b)) == len(a), name  # no edge twice the same way
        edges, count = np.unique(np.minimum(a, b) * n + np.maximum(a, b), return_counts=True)
        boundary = np.c_[edges // n, edges % n][count == 1]
        assert count.max() == 2 and len(boundary) == rim and (boundary < rim).all(), name
        p, q, r = (points[tri[:, i]] for i in range(3))
        area = 0.5 * ((q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1]) - (q[:, 1] - p[:, 1]) * (r[:, 0] - p[:, 0]))
        assert (area > 0).all() and area.sum() == pytest.approx(outline.polygon.area, rel=1e-9), name
