"""The lab form on real outlines (issue 20): the reverse Morton's leaves the whole 1st head free,
one width of the 1st ray for the Morton's extension, its reverse and the cut-out, and a flange
that is a rim whatever the midfoot's width. Each measured on exported STL files, by vertical rays,
as a build with the field minus one without it."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from conftest import (Builds, FEET, footprint, grid_inside, load, needs_feet, real_outlines, top_change, top_crease_deg,
                      write_csv)
from shapely.geometry import LineString

load = functools.lru_cache(maxsize=None)(load)

OUTLINES = real_outlines()
# The narrowest and the longest OpenFO outlines (bottom and top), the FIND sole, the emed pressure
# plate's footprint (as a footprint, from the outline and from the raw .lst, and as a plain outline:
# its midfoot is the narrowest there is), and built-ins at ANSUR II's 5th and 95th percentiles.
SOURCES = {
    "openfo-W8.5": ("outlines_polygons_mm_W8.5", "left", []),
    "openfo-M13.0": ("outlines_polygons_mm_M13.0", "right", []),
    "openfo2-W8.5": ("outlines2_polygons_mm_W8.5", "left", []),
    "find-sole": ("template_sole_outline_mm", "right", []),
    "emed-footprint": ("emed/emed_test_footprint_outline_mm.csv", "left", ["--outline-kind", "footprint"]),
    "emed-lst": ("emed/emed_test.lst", "right", ["--outline-kind", "footprint"]),
    "emed-plain": ("emed/emed_test_footprint_outline_mm.csv", "left", []),
    "ansur-p5-women": (None, "left", ["--foot-length", "226", "--foot-width", "78.9"]),
    "ansur-p95-men": (None, "right", ["--foot-length", "293", "--foot-width", "118.4"]),
}
BASE = ["--set", "shell.thickness_mm=5"]


class Source(Builds):
    """One outline on one side; builds it from the command line with extra arguments (cached)."""

    def __init__(self, root: Path, key: str):
        name, self.side, extra = SOURCES[key]
        self.key, self.sign = key, 1 if self.side == "right" else -1
        args = ["--side", self.side, *extra]
        if name in OUTLINES:  # real outlines are left feet: mirrored for a right one
            pts = OUTLINES[name] * [1, 1 if self.side == "left" else -1]
            args += ["--outline", write_csv(root / f"{key}.csv", pts)]
        elif name is not None:
            args += ["--outline", FEET / name]
        super().__init__(root, key, [*args, *BASE])


@pytest.fixture(scope="module", params=list(SOURCES))
def source(request, tmp_path_factory):
    if SOURCES[request.param][0] is not None and not FEET.is_dir():
        pytest.skip("../shared/data/feet is absent")
    return Source(tmp_path_factory.mktemp("fit"), request.param)



def landmarks(path: Path) -> dict[str, np.ndarray]:
    rep = json.loads(path.with_name(f"{path.stem}.report.json").read_text())
    return {k: np.array(v["xy_mm"]) for k, v in rep["landmarks"].items() if isinstance(v, dict)}


def across(mesh, x: float) -> tuple[float, float]:
    """The footprint's lowest and highest y at x (0.3 mm inside its rim)."""
    cut = footprint(mesh).buffer(-0.3).intersection(LineString([(x, -1e4), (x, 1e4)]))
    ys = shapely.get_coordinates(cut)[:, 1]
    return float(ys.min()), float(ys.max())


def band(mesh, sign: int, start: float, end: float, near: float, far: float, step: float = 0.5) -> np.ndarray:
    """(n, 2) points from ``start`` to ``end`` of the length, between ``near`` and ``far`` shares
    of the local width in from the medial border (sign: +1 medial on +y)."""
    length, pts = mesh.bounds[1, 0], []
    for x in np.arange(start * length, end * length, step):
        lo, hi = across(mesh, x)
        medial, width = (hi, hi - lo) if sign > 0 else (lo, hi - lo)
        shares = np.arange(near, far + 1e-9, step / width)
        pts += [(x, medial - sign * s * width) for s in shares]
    return np.array(pts)


def first_head(m, mesh, sign) -> np.ndarray:
    """The 1st head's centre: a tenth of the ball's width (MTPJ1 to MTPJ5 across) in from MTPJ1."""
    return m["mtpj1"] - [0.0, sign * 0.1 * abs(m["mtpj1"][1] - m["mtpj5"][1])]


