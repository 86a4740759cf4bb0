"""The rim of a scan-molded insert: where the molded top stops climbing the foot's sides.

A scan's sole rises up the foot's sides to the trim height all round; a shoe takes no such tray.
The top keeps the foot's shape where it bears weight and in the medial arch, and levels off
smoothly elsewhere (SPEC "It fits a shoe"):

- around the heel at ``heel_cup.depth_mm`` above the heel seat (its lowest point);
- along the lateral border and the forefoot at ``scan.rim_mm`` above the seat beside it (the
  lowest point of the top across the foot there);
- along the medial arch not at all (the cast runs to the outline).

The caps blend along the foot by smooth weights, and the top meets a cap by an exponential
approach (C1, its bend spread over LEVEL_MM of height), so no crease appears. Past the scan's own
footprint (an opening and closing of its ring, or a shoe's outline that reaches farther) the
surface goes on along the slope it had at the footprint's edge and levels off at the trim height,
so the top continues smoothly at the rim's height.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

SMOOTH_MM = 5.0  # the outline is opened and closed by a disk of this radius: no notch or tooth of the scan's edge
LEVEL_MM = 4.0  # a cap bends the top over this much height: under 10 degrees between faces 0.5 mm apart, however steep the wall
TRIM_LEVEL_MM = 3.0  # past the footprint the surface levels off this far above the trim height
SEAT_STEP_MM = 1.0  # cross-sections (and their samples) this far apart find the seat beside each part of the rim
SEAT_REACH_MM = 6.0  # the seat at x: the lowest over x +- this (a rolling minimum), then smoothed
SEAT_SIGMA_MM = 3.0
HEEL_FADE = (0.20, 0.32)  # of the foot's length: the heel's rim hands over to the lateral border's
ARCH_SPAN = (0.15, 0.30, 0.55, 0.75)  # the medial arch left uncapped: rising in, full, fading out by the 1st head


def smooth_outline(poly: Polygon, radius: float = SMOOTH_MM) -> Polygon:
    """``poly`` opened then closed by a disk of ``radius`` mm: the teeth and notches of a ragged
    scan edge go; the foot's own curves (radii over ``radius``) stay."""
    from shapely import BufferJoinStyle

    out = poly.buffer(-radius, quad_segs=32).buffer(radius, quad_segs=32)
    out = max(shapely.get_parts(out), key=lambda g: g.area) if out.geom_type != "Polygon" else out
    out = out.buffer(radius, quad_segs=32).buffer(-radius, quad_segs=32, join_style=BufferJoinStyle.round)
    out = max(shapely.get_parts(out), key=lambda g: g.area) if out.geom_type != "Polygon" else out
    return shapely.orient_polygons(Polygon(out.exterior))  # counter-clockwise, as every outline


def level_above(z: np.ndarray, cap: np.ndarray | float, band: float) -> np.ndarray:
    """(n,) z (n,) unchanged up to ``cap`` - ``band``, then approaching ``cap`` exponentially
    (C1 where it starts: the slope goes on, bending over ``band`` mm of height)."""
    start = cap - band
    return np.where(z <= start, z, start + band * (1.0 - np.exp(-(np.maximum(z, start) - start) / band)))


def seat_profile(molded, outline, cast) -> tuple[np.ndarray, np.ndarray]:
    """(xs, seat): the lowest point of the molded top across the foot at each x (the scan's
    footprint inside the outline, 1 mm in from its rim), the lowest over +- SEAT_REACH_MM along x,
    smoothed. molded: xy (n, 2) -> (n,) mm."""
    from scipy.ndimage import gaussian_filter1d, minimum_filter1d

    area = outline.polygon.intersection(cast.sole).buffer(-1.0)
    x0, y0, x1, y1 = area.bounds
    xs = SEAT_STEP_MM * np.arange(np.floor(x0 / SEAT_STEP_MM), np.ceil(x1 / SEAT_STEP_MM) + 1)
    ys = SEAT_STEP_MM * np.arange(np.floor(y0 / SEAT_STEP_MM), np.ceil(y1 / SEAT_STEP_MM) + 1)
    g = np.c_[np.repeat(xs, len(ys)), np.tile(ys, len(xs))]
    inside = shapely.contains_xy(area, g[:, 0], g[:, 1])
    z = np.full(len(g), np.inf)
    z[inside] = molded(g[inside])
    seat = z.reshape(len(xs), len(ys)).min(axis=1)
    ok = np.isfinite(seat)
    seat = np.interp(xs, xs[ok], seat[ok])
    seat = minimum_filter1d(seat, 2 * int(SEAT_REACH_MM / SEAT_STEP_MM) + 1, mode="nearest")
    return xs, gaussian_filter1d(seat, SEAT_SIGMA_MM / SEAT_STEP_MM, mode="nearest")


