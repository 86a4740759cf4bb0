"""Corrective features, one small function each: a smooth height field over the outline.

Every function takes xy (n, 2) float, mm, in the output frame, the outline, its landmarks and
the prescription, and returns (n,) float, mm, added to the top surface:
``top = shell + heel_lift + arch + met_pad + heel_cup + posting``. Switching a feature off
changes the top by exactly its field. Transitions use the C2 smootherstep so no field has a
crease.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .landmarks import Landmarks
from .outline import Outline
from .prescription import PAD_FRONT_SHARE as FRONT_SHARE
from .prescription import Prescription
from .triangulate import PARALLEL_QUERY

Field = Callable[[np.ndarray, Outline, Landmarks, Prescription], np.ndarray]


def smootherstep(t: np.ndarray) -> np.ndarray:
    """0 below t = 0, 1 above t = 1, C2 in between (6t^5 - 15t^4 + 10t^3)."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * t * (t * (6.0 * t - 15.0) + 10.0)


def fade_out(x: np.ndarray, start: float, end: float) -> np.ndarray:
    """1 before ``start``, smoothly down to 0 at ``end`` (x in mm)."""
    return 1.0 - smootherstep((x - start) / (end - start))


def shell(xy, outline, marks, rx):
    """The plain insert: constant base thickness."""
    return np.full(len(xy), rx.shell.thickness_mm)


def heel_lift(xy, outline, marks, rx):
    """Full height under the heel; tapers to the forefoot share before the metatarsal heads."""
    length = marks.length_mm
    start = marks.heel_centre[0] + 0.17 * length
    end = max(marks.mtpj5[0] - 0.05 * length, start + 20.0)
    keep = rx.heel_lift.forefoot_fraction
    return rx.heel_lift.height_mm * (keep + (1.0 - keep) * fade_out(xy[:, 0], start, end))


def arch(xy, outline, marks, rx):
    """Medial arch: crest on the medial border at the apex, fading laterally and along x."""
    start, apex = marks.heel_centre[0], marks.arch_apex[0]
    end = max(marks.mtpj1[0] - 0.04 * marks.length_mm, apex + 15.0)
    out = np.zeros(len(xy))
    rows = np.flatnonzero((xy[:, 0] > start) & (xy[:, 0] < end))  # zero elsewhere: only these are worked out
    x, y = xy[rows, 0], xy[rows, 1]
    along = np.where(x <= apex, smootherstep((x - start) / (apex - start)), smootherstep((end - x) / (end - apex)))
    lateral, medial = outline.borders(x)
    across = (y * outline.medial_sign - lateral) / np.maximum(medial - lateral, 1.0)
    out[rows] = rx.arch.height_mm * along * smootherstep((across - 0.15) / 0.6)
    return out


def met_pad(xy, outline, marks, rx):
    """Teardrop behind the metatarsal heads: wide end forward, apex at the pad landmark."""
    pad = rx.met_pad
    if not pad.enabled:
        return np.zeros(len(xy))
    forward = marks.met_line_normal
    out = np.zeros(len(xy))
    reach = max(pad.length_mm, pad.width_mm)  # beyond this from the apex the dome is zero: skip those points
    ax, ay = marks.met_pad_apex
    rows = np.flatnonzero((np.abs(xy[:, 0] - ax) < reach) & (np.abs(xy[:, 1] - ay) < reach))
    rel = xy.take(rows, axis=0) - marks.met_pad_apex
    du = rel @ forward
    dv = rel @ np.array([-forward[1], forward[0]])
    half_len = np.where(du > 0, FRONT_SHARE * pad.length_mm, (1.0 - FRONT_SHARE) * pad.length_mm)
    half_wid = 0.5 * pad.width_mm * (1.0 - 0.15 * smootherstep(-du / ((1.0 - FRONT_SHARE) * pad.length_mm)))
    # cos^2 in r: the least peak curvature of the usual dome profiles, slope 0 at apex and rim
    r = np.minimum(np.hypot(du / half_len, dv / half_wid), 1.0)
    out[rows] = pad.height_mm * 0.5 * (1.0 + np.cos(np.pi * r))
    return out


