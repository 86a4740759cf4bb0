"""Balancing a scan's cast as a lab balances a positive cast: its long axis along x, the heel's
bisector vertical (levelled across), the lowest heel and forefoot points level."""

from __future__ import annotations

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Polygon

from . import surface as surfaces
from .footprint import covered_raster, in_raster, raster_over

SAMPLE_MM = 2.0  # spacing of the surface samples that find the low points
BALANCE_ROUNDS = 6  # levelling and the heel-forefoot turn each shift the other's low points a little
HEEL_STRIP = (0.10, 0.18)  # of the length: the heel seat, behind the heel's widest part
BISECTOR_MM = (5.0, 20.0)  # the heel's bisector: through the middles of its chords this far above its lowest point
BISECTOR_LEVELS = 7  # chords between the two heights, the bisector fitted through their middles
HEEL_REACH_MM = 15.0  # heel sections reach this far past the footprint
HEEL_LOW, FORE_LOW = (0.0, 0.30), (0.55, 0.85)  # where the lowest heel and forefoot points are sought


def rot_x(angle: float) -> np.ndarray:
    """(3, 3) the turn about x by ``angle`` radians (+y toward +z)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(angle: float) -> np.ndarray:
    """(3, 3) the turn about y by ``angle`` radians (+z toward +x)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def samples(height, poly: Polygon, inset_mm: float = 2.0, spacing: float = SAMPLE_MM) -> np.ndarray:
    """(k, 3) points of a height field on a grid ``spacing`` apart inside ``poly``, ``inset_mm``
    from its rim. height: a :class:`~insolegen.scan.surface.Surface` (evaluated on the grid at
    once, the same values many times faster) or a function xy (n, 2) -> (n,)."""
    x0, y0, x1, y1 = np.asarray(poly.bounds) / spacing
    # On multiples of ``spacing``: a mirrored footprint is sampled at the mirrored points.
    xs, ys = spacing * np.arange(np.ceil(x0), x1), spacing * np.arange(np.ceil(y0), y1)
    g = np.c_[np.repeat(xs, len(ys)), np.tile(ys, len(xs))]
    inside = shapely.contains_xy(poly.buffer(-inset_mm), g[:, 0], g[:, 1])
    z = height.grid(xs, ys).ravel()[inside] if isinstance(height, surfaces.Surface) else height(g[inside])
    return np.c_[g[inside], z]


def low_point(q: np.ndarray, x0: float, length: float, span: tuple[float, float]) -> np.ndarray:
    """The lowest of the points q (k, 3) between span[0] and span[1] of the length from x0."""
    x = q[:, 0] - x0
    sel = q[(x >= span[0] * length) & (x <= span[1] * length)]
    return sel[np.argmin(sel[:, 2])]