def caps(xy: np.ndarray, outline, cast, rx, molded) -> tuple[np.ndarray, np.ndarray, dict]:
    """(cap, free, seat): the height (n,) mm the top levels off at over each point of xy (n, 2),
    the share (n,) 0-1 of the cast kept uncapped there (the medial arch), and the seat (n,) mm
    the cap stands over (the heel seat, handing over to the seat beside the rim)."""
    from ..features import fade_out, smootherstep

    length = cast.length_mm
    xs, seat = seat_profile(molded, outline, cast)
    heel_seat = float(seat[xs <= HEEL_FADE[0] * length].min()) if (xs <= HEEL_FADE[0] * length).any() else float(seat[0])
    x = xy[:, 0]
    heel = fade_out(x, HEEL_FADE[0] * length, HEEL_FADE[1] * length)
    under = heel * heel_seat + (1.0 - heel) * np.interp(x, xs, seat)
    cap = under + heel * rx.heel_cup.depth_mm + (1.0 - heel) * rx.scan.rim_mm
    a, b, c, d = (s * length for s in ARCH_SPAN)
    along = smootherstep((x - a) / (b - a)) * fade_out(x, c, d)
    lateral, medial = outline.borders(x)
    across = (xy[:, 1] * outline.medial_sign - lateral) / np.maximum(medial - lateral, 1.0)
    free = along * smootherstep((across - 0.4) / 0.3)
    return cap, free, under


def uncapped(rx) -> bool:
    """Both rim heights at or over the trim height: the scan's sides are kept as they are."""
    return rx.heel_cup.depth_mm >= rx.scan.trim_height_mm and rx.scan.rim_mm >= rx.scan.trim_height_mm


def field(xy, outline, marks, rx) -> np.ndarray:
    """(n,) mm, <= 0: how far the rim's caps lower the molded top (cast and heel expansion) at xy (n, 2)."""
    if uncapped(rx):
        return np.zeros(len(xy))
    return lowering(outline.cast.molded(xy), xy, outline, rx)


def lowering(z: np.ndarray, xy: np.ndarray, outline, rx) -> np.ndarray:
    """(n,) mm, <= 0: :func:`field` for the molded top z (n,) already found at xy (n, 2)."""
    if uncapped(rx):
        return np.zeros(len(xy))
    cap, free, seat = caps(xy, outline, outline.cast, rx, outline.cast.molded)
    # A low cap bends over less height, so the top never dips under the seat it stands over.
    band = np.clip(cap - seat, 1.0, LEVEL_MM)
    return (1.0 - free) * (level_above(z, cap, band) - z)


CAPPED_MM = 0.1  # the top lowered by more than this counts as capped in the report


def as_built(insert) -> dict:
    """The report's account of the rim: the heights asked, and where the caps lowered the
    molded top (area in cm2 and the most, mm, per part of the foot: the heel behind 26 % of the
    length, the lateral and medial midfoot, the forefoot from the 5th head on)."""
    rx, marks = insert.prescription, insert.marks
    tri = insert.points[insert.triangles]
    centre = tri.mean(axis=1)
    u, v = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    area = 0.5 * np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
    lowered = -insert.fields["rim"][insert.triangles].mean(axis=1)
    heel = centre[:, 0] < 0.26 * marks.length_mm
    fore = centre[:, 0] >= marks.mtpj5[0]
    medial = centre[:, 1] * insert.outline.medial_sign > 0
    parts = {"heel": heel, "lateral_midfoot": ~heel & ~fore & ~medial, "medial_midfoot": ~heel & ~fore & medial, "forefoot": fore}
    capped = lowered > CAPPED_MM
    return {
        "heel_cup_depth_mm": rx.heel_cup.depth_mm, "rim_mm": rx.scan.rim_mm,
        "rule": ("nothing capped: heel_cup.depth_mm and scan.rim_mm at or over scan.trim_height_mm" if uncapped(rx) else
                 f"the heel's sides kept up to {rx.heel_cup.depth_mm:g} mm over the heel seat, the lateral border and the forefoot "
                 f"ahead of the heads up to {rx.scan.rim_mm:g} mm over the seat beside them; the medial arch follows the cast to the outline"),
        "capped": {name: {"area_cm2": round(float(area[capped & sel].sum()) / 100, 2),
                          "most_mm": round(float(lowered[sel].max(initial=0.0)), 2)} for name, sel in parts.items()},
    }