def test_reverse_morton_leaves_the_whole_first_head_free(source):
    b0, b = source.build(), source.build("--set", "reverse_morton.height_mm=3")
    mesh, m, sign = load(b0), landmarks(b), source.sign
    medial = band(mesh, sign, 0.70, 0.74, 0.0, 0.12)  # the measure
    assert np.nanmax(top_change(b, b0, medial)) <= 0.1
    head = first_head(m, mesh, sign)
    radius = 0.07 * abs(m["mtpj1"][1] - m["mtpj5"][1])  # the head's area, 0.03-0.17 of the ball across
    disc = head + np.mgrid[-radius:radius:0.5, -radius:radius:0.5].reshape(2, -1).T
    disc = disc[np.linalg.norm(disc - head, axis=1) <= radius]
    disc = disc[shapely.contains_xy(footprint(mesh).buffer(-0.3), disc[:, 0], disc[:, 1])]
    assert np.nanmax(top_change(b, b0, disc)) <= 0.1
    lesser = np.array([m["mtpj2"], m["mtpj3"], m["mtpj4"], m["mtpj5"] + [0.0, sign * 5.0]])
    assert top_change(b, b0, lesser) == pytest.approx([3.0] * 4, abs=0.1)


def test_one_first_ray_for_mortons_its_reverse_and_the_cutout(source):
    """The Morton's extension and the reverse Morton's share the 1st ray's edge: together they
    raise the forefoot evenly; the cut-out lies where the Morton's extension raises."""
    b0 = source.build()
    mortons, reverse = source.build("--set", "morton_extension.height_mm=3"), source.build("--set", "reverse_morton.height_mm=3")
    cutout = source.build("--set", "first_ray_cutout.depth_mm=1.5")
    mesh, m = load(b0), landmarks(reverse)
    xy = grid_inside(mesh, 1.5, margin=0.5)
    xy = xy[xy[:, 0] > 0.55 * mesh.bounds[1, 0]]  # the forefoot, where all three lie
    normal = m["mtpj5"] - m["mtpj1"]
    normal = np.array([normal[1], -normal[0]]) / np.linalg.norm(normal)
    normal = normal if normal[0] > 0 else -normal
    ahead = xy[(xy - m["mtpj1"]) @ normal > -5.0]  # full reach from 10 mm behind the head line on
    together = top_change(mortons, b0, ahead) + top_change(reverse, b0, ahead)
    assert np.nanmax(np.abs(together - 3.0)) <= 0.01
    recess = top_change(cutout, b0, xy)
    under = recess < -0.05
    assert under.sum() > 10
    assert np.nanmin(top_change(mortons, b0, xy[under])) >= 0.1
    assert abs(top_change(cutout, b0, m["mtpj2"][None])[0]) <= 1e-3


@pytest.mark.parametrize("which", ["medial", "lateral"])
def test_flange_is_a_rim_whatever_the_width(source, which):
    height = 8.0
    b0, b = source.build(), source.build("--set", f"flange.{which}_mm={height}")
    mesh, sign = load(b0), source.sign
    away = band(mesh, sign, 0.2, 0.65, *((0.5, 1.0) if which == "medial" else (0.0, 0.5)), step=1.0)
    assert np.nanmax(top_change(b, b0, away)) <= 0.15  # the half of the width away from the flange
    edge = 0.0 if which == "medial" else 1.0
    rim = band(mesh, sign, 0.3, 0.5, edge, edge, step=1.0)  # 0.3 mm inside the rim
    assert np.nanmin(top_change(b, b0, rim)) >= height - 0.1


@needs_feet
@pytest.mark.parametrize("key", ["emed-plain", "openfo-W8.5"])
def test_flange_on_a_narrow_midfoot_is_smooth(tmp_path, key):
    """Both flanges at 8 mm, at 0.5 mm: no crease over 10 degrees 4 mm inside the rim."""
    built = Source(tmp_path, key).build("--set", "flange.medial_mm=8", "--set", "flange.lateral_mm=8", resolution=0.5)
    assert top_crease_deg(load(built), cup_wall_mm=25.0) <= 10.0