def _bisector_roll(surface: surfaces.Surface, covered, rot: np.ndarray, xs: np.ndarray, spans: list[tuple[float, float]]) -> float | None:
    """The turn about x (radians) that makes the heel's bisector vertical, seen from behind: the
    line through the middles of the heel's chords BISECTOR_MM above its lowest point, on
    cross-sections of ``surface`` at xs once turned by ``rot`` (3, 3) (spans: the y range of each,
    sampled every 0.1 mm: sub-millimetre chords), where the scan has points (``covered``: xy
    (n, 2) -> (n,) bool; the fit beyond them is no foot). None where the heel does not rise that
    high on both sides (a sole-only scan, a sheet cut low): the pose's ground then stands."""
    shifts = []
    for x, (y0, y1) in zip(xs, spans):
        y = 0.1 * np.arange(np.ceil(10 * y0), 10 * y1)  # on multiples of 0.1 mm: mirrored sections sampled alike
        xy = np.c_[np.full(len(y), x), y] @ rot[:2, :2]  # the turned frame's line, in the surface's frame (rot is near a turn about z)
        p = np.c_[xy, surface.height(xy)] @ rot.T
        inside = covered(xy)
        if not inside.any():
            return None
        low = int(np.argmin(np.where(inside, p[:, 2], np.inf)))
        gaps = np.flatnonzero(~inside)
        p = p[gaps[gaps < low].max(initial=-1) + 1:gaps[gaps > low].min(initial=len(p))]  # the covered run about the lowest point
        low = int(np.argmin(p[:, 2]))
        rise = min(p[:low + 1, 2].max(), p[low:, 2].max()) - p[low, 2]
        heights = BISECTOR_MM
        if rise <= heights[1] + 0.5:
            return None
        mids = []
        levels = np.linspace(heights[0], heights[1], BISECTOR_LEVELS)
        for h in levels:
            level = p[low, 2] + h
            left = np.flatnonzero(p[:low, 2] > level)[-1]
            right = low + np.flatnonzero(p[low:, 2] > level)[0]
            ends = [p[i, 1] + (level - p[i, 2]) / (p[j, 2] - p[i, 2]) * (p[j, 1] - p[i, 1]) for i, j in ((left, left + 1), (right - 1, right))]
            mids.append(0.5 * (ends[0] + ends[1]))
        shifts.append(np.polyfit(levels, mids, 1)[0])  # the bisector's lean: y per z
    return float(np.arctan(np.mean(shifts)))


def _rot_z(axis: np.ndarray) -> np.ndarray:
    """The turn about z that takes the unit xy direction ``axis`` (2,) to +x."""
    return np.array([[axis[0], axis[1], 0.0], [-axis[1], axis[0], 0.0], [0.0, 0.0, 1.0]])


def balance(surface: surfaces.Surface, seen: np.ndarray, q: np.ndarray, poly: Polygon, level: bool) -> tuple[np.ndarray, bool]:
    """The 3x3 rotation that balances the cast (its fitted ``surface``, the points it was fitted to
    ``seen`` (m, 3), samples q (k, 3) of it, footprint ``poly``): the footprint's long axis turned onto x (heel toward
    -x), then, when ``level``, the heel bisector made vertical and the heel and forefoot low points
    brought level. Also whether the heel could be levelled (the scan shows its sides)."""
    from ..outline import _long_axis

    axis = _long_axis(poly)[1]
    rot = _rot_z(axis if axis[0] > 0 else -axis)  # the pose already put the heel toward -x
    turned = shapely.affinity.affine_transform(poly, [*rot[0, :2], *rot[1, :2], 0.0, 0.0])
    x_min, y0, x1, y1 = turned.bounds
    length = x1 - x_min
    xs = x_min + length * np.linspace(HEEL_STRIP[0], HEEL_STRIP[1], 5)
    # Each section reaches past the footprint (the trim height) to the heel's sides higher up.
    spans = [np.array(shapely.LineString([(x, y0 - 1), (x, y1 + 1)]).intersection(turned).bounds[1::2]) + [-HEEL_REACH_MM, HEEL_REACH_MM]
             for x in xs]
    levelled = level
    lo, shape = raster_over(seen[:, :2], 1.0, 1.0)
    raster = covered_raster(seen[:, :2], lo, shape, 1.0)

    def covered(xy):
        ij = np.floor(xy - lo).astype(np.int64)
        ok = in_raster(ij, shape)
        out = np.zeros(len(xy), bool)
        out[ok] = raster[ij[ok, 0], ij[ok, 1]]
        return out

    for _ in range(BALANCE_ROUNDS if level else 0):
        roll = _bisector_roll(surface, covered, rot, xs, spans)
        levelled = roll is not None
        rot = rot_x(-(roll or 0.0)) @ rot
        p = q @ rot.T
        heel, fore = low_point(p, x_min, length, HEEL_LOW), low_point(p, x_min, length, FORE_LOW)
        pitch = np.arctan2(fore[2] - heel[2], fore[0] - heel[0])
        if not roll and pitch == 0.0:  # nothing turned: every later round would be this one again
            break
        rot = _rot_y(pitch) @ rot
    return rot, levelled
