"""`insolegen cam`: the G-code file is parsed and its cut simulated against the exported STL.

The simulation is independent of the program's own drop-cutter: every feed move is cut into
points at most STEP_MM apart and the envelope of the cutter's lower surface over them is taken
at grid points, then compared with vertical rays on the STL.
"""

from __future__ import annotations

import hashlib
import json
import math
import re

import numpy as np
import pytest
from scipy.spatial import cKDTree

from conftest import footprint, grid_inside, load, run, top_at
from insolegen.cli import main
from insolegen.fabrication.dropcutter import Cutter, DropCutter
from insolegen.fabrication.mill import MillOptions, mill_program

STEP_MM = 0.05
FEED, PLUNGE, DIAMETER, STEPOVER, ALLOWANCE = 1234.0, 321.0, 6.0, 1.0, 0.5


def parse(text: str) -> list[dict]:
    """Every move: start, end (3,), g (0 or 1), feed, pass name, tool."""
    pos, g, feed, name, tool = np.full(3, np.nan), None, None, "", None
    moves = []
    for line in text.splitlines():
        if line.startswith("(pass: "):
            name = line[len("(pass: "):-1]
        code = re.sub(r"\(.*?\)", "", line).split()
        new = pos.copy()
        for word in code:
            letter, value = word[0], word[1:]
            if letter == "G" and value in ("0", "1"):
                g = int(value)
            elif letter == "F":
                feed = float(value)
            elif letter == "T":
                tool = int(value)
            elif letter in "XYZ":
                new["XYZ".index(letter)] = float(value)
        if not np.array_equal(new, pos, equal_nan=True):
            moves.append({"start": pos, "end": new, "g": g, "feed": feed, "pass": name, "tool": tool})
            pos = new
    return moves


def tool_positions(moves: list[dict], pass_name: str) -> np.ndarray:
    """(k, 3) tool-tip points along every feed move of the pass, at most STEP_MM apart."""
    out = []
    for m in moves:
        if m["pass"] == pass_name and m["g"] == 1 and not np.isnan(m["start"]).any():
            n = max(int(math.ceil(np.linalg.norm(m["end"] - m["start"]) / STEP_MM)), 1)
            out.append(m["start"] + np.linspace(0, 1, n + 1)[:, None] * (m["end"] - m["start"]))
    return np.vstack(out)


def envelope(positions: np.ndarray, xy: np.ndarray, shape: str, r: float) -> np.ndarray:
    """(n,) lowest z the cutter's surface reaches over each xy (inf where it never passes)."""
    tree = cKDTree(positions[:, :2])
    low = np.full(len(xy), np.inf)
    for start in range(0, len(xy), 2000):
        block = xy[start:start + 2000]
        near = tree.query_ball_point(block, r)
        owner = np.repeat(np.arange(len(block)), [len(n) for n in near])
        pos = positions[np.concatenate(near).astype(int)]
        d2 = ((block[owner] - pos[:, :2]) ** 2).sum(axis=1)
        z = pos[:, 2] + (r - np.sqrt(np.maximum(r * r - d2, 0.0)) if shape == "ball" else 0.0)
        part = np.full(len(block), np.inf)
        np.minimum.at(part, owner, z)
        low[start:start + 2000] = part
    return low


@pytest.fixture(scope="module")
def milled(tmp_path_factory):
    """A full-length insert built by the CLI, then milled with a flat roughing tool and a ball finish."""
    folder = tmp_path_factory.mktemp("cam")
    stl = folder / "insert.stl"
    assert main(["build", "-o", str(stl), "-q"]) == 0
    nc = folder / "insert.nc"
    assert main(["cam", str(stl), "-o", str(nc), "--feed", str(FEED), "--plunge-feed", str(PLUNGE), "--tool-diameter", str(DIAMETER),
                 "--stepover", str(STEPOVER), "--allowance", str(ALLOWANCE), "--preview", str(folder / "path.png"), "-q"]) == 0
    mesh = load(stl)
    xy = grid_inside(mesh, 0.9, margin=0.5)
    return {"stl": stl, "nc": nc, "text": nc.read_text(), "mesh": mesh, "xy": xy, "top": top_at(mesh, xy),
            "report": json.loads((folder / "insert.cam.json").read_text()), "png": folder / "path.png"}


