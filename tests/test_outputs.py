"""Formats, `check`, pairs, profiles and schema."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from conftest import footprint, grid_inside, load, real_outlines, report_of, run, top_at
from outline_files import write_dxf, write_svg

from insolegen.template import builtin_points


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    from insolegen import api

    insert = api.build(settings={"met_pad.enabled": True, "heel_lift.height_mm": 5.0}, resolution=1.0)
    return insert, tmp_path_factory.mktemp("formats")


@pytest.mark.parametrize("suffix", [".stl", ".3mf", ".obj", ".ply", ".glb"])
def test_every_format_holds_the_same_solid(reference, suffix):
    insert, folder = reference
    path = insert.export(folder / f"m{suffix}")
    again = path.read_bytes()
    insert.export(path)
    assert path.read_bytes() == again  # deterministic
    mesh = trimesh.load(path, force="mesh")
    mesh.merge_vertices()
    scale = 1000.0 if suffix == ".glb" else 1.0
    assert mesh.is_watertight
    assert abs(mesh.volume) * scale**3 == pytest.approx(insert.mesh.volume, rel=0.005)
    if suffix == ".3mf":
        assert b'unit="millimeter"' in __import__("zipfile").ZipFile(path).read("3D/3dmodel.model")


def test_ascii_stl(tmp_path, capsys):
    out = tmp_path / "a.stl"
    assert run(["build", "--ascii", "-o", out], capsys)[0] == 0
    assert out.read_bytes().startswith(b"solid")
    assert load(out).is_watertight


def test_report_agrees_with_the_stl(tmp_path, capsys):
    out = tmp_path / "r.stl"
    assert run(["build", "--leg-length-offset", "6", "-o", out], capsys)[0] == 0
    rep, mesh = report_of(out), load(out)
    assert rep["qa"]["volume_mm3"] == pytest.approx(mesh.volume, rel=1e-5)
    assert rep["qa"]["faces"] == len(mesh.faces)
    assert np.allclose(rep["qa"]["bounds_mm"], mesh.bounds, atol=1e-3)
    xy = grid_inside(mesh, 2.0, margin=0.05)
    assert rep["qa"]["max_thickness_mm"] == pytest.approx(np.nanmax(top_at(mesh, xy)), abs=0.5)
    assert rep["qa"]["min_thickness_mm"] == pytest.approx(np.nanmin(top_at(mesh, xy)), abs=0.01)
    assert rep["qa"]["as_built"]["heel_lift_mm"] == pytest.approx(6.0, abs=0.05)
    assert rep["prescription"]["heel_lift"]["height_mm"] == 6.0
    assert len(rep["input"]["sha256"]) == 64 and rep["version"]


def _broken(mesh: trimesh.Trimesh, kind: str) -> trimesh.Trimesh:
    faces = mesh.faces.copy()
    if kind == "hole":
        faces = faces[1:]
    elif kind == "flipped":
        faces[0] = faces[0, ::-1]
    else:
        second = trimesh.creation.box((10, 10, 10))
        second.apply_translation([400, 0, 5])
        return trimesh.util.concatenate([mesh, second])
    return trimesh.Trimesh(mesh.vertices, faces, process=False)


def test_check_passes_ours_and_fails_broken(tmp_path, capsys):
    out = tmp_path / "ok.stl"
    assert run(["build", "-o", out], capsys)[0] == 0
    code, text, _ = run(["check", out], capsys)
    assert code == 0 and "PASS" in text
    mesh = load(out)
    for kind in ("hole", "flipped", "second_body"):
        bad = tmp_path / f"{kind}.stl"
        _broken(mesh, kind).export(bad)
        with pytest.raises(SystemExit) as exc:
            run(["check", bad, "--json"], capsys)
        assert exc.value.code == 4
        result = json.loads(capsys.readouterr().out)
        assert not result["passed"] and result["reasons"], kind


def test_check_bad_file(tmp_path, capsys):
    junk = tmp_path / "junk.stl"
    junk.write_bytes(b"\x00" * 10)
    code, _, err = run(["check", junk], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_pair_from_one_outline(tmp_path, capsys):
    out = tmp_path / "pair.stl"
    code, _, err = run(["build", "--pair", "--short-side", "left", "--leg-length-offset", "6", "-o", out], capsys)
    assert code == 0, err
    left, right = load(tmp_path / "pair-left.stl"), load(tmp_path / "pair-right.stl")
    mirrored = right.copy()
    mirrored.apply_transform(np.diag([1.0, -1.0, 1.0, 1.0]))
    xy = grid_inside(left, 2.0)
    d = top_at(left, xy) - top_at(mirrored, xy)
    length = left.bounds[1, 0]
    assert np.abs(d[xy[:, 0] < 0.28 * length] - 6.0).max() <= 0.05
    assert np.abs(d[xy[:, 0] > 0.65 * length]).max() <= 0.05
    assert report_of(tmp_path / "pair-right.stl")["prescription"]["heel_lift"]["height_mm"] == 0.0


def test_pair_from_two_outlines(tmp_path, capsys):
    """--outline-left (a DXF in cm) and --outline-right (an SVG in inches), different feet: each
    insert on its own outline, the lift under the short side only; swapped files are warned of."""
    from insolegen import api

    feet = real_outlines()
    left_pts = feet.get("template_sole_outline_mm", builtin_points() * [1, -1])  # both left feet as drawn
    right_pts = feet.get("outlines_polygons_mm_M10.0", builtin_points() * [1, -1]) * [1, -1] + [40.0, -300.0]
    left_src, right_src = tmp_path / "l.dxf", tmp_path / "r.svg"
    args = [*write_dxf(left_src, left_pts, "cm"), *write_svg(right_src, right_pts, "in")]
    out = tmp_path / "pair.stl"
    code, _, err = run(["build", "--pair", "--short-side", "right", "--leg-length-offset", "8", "--outline-left", left_src,
                        "--outline-right", right_src, "-o", out, *args], capsys)
    assert code == 0 and "looks like" not in err, err
    for side, src in (("left", left_src), ("right", right_src)):
        path = tmp_path / f"pair-{side}.stl"
        rep = report_of(path)
        assert rep["side"] == side and rep["qa"]["as_built"]["heel_lift_mm"] == pytest.approx(8.0 if side == "right" else 0.0, abs=0.05)
        assert footprint(load(path)).hausdorff_distance(api.load_outline(src, side=side).polygon) <= 0.2
    alone = tmp_path / "right.stl"  # the right foot on its own, no lift: the pair's right is it plus the lift
    assert run(["build", "--outline", right_src, "--side", "right", "-o", alone, *args], capsys)[0] == 0
    right = load(tmp_path / "pair-right.stl")
    xy = grid_inside(right, 2.0)
    d = top_at(right, xy) - top_at(load(alone), xy)
    assert np.abs(d[xy[:, 0] < 0.28 * right.bounds[1, 0]] - 8.0).max() <= 0.05
    assert np.abs(d[xy[:, 0] > 0.7 * right.bounds[1, 0]]).max() <= 0.05
    code, _, err = run(["build", "--pair", "--short-side", "right", "--outline-left", right_src, "--outline-right", left_src,
                        "-o", tmp_path / "swapped.stl", *args], capsys)
    assert code == 0 and "given as --outline-left" in err and "given as --outline-right" in err


def test_profiles_and_schema(tmp_path, capsys):
    code, text, _ = run(["profiles"], capsys)
    names = [line.split()[0] for line in text.splitlines()]
    for needed in ("general_support", "plantar_fasciitis", "mortons_neuroma", "leg_length_6mm", "overpronation"):
        assert needed in names
    for name in names:
        out = tmp_path / f"{name}.stl"
        assert run(["build", "--profile", name, "-o", out], capsys)[0] == 0
        assert load(out).is_watertight
    assert report_of(tmp_path / "leg_length_6mm.stl")["qa"]["as_built"]["heel_lift_mm"] == pytest.approx(6.0, abs=0.05)
    code, text, _ = run(["schema"], capsys)
    schema = json.loads(text)
    arch = schema["$defs"]["Arch"]["properties"]["height_mm"]
    assert arch["minimum"] == 0 and arch["maximum"] == 25


@pytest.mark.parametrize("length", ["sulcus", "three_quarter"])
def test_trimmed_lengths(tmp_path, capsys, length):
    out = tmp_path / f"{length}.stl"
    assert run(["build", "--set", f"shell.length={length}", "-o", out], capsys)[0] == 0
    mesh, rep = load(out), report_of(out)
    assert mesh.is_watertight and mesh.body_count == 1
    m1 = rep["landmarks"]["mtpj1"]["xy_mm"][0]
    if length == "three_quarter":
        assert mesh.bounds[1, 0] < m1
    else:
        assert m1 < mesh.bounds[1, 0] < 0.9 * 265


def test_keep_input_frame(tmp_path, capsys):
    from conftest import write_csv

    from insolegen.template import builtin_points

    pts = builtin_points() @ np.array([[0.0, -1.0], [1.0, 0.0]]) + [500.0, 20.0]
    src = write_csv(tmp_path / "f.csv", pts)
    out = tmp_path / "k.stl"
    assert run(["build", "--outline", src, "--keep-input-frame", "-o", out], capsys)[0] == 0
    bounds = load(out).bounds
    assert np.allclose(bounds[:, :2], [pts.min(axis=0), pts.max(axis=0)], atol=0.2)
