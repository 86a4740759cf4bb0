"""The positive model (`build ... --mold FILE`), measured on the exported files: its top is the
device's top inside the outline (vertical rays on both STLs), it reaches 15 mm past the outline
with no cliff where it leaves it, it stands on a flat base at z = 0, it is one watertight body
manifold3d accepts, and `insolegen cam` mills it without gouging."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import trimesh
from conftest import FEET, load, run, top_at
from scan_files import TECHMED, needs_scans
from shapely.geometry import Polygon
from test_cam import envelope, parse, tool_positions

from insolegen.check import check_file
from insolegen.qa import manifold_status

RES = "1.5"
EMED = FEET / "emed" / "emed_test_footprint_outline_mm.csv"
FIND_SOLE = FEET / "find" / "template_sole_outline_mm.csv"  # in its own frame: the mold must follow the device there
SHELL = ["--set", "device.type=shell", "--set", "heel_cup.depth_mm=14"]
CASES = {
    "solid": [],
    "shell-3/4-4/4-post": [*SHELL, "--set", "shell.length=three_quarter", "--set", "post.rearfoot=extrinsic",
                           "--set", "posting.rearfoot_deg=4", "--set", "posting.rearfoot_motion_deg=4"],
    "footprint-emed": ["--outline", EMED, "--outline-kind", "footprint", "--side", "left"],
    "scan-techmed-shell": ["--scan", TECHMED, *SHELL],
    "find-left-input-frame": ["--outline", FIND_SOLE, "--side", "left", "--keep-input-frame"],
}
NEEDS = {"footprint-emed": pytest.mark.skipif(not EMED.is_file(), reason="no emed data"), "scan-techmed-shell": needs_scans,
         "find-left-input-frame": pytest.mark.skipif(not FIND_SOLE.is_file(), reason="no FIND data")}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("mold")


def built(folder, case: str) -> tuple[trimesh.Trimesh, trimesh.Trimesh]:
    """(device, mold) of the case, built once by the command line."""
    name = case.replace("/", "-")
    device, mold = folder / f"{name}.stl", folder / f"{name}-mold.stl"
    if not mold.exists():
        from insolegen.cli import main

        assert main(["build", "-q", "--resolution", RES, *map(str, CASES[case]), "-o", str(device), "--mold", str(mold)]) == 0
    return load(device), load(mold)


def outline_of(device: trimesh.Trimesh) -> Polygon:
    """The device's outline seen from above (any device: a shell's bottom is no flat footprint)."""
    return trimesh.path.polygons.projected(device, normal=[0, 0, 1])


def outward_samples(outline: Polygon, count: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """(points (k, 2) on the outline, their outward unit normals (k, 2))."""
    edge = outline.exterior
    s = np.linspace(0.0, edge.length, count, endpoint=False)
    before, after = (shapely.get_coordinates(shapely.line_interpolate_point(edge, (s + ds) % edge.length)) for ds in (-0.5, 0.5))
    tangent = (after - before) / np.linalg.norm(after - before, axis=1, keepdims=True)
    normal = np.c_[tangent[:, 1], -tangent[:, 0]] * (1.0 if edge.is_ccw else -1.0)
    return shapely.get_coordinates(shapely.line_interpolate_point(edge, s)), normal


def crossing(mold: trimesh.Trimesh, outline: Polygon) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Across the outline, at points along it: the top's slope just inside (z at -0.5 minus z at
    -1.5 mm along the outward normal), how far the top 1 mm on (at +0.5 mm) misses that slope carried
    over, less the bend the top already has inside (its second difference from -2.5 to -0.5 mm: a
    scan's rim levels off as it nears the outline), and the step from -0.5 to +0.5 mm; (k,) each, mm."""
    rim, normal = outward_samples(outline)
    z = {d: top_at(mold, rim + d * normal) for d in (-2.5, -1.5, -0.5, 0.5)}
    slope_in = z[-0.5] - z[-1.5]
    bend_in = np.abs(z[-0.5] - 2.0 * z[-1.5] + z[-2.5])
    miss = np.maximum(np.abs(z[0.5] - (z[-0.5] + slope_in)) - bend_in, 0.0)
    return slope_in, miss, np.abs(z[0.5] - z[-0.5])