def test_header_units_and_modes(milled):
    text = milled["text"]
    first_move = next(i for i, line in enumerate(text.splitlines()) if re.match(r"G[01] ", line))
    head = text.splitlines()[:first_move]
    assert {"G21", "G90", "G17"} <= {line.split()[0] for line in head}
    sha = hashlib.sha256(milled["stl"].read_bytes()).hexdigest()
    assert f"(mesh: insert.stl sha256 {sha})" in head
    assert any(line.startswith("(stock: X ") for line in head)
    assert any("flat end mill D6" in line for line in head) and any("ball end mill D6" in line for line in head)
    assert "T1 M6" in text and "T2 M6" in text and text.rstrip().endswith("M30")


def test_moves_inside_stock_at_the_feeds_asked(milled):
    moves = parse(milled["text"])
    stock = milled["report"]["stock_mm"]
    safe = milled["report"]["options"]["safe_z_mm"]
    ends = np.array([m["end"] for m in moves if not np.isnan(m["end"]).any()])
    lo, hi = np.array(stock["min"]), np.array(stock["max"])
    assert (ends[:, :2] >= lo[:2] - 1e-9).all() and (ends[:, :2] <= hi[:2] + 1e-9).all()
    assert ends[:, 2].min() >= 0.0 and ends[:, 2].max() <= safe + 1e-3
    feeds = {m["feed"] for m in moves if m["g"] == 1}
    assert feeds == {FEED, PLUNGE}
    plunges = [m for m in moves if m["g"] == 1 and m["feed"] == PLUNGE]
    assert plunges and all(np.array_equal(m["start"][:2], m["end"][:2]) for m in plunges)  # straight down


def test_finish_never_gouges_and_leaves_at_most_the_scallop(milled):
    moves = parse(milled["text"])
    positions = tool_positions(moves, "finishing")
    cut = envelope(positions, milled["xy"], "ball", DIAMETER / 2)
    error = cut - milled["top"]
    assert np.isfinite(error).all()
    assert error.min() >= -0.01, f"gouge of {-error.min():.4f} mm at {milled['xy'][error.argmin()]}"
    from shapely import contains_xy

    inner = footprint(milled["mesh"]).buffer(-4.0)
    deep = contains_xy(inner, milled["xy"][:, 0], milled["xy"][:, 1])
    scallop = DIAMETER / 2 - math.sqrt((DIAMETER / 2) ** 2 - (STEPOVER / 2) ** 2)
    assert deep.sum() > 10000
    assert error[deep].max() <= scallop + 0.05, f"{error[deep].max():.4f} mm left at {milled['xy'][deep][error[deep].argmax()]}"
    assert milled["report"]["scallop_mm"] == pytest.approx(scallop, abs=1e-5)


def test_roughing_leaves_the_allowance(milled):
    moves = parse(milled["text"])
    positions = tool_positions(moves, "roughing")
    cut = envelope(positions, milled["xy"], "flat", DIAMETER / 2)
    left = cut - milled["top"]
    assert left.min() >= ALLOWANCE - 0.01
    assert np.median(left[np.isfinite(left)]) < ALLOWANCE + 3.0  # and it does take the block down to the insert