def heel_cup(xy, outline, marks, rx):
    """Rim rising around the back and sides of the heel, fading out by the midfoot."""
    depth = rx.heel_cup.depth_mm
    out = np.zeros(len(xy))
    length = marks.length_mm
    near = xy[:, 0] < 0.42 * length  # where fade_out below ends
    if depth <= 0 or not near.any():
        return out
    import shapely
    from scipy.spatial import cKDTree

    wall = float(np.clip(0.3 * marks.heel_width_mm, 12.0, 25.0))
    # Opening the outline by the wall width rounds its corners, so the distance to the rim
    # is smooth wherever the wall rises (a polygonal outline would otherwise crease it).
    rounded = outline.polygon.buffer(-wall, quad_segs=64).buffer(wall, quad_segs=64)
    if rounded.is_empty:  # narrower than two walls everywhere: measure from the outline itself
        rounded = outline.polygon
    rim = shapely.get_coordinates(shapely.segmentize(rounded.boundary, 0.25))
    # Only points within a wall of the rim rise: the rest need no distance (inf: no wall).
    pts = xy.take(np.flatnonzero(near), axis=0)  # take() by row number: faster than a mask on (n, 2)
    band = np.flatnonzero(~shapely.contains_xy(rounded.buffer(-wall), pts[:, 0], pts[:, 1]))
    in_band = pts.take(band, axis=0)
    dist = np.full(len(pts), np.inf)
    dist[band] = cKDTree(rim).query(in_band, distance_upper_bound=wall, workers=-1 if len(band) > PARALLEL_QUERY else 1)[0]
    outside = band[~shapely.contains_xy(rounded, in_band[:, 0], in_band[:, 1])]
    dist[outside] = 0.0  # beyond the rounded rim (in the outline's corners): full height
    out[near] = depth * smootherstep(1.0 - dist / wall) * fade_out(xy[near, 0], 0.22 * length, 0.42 * length)
    return out


def posting(xy, outline, marks, rx):
    """Rearfoot post: tilts the heel seat up medially (positive, varus) or laterally."""
    angle = rx.posting.rearfoot_deg
    if angle == 0:
        return np.zeros(len(xy))
    length = marks.length_mm
    rear = outline.points[outline.points[:, 0] <= 0.45 * length, 1] * outline.medial_sign
    ym = xy[:, 1] * outline.medial_sign
    rise = ym - rear.min() if angle > 0 else rear.max() - ym
    return np.tan(np.radians(abs(angle))) * np.maximum(rise, 0.0) * fade_out(xy[:, 0], 0.25 * length, 0.45 * length)


FEATURES: dict[str, Field] = {
    "shell": shell,
    "heel_lift": heel_lift,
    "arch": arch,
    "met_pad": met_pad,
    "heel_cup": heel_cup,
    "posting": posting,
}


def cast(xy, outline, marks, rx):
    """Scan builds: the balanced plantar surface of the scan, set on the base thickness."""
    return outline.cast.height(xy)


def heel_expansion(xy, outline, marks, rx):
    """Scan builds: the heel seat's surface stretched out to the widened heel outline."""
    return outline.cast.expansion(xy)


def arch_fill(xy, outline, marks, rx):
    """Scan builds: the medial arch lowered by ``cast.arch_fill_mm`` at the scanned arch apex,
    by nothing from the heel centre back nor from the metatarsal heads on (the arch's shape)."""
    fill = rx.cast.arch_fill_mm
    if fill <= 0:
        return np.zeros(len(xy))
    start = marks.heel_centre[0]
    end = max(marks.mtpj1[0] - 0.04 * marks.length_mm, start + 40.0)
    apex = float(np.clip(outline.cast.arch_apex[0], start + 15.0, end - 15.0))
    x = xy[:, 0]
    along = np.where(x <= apex, smootherstep((x - start) / (apex - start)), smootherstep((end - x) / (end - apex)))
    lateral, medial = outline.borders(x)
    across = (xy[:, 1] * outline.medial_sign - lateral) / np.maximum(medial - lateral, 1.0)
    return -fill * along * smootherstep((across - 0.15) / 0.6)


def _ignored(xy, outline, marks, rx):
    return np.zeros(len(xy))


# A scan build: the cast replaces the shell's constant thickness and the arch (the foot gives
# the arch; arch.height_mm is ignored), and the cast modifications join every other feature.
SCAN_FEATURES: dict[str, Field] = {
    **FEATURES, "shell": _ignored, "arch": _ignored, "cast": cast, "heel_expansion": heel_expansion, "arch_fill": arch_fill,
}


def fields(xy: np.ndarray, outline: Outline, marks: Landmarks, rx: Prescription) -> dict[str, np.ndarray]:
    """Every feature's field at xy (n, 2): name -> (n,) float, mm."""
    table = FEATURES if outline.cast is None else SCAN_FEATURES
    return {name: f(xy, outline, marks, rx) for name, f in table.items()}