@pytest.mark.parametrize("case", [pytest.param(c, marks=NEEDS.get(c, ())) for c in CASES])
def test_the_mold_is_the_device_top_continued_15_mm_without_a_cliff(folder, case):
    device, mold = built(folder, case)
    outline = outline_of(device)
    # Inside the outline (0.05 mm in and more), the top is the device's top.
    x0, y0, x1, y1 = outline.bounds
    gx, gy = np.meshgrid(np.arange(x0 + 0.137, x1, 2.0), np.arange(y0 + 0.291, y1, 2.0))
    xy = np.c_[gx.ravel(), gy.ravel()]
    xy = xy[shapely.contains_xy(outline.buffer(-0.05), xy[:, 0], xy[:, 1])]
    off = np.abs(top_at(mold, xy) - top_at(device, xy))
    assert len(xy) > 2000 and np.isfinite(off).all()
    # 15 mm beyond the outline all round: its footprint is the outline grown by 15 mm.
    base = trimesh.path.polygons.projected(mold, normal=[0, 0, 1])
    grown = outline.buffer(15.0, quad_segs=32)
    reach = shapely.hausdorff_distance(base.exterior, grown.exterior)
    # No cliff: across the outline the top goes on as the device's slope just inside says.
    slope_in, miss, step = crossing(mold, outline)
    print(f"{case}: top inside max |dz| {off.max():.2e} mm over {len(xy)} rays; footprint vs outline+15 mm "
          f"{reach:.3f} mm; across the outline: step P95 {np.percentile(step, 95):.3f} max {step.max():.3f} mm, "
          f"slope inside max {np.abs(slope_in).max():.3f}, miss against it max {miss.max():.3f} mm; "
          f"mold top {mold.bounds[1, 2]:.2f} mm (device {device.bounds[1, 2]:.2f})")
    assert off.max() <= 0.05
    assert reach <= 0.2 and base.area > grown.area * 0.998
    assert np.isfinite(miss).all() and (miss <= 0.1 + 0.25 * np.abs(slope_in)).all()
    # On a flat base at z = 0, one watertight body that manifold3d accepts.
    assert mold.bounds[0, 2] == pytest.approx(0.0, abs=1e-6)
    down = mold.face_normals[:, 2] < -0.5
    assert np.abs(mold.triangles[down][:, :, 2]).max() < 1e-6 and mold.area_faces[down].sum() == pytest.approx(base.area, rel=1e-3)
    assert mold.is_watertight and mold.is_winding_consistent and mold.volume > 0
    assert len(mold.split(only_watertight=False)) == 1
    assert manifold_status(mold.vertices, mold.faces) == "NoError"
    assert check_file(folder / f"{case.replace('/', '-')}-mold.stl")["passed"]


def test_a_mold_with_a_cliff_fails_the_measure(folder):
    """The cliff measure above can fail: the same mold with its extension laid flat 2 mm over the
    base (the device's top standing on a plate) misses the inside slope by far more than it allows."""
    device, mold = built(folder, "solid")
    outline = outline_of(device)
    plate = mold.vertices.copy()
    beyond = ~shapely.contains_xy(outline.buffer(0.01), plate[:, 0], plate[:, 1])
    plate[beyond, 2] = np.minimum(plate[beyond, 2], 2.0)
    slope_in, miss, _ = crossing(trimesh.Trimesh(plate, mold.faces, process=False), outline)
    assert (miss > 0.1 + 0.25 * np.abs(slope_in)).mean() > 0.9


def test_cam_mills_the_mold(folder, capsys):
    """Coarse: a ball finish at a 3 mm stepover over the whole mold, the extension too, never gouging it."""
    _, mold = built(folder, "solid")
    nc = folder / "mold.nc"
    code, _, err = run(["cam", folder / "solid-mold.stl", "-o", nc, "--tool", "ball", "--tool-diameter", "6",
                        "--stepover", "3", "--step-down", "6", "-q"], capsys)
    assert code == 0, err
    positions = tool_positions(parse(nc.read_text()), "finishing")
    base = trimesh.path.polygons.projected(mold, normal=[0, 0, 1])
    x0, y0, x1, y1 = base.bounds
    gx, gy = np.meshgrid(np.arange(x0 + 0.37, x1, 3.0), np.arange(y0 + 0.61, y1, 3.0))
    xy = np.c_[gx.ravel(), gy.ravel()]
    xy = xy[shapely.contains_xy(base.buffer(-1.0), xy[:, 0], xy[:, 1])]
    error = envelope(positions, xy, "ball", 3.0) - top_at(mold, xy)
    assert np.isfinite(error).all() and error.min() >= -0.01
    assert np.median(error) < 0.5  # the finish does follow the top, the extension included


def test_a_bad_mold_name_writes_nothing(tmp_path, capsys):
    code, _, err = run(["build", "-q", "--resolution", "3", "-o", tmp_path / "a.stl", "--mold", tmp_path / "mold.txt"], capsys)
    assert code == 2 and "mold.txt" in err and "unknown output format" in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())