def test_report_and_preview(milled):
    report = milled["report"]
    assert report["path_length_mm"]["cutting"] > 10_000 and report["path_length_mm"]["rapid"] > 0
    assert report["machining_time_min"] > report["path_length_mm"]["cutting"] / FEED
    assert -0.01 <= report["finishing"]["least_clearance_mm"] <= 0.0
    assert report["roughing"]["least_clearance_mm"] >= ALLOWANCE - 0.01
    assert report["bounds_mm"]["min"][2] >= 0
    assert milled["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_line(milled, tmp_path, capsys):
    code, out, err = run(["cam", milled["stl"], "-o", tmp_path / "a.nc", "--tool", "ball", "--stepover", "2", "--tool-diameter", "8",
                          "--report", tmp_path / "r.json"], capsys)
    assert code == 0 and "scallop 0.127 mm" in err and "least clearance" in err
    text = (tmp_path / "a.nc").read_text()
    assert "T2" not in text and "ball end mill D8" in text  # one ball tool roughs and finishes
    assert json.loads((tmp_path / "r.json").read_text())["roughing"]["least_clearance_mm"] >= ALLOWANCE - 0.01


@pytest.mark.parametrize("extra, says", [
    (["--stepover", "7"], "--stepover 7 mm is not less than the tool diameter"),
    (["--feed", "-5"], "--feed -5.0 must be a positive number"),
    (["--stock-top", "10"], "--stock-top 10 mm is below the mesh top"),
    (["--safe-z", "5"], "--safe-z 5 mm is not above the stock top"),
    (["--allowance", "nan"], "--allowance nan mm must be between 0 and 10"),
    (["--tool-diameter", "0"], "--tool-diameter 0.0 must be a positive number"),
    (["--preview", "x.jpg"], "the toolpath preview is a PNG"),
])
def test_bad_options(milled, tmp_path, capsys, extra, says):
    out = tmp_path / "x.nc"
    code, _, err = run(["cam", milled["stl"], "-o", out, *extra], capsys)
    assert code == 2 and says in err and err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content, says", [(None, "mesh file not found"), (b"solid nonsense\n", "holds no triangles"),
                                           (b"\x00" * 30, "")])
def test_bad_mesh(tmp_path, capsys, content, says):
    mesh = tmp_path / "in.stl"
    if content is not None:
        mesh.write_bytes(content)
    code, _, err = run(["cam", mesh, "-o", tmp_path / "x.nc"], capsys)
    assert code == 2 and "in.stl" in err and says in err and err.count("\n") == 1
    assert not (tmp_path / "x.nc").exists()


def test_bad_output_suffix(milled, tmp_path, capsys):
    code, _, err = run(["cam", milled["stl"], "-o", tmp_path / "x.stl"], capsys)
    assert code == 2 and "unknown G-code suffix" in err and not (tmp_path / "x.stl").exists()


def test_api_and_a_lifted_mesh(milled):
    mesh = milled["mesh"]
    text, report = mill_program(mesh.vertices, mesh.faces, MillOptions(tool="ball", stepover_mm=2.0))
    assert text.startswith("(insolegen cam") and report["finishing"]["tool"] == "T1"
    from insolegen.errors import InputError

    with pytest.raises(InputError, match="bottom is at z = 5.000"):
        mill_program(mesh.vertices + [0, 0, 5.0], mesh.faces)


@pytest.mark.parametrize("shape", ["ball", "flat"])
def test_drop_cutter_touches_and_never_cuts(shape):
    """Against a brute force: points on the cutter's lower surface checked with rays on a faceted dome."""
    import trimesh

    dome = trimesh.creation.icosphere(subdivisions=2, radius=10.0)
    dome.apply_translation([0, 0, 2.0])
    dome = trimesh.intersections.slice_mesh_plane(dome, [0, 0, 1], [0, 0, 0], cap=True)
    dc = DropCutter(dome.vertices, dome.faces, Cutter(shape, 5.0))
    row_y = np.linspace(-12, 12, 5)
    row, x = np.repeat(np.arange(5), 9), np.tile(np.linspace(-12.5, 12.5, 9), 5)
    tip = dc.heights(row_y, row, x)
    angle, radius = np.meshgrid(np.linspace(0, 2 * np.pi, 120, endpoint=False), 2.5 * np.sin(np.linspace(0, np.pi / 2, 40)))
    offsets = np.c_[(radius * np.cos(angle)).ravel(), (radius * np.sin(angle)).ravel()]
    rise = 2.5 - np.sqrt(np.maximum(2.5 ** 2 - (offsets ** 2).sum(axis=1), 0)) if shape == "ball" else np.zeros(len(offsets))
    for i in range(len(x)):
        xy = np.array([x[i], row_y[row[i]]]) + offsets
        origins = np.c_[xy, np.full(len(xy), 50.0)]
        loc, ray, _ = dome.ray.intersects_location(origins, np.tile([0.0, 0.0, -1.0], (len(xy), 1)))
        top = np.zeros(len(xy))  # the table under the dome
        np.fmax.at(top, ray, np.reshape(loc, (-1, 3))[:, 2])
        gap = tip[i] + rise - top
        assert gap.min() >= -1e-6
        if tip[i] > 1e-6:
            assert gap.min() <= 0.05  # touching (up to the sampling of the cutter surface)
