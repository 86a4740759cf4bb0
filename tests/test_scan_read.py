"""Reading foot scans: every format, units found from the foot's size, and bad scans refused in one line."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insolegen.errors import InputError
from insolegen.scan import read
from insolegen.scan.read import read_scan
from scan_files import FIND, MM, TECHMED, moved, needs_scans, scan_mm, write

pytestmark = needs_scans


def refused(path, units="auto") -> str:
    """The one-line message of the InputError that reading ``path`` raises."""
    with pytest.raises(InputError) as err:
        read_scan(path, units)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize(
    "name, encoding",
    [("s.obj", ""), ("s.stl", "binary"), ("s.stl", "ascii"), ("s.ply", "binary"), ("s.ply", "ascii")],
)
def test_mesh_formats_read_the_same_surface(tmp_path, name, encoding):
    v, f = scan_mm(TECHMED)
    raw = read_scan(write(tmp_path / name, v, f, "mm", encoding))
    assert raw.is_mesh and raw.units == "mm" and raw.format == name.split(".")[1]
    assert len(raw.faces) == len(f) and len(raw.points) == len(v)
    # Same vertices whatever the order (STL stores corners; equal ones are merged again).
    order = np.lexsort(raw.points.T)
    np.testing.assert_allclose(raw.points[order], v[np.lexsort(v.T)], atol=1e-4)
    tri = raw.points[raw.faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
    tri0 = v[f]
    area0 = 0.5 * np.linalg.norm(np.cross(tri0[:, 1] - tri0[:, 0], tri0[:, 2] - tri0[:, 0]), axis=1).sum()
    assert area == pytest.approx(area0, rel=1e-6)


@pytest.mark.parametrize("name, encoding", [("c.xyz", ""), ("c.csv", ""), ("c.ply", "binary"), ("c.ply", "ascii")])
def test_point_clouds(tmp_path, name, encoding):
    v, _ = scan_mm(TECHMED)
    raw = read_scan(write(tmp_path / name, v, None, "mm", encoding))
    assert raw.faces is None and not raw.is_mesh
    np.testing.assert_allclose(raw.points, v, atol=1e-4)


def test_polygon_faces_are_fanned_and_negative_indices_count_back(tmp_path):
    v, _ = scan_mm(TECHMED)
    quads = np.arange(len(v) // 4 * 4).reshape(-1, 4)
    text = "".join(f"v {x} {y} {z}\n" for x, y, z in v.tolist())
    text += "".join(f"f {a + 1}/1/1 {b + 1}/1/1 {c - len(v)} {d - len(v)}\n" for a, b, c, d in quads.tolist())
    path = tmp_path / "quads.obj"
    path.write_text(text)
    raw = read_scan(path)
    assert len(raw.faces) == 2 * len(quads)
    first = raw.points[raw.faces[:2]]
    np.testing.assert_allclose(first[0], v[quads[0, [0, 1, 2]]])
    np.testing.assert_allclose(first[1], v[quads[0, [0, 2, 3]]])


@pytest.mark.parametrize("units", ["mm", "cm", "m", "in"])
def test_units_found_from_the_foot_length(tmp_path, units):
    v, f = scan_mm(TECHMED)
    raw = read_scan(write(tmp_path / "s.ply", moved(v, 3), f, units))
    assert raw.units == units and raw.mm_per_unit == MM[units]
    assert any(note.startswith(f"units: {units}") for note in raw.notes)


def test_given_units_win_and_a_wrong_choice_is_named(tmp_path):
    v, f = scan_mm(TECHMED)
    path = write(tmp_path / "s.ply", v, f, "cm")
    assert read_scan(path, "cm").units == "cm"
    assert "--scan-units cm" in refused(path, "mm")  # 27 mm long in mm: not a foot
    assert "not offered" in refused(path, "ft")


def test_find_template_is_in_metres():
    raw = read_scan(FIND)
    assert raw.units == "m" and raw.is_mesh and len(raw.points) == 44395


def test_no_unit_makes_it_a_foot(tmp_path):
    v, f = scan_mm(TECHMED)
    message = refused(write(tmp_path / "tiny.ply", v * 1e-5, f))
    assert "--scan-units" in message and "in no unit" in message


def test_empty_short_and_nonfinite_scans(tmp_path):
    (tmp_path / "empty.stl").write_bytes(b"")
    assert "empty" in refused(tmp_path / "empty.stl")
    v, f = scan_mm(TECHMED)
    (tmp_path / "nothing.obj").write_text("# exported with no geometry\n")
    assert "no points" in refused(tmp_path / "nothing.obj")
    assert "at least 500" in refused(write(tmp_path / "few.xyz", v[:300], None))
    bad = v.copy()
    bad[17, 1] = np.nan
    assert "point 18" in refused(write(tmp_path / "nan.xyz", bad, None))
    bad[17, 1] = np.inf
    assert "not a finite number" in refused(write(tmp_path / "inf.obj", bad, f))


def test_two_feet_are_refused_and_debris_is_left_out(tmp_path):
    v, f = scan_mm(TECHMED)
    pair = np.vstack([v, v * [1, -1, 1] + [0, 140, 0]])
    faces = np.vstack([f, f[:, ::-1] + len(v)])
    assert "separate bodies" in refused(write(tmp_path / "pair.ply", pair, faces))
    debris = np.vstack([v, v[:40] + [0, 0, 120]])
    raw = read_scan(write(tmp_path / "debris.xyz", debris, None))
    assert len(raw.points) == len(v) and any("loose piece" in note for note in raw.notes)


def test_binary_stl_claiming_a_billion_triangles_allocates_nothing(tmp_path):
    path = tmp_path / "liar.stl"
    v, f = scan_mm(TECHMED)
    write(path, v, f)
    data = bytearray(path.read_bytes())
    data[80:84] = np.uint32(1_000_000_000).tobytes()
    path.write_bytes(bytes(data))
    tracemalloc.start()
    message = refused(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "1,000,000,000 triangles" in message and f"holds {len(f):,}" in message
    assert peak < 3 * len(data) + 10_000_000  # the file's bytes, not 50 GB of triangles


def test_truncated_files(tmp_path):
    v, f = scan_mm(TECHMED)
    for name, encoding in [("t.ply", "binary"), ("t.ply", "ascii")]:
        path = write(tmp_path / name, v, f, "mm", encoding)
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
        assert "PLY" in refused(path)
    stl = write(tmp_path / "t.stl", v, f)
    stl.write_bytes(stl.read_bytes()[:-20])
    assert "truncated binary STL" in refused(stl)


def test_garbled_files_name_what_is_wrong(tmp_path):
    v, f = scan_mm(TECHMED)
    obj = write(tmp_path / "far.obj", v, f)
    obj.write_text(obj.read_text() + "f 1 2 99999\n")
    assert "vertex 99999" in refused(obj)
    (tmp_path / "scan.dwg").write_bytes(b"AC1027")
    assert "unknown scan format" in refused(tmp_path / "scan.dwg")
    (tmp_path / "noise.ply").write_bytes(b"\x00\x01garbage")
    assert "not a PLY" in refused(tmp_path / "noise.ply")
    (tmp_path / "words.csv").write_text("a,b,c\n1,2,3\n")
    assert "names no x, y and z" in refused(tmp_path / "words.csv")
    assert "cannot read" in refused(tmp_path / "missing.stl")


def test_file_over_the_size_limit(tmp_path, monkeypatch):
    v, f = scan_mm(TECHMED)
    path = write(tmp_path / "big.stl", v, f)
    monkeypatch.setattr(read, "MAX_SCAN_BYTES", 1000)
    assert "over the" in refused(path)


def _small_files() -> dict[str, bytes]:
    """Valid scans of every format, small enough to mangle quickly."""
    import tempfile
    from pathlib import Path

    v, f = scan_mm(TECHMED)
    keep = f[:700]
    used, inverse = np.unique(keep, return_inverse=True)
    v, f = v[used], inverse.reshape(-1, 3)
    files = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, faces, encoding in [("a.stl", f, "binary"), ("b.stl", f, "ascii"), ("c.obj", f, ""), ("d.ply", f, "binary"),
                                      ("e.ply", f, "ascii"), ("f.xyz", None, ""), ("g.csv", None, ""), ("h.ply", None, "binary")]:
            files[name] = write(Path(folder) / name, v, faces, "mm", encoding).read_bytes()
    return files


SMALL = _small_files() if TECHMED.is_file() else {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(SMALL) or ["a.stl"]), cut=st.floats(0, 1), junk=st.binary(max_size=64), at=st.floats(0, 1))
def test_mangled_files_read_or_refuse_in_one_line(tmp_path, name, cut, junk, at):
    data = SMALL[name]
    data = data[: int(cut * len(data))]
    k = int(at * len(data))
    path = tmp_path / name
    path.write_bytes(data[:k] + junk + data[k + len(junk):])
    try:
        raw = read_scan(path)
    except InputError as err:
        assert "\n" not in str(err) and str(path) in str(err)
    else:
        assert np.isfinite(raw.points).all() and len(raw.points) >= read.MIN_POINTS
        assert raw.faces is None or raw.faces.max() < len(raw.points)
