"""The build report's topology comes from one exact pass over the faces (qa._topology, proven),
not from manifold3d: it must say what manifold3d and ``insolegen check`` say, on our exported
files and on broken meshes alike."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from conftest import load, report_of, run

from insolegen.qa import manifold_status, solid_report

KEYS = ("watertight", "winding_consistent", "outward", "bodies", "degenerate_faces", "manifold3d", "faces")


@pytest.mark.parametrize("args", [
    [],
    ["--set", "shoe.heel_pitch_mm=10", "--set", "shoe.toe_spring_mm=8"],  # a bent bottom
    ["--set", "flange.medial_mm=10", "--set", "reverse_morton.height_mm=4", "--set", "heel_cup.depth_mm=20"],
], ids=["plain", "shoe", "lab"])
def test_report_says_what_check_says_on_the_exported_file(tmp_path, capsys, args):
    out = tmp_path / "r.stl"
    assert run(["build", *args, "--resolution", "1.5", "-o", out], capsys)[0] == 0
    code, text, _ = run(["check", out, "--json"], capsys)
    checked, reported = json.loads(text), report_of(out)["qa"]
    assert code == 0 and checked["passed"]
    for key in KEYS:
        assert reported[key] == checked[key], key
    assert reported["volume_mm3"] == pytest.approx(checked["volume_mm3"], rel=1e-6)
    assert reported["volume_mm3"] == pytest.approx(load(out).volume, rel=1e-6)


def _broken(mesh: trimesh.Trimesh, kind: str) -> tuple[np.ndarray, np.ndarray]:
    v, f = mesh.vertices, mesh.faces
    if kind == "hole":
        return v, f[1:]
    if kind == "flipped":
        f = f.copy()
        f[0] = f[0, ::-1]
        return v, f
    if kind == "doubled":  # a face and its reverse added: manifold3d pairs them, the proof does not
        return v, np.vstack([f, f[:1], f[:1, ::-1]])
    box = trimesh.creation.box((10, 10, 10))
    return np.vstack([v, box.vertices + [400, 0, 5]]), np.vstack([f, box.faces + len(v)])


@pytest.mark.parametrize("kind", ["hole", "flipped", "doubled", "second_body"])
def test_the_proof_agrees_with_manifold3d_on_broken_meshes(tmp_path, capsys, kind):
    out = tmp_path / "ok.stl"
    assert run(["build", "--resolution", "2", "-o", out], capsys)[0] == 0
    vertices, faces = _broken(load(out), kind)
    proven, full = solid_report(vertices, faces, 2.0, proven=True), solid_report(vertices, faces, 2.0)
    assert proven["manifold3d"] == full["manifold3d"] == manifold_status(vertices, faces)
    for key in KEYS:
        assert proven[key] == full[key], key
    assert proven["volume_mm3"] == pytest.approx(full["volume_mm3"], rel=1e-6)
