"""The cast: a scan's sole balanced and placed as an outline plus a plantar surface.

From the sole points in the pose's output frame (heel toward x = 0, toes +x, sole down) the
cast is balanced as a lab balances a positive cast: the heel levelled across (the heel seat's
cross-slope taken out), its lowest heel and forefoot points brought to the same height, then
turned about the long axis by ``cast.inversion_deg`` (inverted-cast technique), and set on the
base thickness. The outline is the sole's footprint below ``scan.trim_height_mm``: the contour of
the fitted surface at that height, so noise in the points does not move it. The footprint's own
long axis and centroid then place it in the output frame (x from the rearmost heel point, y = 0
through the centroid), as an outline is placed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Polygon

from ..arrays import column_max, column_min
from ..errors import InputError
from . import surface as surfaces

SAMPLE_MM = 2.0  # spacing of the surface samples that find the low points
BALANCE_ROUNDS = 6  # levelling and the heel-forefoot turn each shift the other's low points a little
HEEL_STRIP = (0.10, 0.18)  # of the length: the heel seat, behind the heel's widest part
BISECTOR_MM = (5.0, 20.0)  # the heel's bisector: through the middles of its chords this far above its lowest point
BISECTOR_LEVELS = 7  # chords between the two heights, the bisector fitted through their middles
HEEL_REACH_MM = 15.0  # heel sections reach this far past the footprint
HEEL_LOW, FORE_LOW = (0.0, 0.30), (0.55, 0.85)  # where the lowest heel and forefoot points are sought
ARCH_SPAN = (0.30, 0.60)  # where the arch apex of the foot as scanned is sought (CLINICAL.md: 0.40-0.45)
FIT_MARGIN_MM = 5.0  # the sole is fitted this far above the trim height
TILT_MARGIN_MM = 60.0  # before balancing: so far above, as a pose may leave the sole tilted (the leg is higher)
BALANCE_ROUNDS_MAX = 3  # the cast's balancing rounds, each from a refit nearer level
SETTLED_DEG = 0.05  # a round that turns the cast less than this ends the balancing
BALANCE_CELL_MM = 3.0  # the balancing rounds' fits: coarser than the final one (only their turn is kept)
ENVELOPE_MM = 1.0  # a scan seen from below by vertical rays (or cloud columns) this far apart
CLOUD_DEPTH_MM = 1.5  # a cloud's points this far over the lowest in their column are on the sole too (noise, steep walls)
FOOTPRINT_CELL_MM = 0.5  # raster of the footprint before its ring is put on the contour
BALANCE_FOOTPRINT_CELL_MM = 1.0  # the balancing rounds' footprints: their ring goes onto the contour all the same
RING_STEP_MM = 0.5  # the footprint ring's spacing
RING_SMOOTH_MM = 1.0  # Gaussian smoothing along the ring: the raster's steps go, a toe's curve stays
CONTOUR_STEP_MM = 1.0  # a ring point moves at most this far onto the contour (farther: the scan's edge, not the trim)
# Where the scan has points: its raster closed by a disk of this many point spacings. A square
# lattice's widest gap lies 0.71 spacing from its points, so the rays' gaps close; a cleft between
# toes wider than 2 mm stays open (1.5 spacings closed the FIND foot's big-toe cleft, 3-4 mm wide: its
# footprint reached 2.7 mm into it).
GAP_CLOSING = 0.75


@dataclass(frozen=True)
class Cast:
    """The balanced plantar surface and what the report says of it.

    surface: the fitted plantar surface in the balanced frame; to_fit: (2, 3) float, output xy ->
    that frame's xy; lift_mm: added to its z. arch_apex, heel_centre: (2,) float, mm, output frame;
    length_mm: the footprint's length; facts: the report's ``scan`` section.
    """

    surface: surfaces.Surface
    to_fit: np.ndarray
    lift_mm: float
    arch_apex: np.ndarray
    heel_centre: np.ndarray
    length_mm: float
    heel_expansion_mm: float
    facts: dict = field(default_factory=dict)

    def height(self, xy: np.ndarray) -> np.ndarray:
        """(n,) float, mm: the cast's plantar surface at xy (n, 2) float, mm, output frame."""
        return self.surface.height(xy @ self.to_fit[:, :2].T + self.to_fit[:, 2]) + self.lift_mm

    def expansion(self, xy: np.ndarray) -> np.ndarray:
        """(n,) float, mm: how the surface changes where the heel seat widens (xy (n, 2), mm).

        The heel seat's surface is stretched about the heel centre so that its rim moves out by
        ``heel_expansion_mm``, as the outline does; the stretch fades out smoothly (C2) along x
        between 20 % and 35 % of the length, where the outline's growth ends.
        """
        e = self.heel_expansion_mm
        if e <= 0:
            return np.zeros(len(xy))
        from ..features import fade_out

        half = self.facts["heel_width_mm"] / 2 - e
        pull = fade_out(xy[:, 0], 0.20 * self.length_mm, 0.35 * self.length_mm) * (e / (half + e))
        source = xy - pull[:, None] * (xy - self.heel_centre)
        return self.height(source) - self.height(xy)


def _rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def _strip(poly: Polygon, x0: float, x1: float) -> tuple[float, float]:
    """Middle y and width of the footprint between x0 and x1."""
    y0, y1 = poly.bounds[1] - 1, poly.bounds[3] + 1
    part = poly.intersection(shapely.box(x0, y0, x1, y1))
    if part.is_empty:
        raise InputError("the scan's sole has no heel: check that the file is a foot scan")
    b = part.bounds
    return 0.5 * (b[1] + b[3]), b[3] - b[1]


def _mask_ring(mask: np.ndarray, lo: np.ndarray, cell: float) -> np.ndarray:
    """The outer ring (n, 2) of the largest piece of a raster ``mask`` (cell (i, j) spans lo + cell * [i, i+1] x [j, j+1])."""
    from scipy import ndimage

    labels, count = ndimage.label(mask)
    if count == 0:
        raise InputError("the scan's sole has no footprint below the trim height; check the scan or scan.trim_height_mm")
    mask = ndimage.binary_fill_holes(labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:])))
    # Each row's runs of cells as boxes: a few hundred boxes instead of one per cell.
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]  # row-major order: each run's end follows its start
    poly = shapely.union_all(shapely.box(lo[0] + rows * cell, lo[1] + starts * cell, lo[0] + (rows + 1) * cell, lo[1] + ends * cell))
    if poly.geom_type != "Polygon":
        poly = max(poly.geoms, key=lambda g: g.area)
    return np.asarray(poly.exterior.coords)[:-1]


def _raster(xy: np.ndarray, cell: float, margin: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The corner (2,) and shape of a raster of ``cell`` squares over the points xy (m, 2) and
    ``margin`` mm past them. Its lines lie on multiples of ``cell`` or halfway between, so it is
    symmetric about y = 0 (a mirrored scan is rastered the mirrored way), and off the rays' rows
    at odd multiples of ENVELOPE_MM / 2 (a point on a line would fall in the cell on one side
    only; its mirror, on the other)."""
    phase = 0.0 if (ENVELOPE_MM / 2 / cell) % 1 == 0.5 else 0.5
    lo = np.floor((column_min(xy) - margin) / cell - phase) + phase
    hi = np.ceil((column_max(xy) + margin) / cell - phase) + phase
    return lo * cell, tuple(np.round(hi - lo).astype(int))


def _covered(xy: np.ndarray, lo: np.ndarray, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Raster (shape) of where the scan has points: its point gaps closed, holes filled."""
    from scipy import ndimage

    ij = np.floor((xy - lo) / cell).astype(np.int64)
    ok = _inside(ij, shape)
    mask = np.zeros(shape, bool)
    mask[ij[ok, 0], ij[ok, 1]] = True
    spacing = np.sqrt(_hull_area(xy) / len(xy))
    radius = int(np.clip(np.ceil(GAP_CLOSING * spacing / cell), 1, 12))
    disk = np.add.outer(np.arange(-radius, radius + 1) ** 2, np.arange(-radius, radius + 1) ** 2) <= radius * radius
    mask = ndimage.binary_closing(np.pad(mask, radius + 1), disk)[radius + 1:-radius - 1, radius + 1:-radius - 1]
    return ndimage.binary_fill_holes(mask)


def _inside(ij: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(m,) whether each raster cell ij (m, 2) int lies in a raster of ``shape``."""
    return (ij[:, 0] >= 0) & (ij[:, 1] >= 0) & (ij[:, 0] < shape[0]) & (ij[:, 1] < shape[1])


def _hull_area(xy: np.ndarray) -> float:
    """mm^2, the area of the convex hull of xy (m, 2). Of each run of points on one line across
    (the same y, as rays' hits come, row by row), only its two ends can be corners of the hull, so
    Qhull sees those alone: the same hull, from a few hundred points instead of thousands."""
    from scipy.spatial import ConvexHull

    run = np.flatnonzero(np.r_[True, xy[1:, 1] != xy[:-1, 1]])
    if 2 * len(run) < len(xy):  # points in rows (else each would stand twice)
        xy = np.r_[np.c_[np.minimum.reduceat(xy[:, 0], run), xy[run, 1]], np.c_[np.maximum.reduceat(xy[:, 0], run), xy[run, 1]]]
    return float(ConvexHull(xy).volume)  # a 2D hull's volume is its area


def _heel_first(ring: np.ndarray) -> np.ndarray:
    """The raster ring (n, 2) started at the middle of its rearmost edge (the heel's back; the
    longest edge at the least x): the ring resampled from there, either way round, gives the
    same points, so a mirrored scan's footprint is the mirror."""
    edges = np.c_[ring, np.roll(ring, -1, axis=0)]  # (n, 4): x0, y0, x1, y1
    rear = np.flatnonzero((edges[:, 0] == ring[:, 0].min()) & (edges[:, 2] == ring[:, 0].min()))
    k = rear[np.argmax(np.abs(edges[rear, 3] - edges[rear, 1]))]
    middle = 0.5 * (edges[k, :2] + edges[k, 2:])
    return np.vstack([middle, np.roll(ring, -(k + 1), axis=0)])


def footprint(surface: surfaces.Surface, xy: np.ndarray, level_mm: float, cell: float = FOOTPRINT_CELL_MM) -> Polygon:
    """Where the fitted ``surface`` lies below ``level_mm`` and the scan has points (xy (m, 2),
    mm): one polygon, its ring on the surface's contour at that level (smooth: the contour of a
    C2 field), resampled every RING_STEP_MM. Where the scan ends before the trim height the ring
    follows the scan's edge instead. cell: the raster's, mm (its lines stay symmetric about y = 0)."""
    from scipy.ndimage import gaussian_filter1d

    lo, shape = _raster(xy, cell, 2 * cell)
    centres = [lo[k] + cell * (np.arange(shape[k]) + 0.5) for k in (0, 1)]
    low = (surface.grid(*centres) < level_mm) & _covered(xy, lo, shape, cell)
    ring = _heel_first(_mask_ring(low, lo, cell))
    closed = np.vstack([ring, ring[:1]])
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))]
    n = max(int(arc[-1] / RING_STEP_MM), 16)
    at = np.linspace(0.0, arc[-1], n, endpoint=False)
    pts = np.c_[np.interp(at, arc, closed[:, 0]), np.interp(at, arc, closed[:, 1])]
    pts = gaussian_filter1d(pts, RING_SMOOTH_MM / (arc[-1] / n), axis=0, mode="wrap")
    for _ in range(3):  # Newton steps onto the contour along the gradient
        z, gx, gy = surface.height(pts) - level_mm, surface.height(pts, dx=1), surface.height(pts, dy=1)
        g2 = np.maximum(gx * gx + gy * gy, 1e-12)
        step = -(z / g2)[:, None] * np.c_[gx, gy]
        ok = np.linalg.norm(step, axis=1) < CONTOUR_STEP_MM
        pts[ok] += step[ok]
    pts = gaussian_filter1d(pts, RING_SMOOTH_MM / (arc[-1] / n), axis=0, mode="wrap")  # where the edge, not the contour, held
    poly = Polygon(pts)
    if not poly.is_valid:
        poly = max(shapely.get_parts(shapely.make_valid(poly)), key=lambda g: g.area if g.geom_type == "Polygon" else 0.0)
    return shapely.orient_polygons(poly.simplify(0.01))


def _samples(height, poly: Polygon, inset_mm: float = 2.0, spacing: float = SAMPLE_MM) -> np.ndarray:
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


def _low(q: np.ndarray, x0: float, length: float, span: tuple[float, float]) -> np.ndarray:
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
    lo, shape = _raster(seen[:, :2], 1.0, 1.0)
    raster = _covered(seen[:, :2], lo, shape, 1.0)

    def covered(xy):
        ij = np.floor(xy - lo).astype(np.int64)
        ok = _inside(ij, shape)
        out = np.zeros(len(xy), bool)
        out[ok] = raster[ij[ok, 0], ij[ok, 1]]
        return out

    for _ in range(BALANCE_ROUNDS if level else 0):
        roll = _bisector_roll(surface, covered, rot, xs, spans)
        levelled = roll is not None
        rot = _rot_x(-(roll or 0.0)) @ rot
        p = q @ rot.T
        heel, fore = _low(p, x_min, length, HEEL_LOW), _low(p, x_min, length, FORE_LOW)
        pitch = np.arctan2(fore[2] - heel[2], fore[0] - heel[0])
        if not roll and pitch == 0.0:  # nothing turned: every later round would be this one again
            break
        rot = _rot_y(pitch) @ rot
    return rot, levelled


def _grow_heel(ring: np.ndarray, grow_mm: float, length: float) -> np.ndarray:
    """The ring (n, 2) moved out along its normals by ``grow_mm`` around the heel, fading out
    smoothly between 20 % and 35 % of the length (counter-clockwise ring: outward is to the right)."""
    from ..features import fade_out

    tangent = np.roll(ring, -1, axis=0) - np.roll(ring, 1, axis=0)
    normal = np.c_[tangent[:, 1], -tangent[:, 0]] / np.linalg.norm(tangent, axis=1)[:, None]
    x0 = ring[:, 0].min()
    grown = Polygon(ring + (grow_mm * fade_out(ring[:, 0] - x0, 0.20 * length, 0.35 * length))[:, None] * normal)
    if not grown.is_valid:  # a concave dent narrower than the growth closes up
        grown = max(shapely.get_parts(shapely.make_valid(grown)), key=lambda g: g.area if g.geom_type == "Polygon" else 0.0)
    return np.asarray(shapely.orient_polygons(grown).exterior.coords)[:-1]


def _arch(height, poly: Polygon, side: str, base_mm: float) -> tuple[np.ndarray, float]:
    """The arch apex of the foot as scanned: the highest point of the surface in the medial half
    of the footprint between 30 % and 60 % of its length, 4 mm inside the rim. Returns the
    apex (2,) and its height above the base, mm."""
    x0, length = poly.bounds[0], poly.bounds[2] - poly.bounds[0]
    medial = 1.0 if side == "right" else -1.0
    yc, _ = _strip(poly, x0 + ARCH_SPAN[0] * length, x0 + ARCH_SPAN[1] * length)
    g = 0.5 * np.mgrid[np.ceil(2 * (x0 + ARCH_SPAN[0] * length)):2 * (x0 + ARCH_SPAN[1] * length),
                       np.ceil(2 * poly.bounds[1]):2 * poly.bounds[3]].reshape(2, -1).T  # on multiples of 0.5 mm: mirrors alike
    g = g[shapely.contains_xy(poly.buffer(-4.0), g[:, 0], g[:, 1]) & ((g[:, 1] - yc) * medial > 0)]
    if not len(g):
        raise InputError("the scan's sole has no midfoot: check that the file is a whole foot or its whole plantar surface")
    z = height(g)
    i = int(np.argmax(z))
    return g[i], float(z[i] - base_mm)


def _seen_from_below(points: np.ndarray, faces: np.ndarray | None, rot: np.ndarray) -> np.ndarray:
    """(m, 3) float, mm: the scan seen from below once turned by ``rot`` (3, 3), as a foam box or
    a plate sees the foot. points: (n, 3) float, mm; faces: (f, 3) int, or None for a cloud.
    A mesh: its lowest surface above each point of an ENVELOPE_MM grid (vertical rays). A cloud:
    in each ENVELOPE_MM column, its points within CLOUD_DEPTH_MM of the column's lowest."""
    turned = points @ rot.T
    if faces is not None:
        from ..rays import GRID_PHASE, grid_hits

        # Rays on half-millimetre lines across y: a grid symmetric about y = 0, so a mirrored scan
        # (y = 0 is its mirror plane in the pose's frame) is seen at the mirrored points.
        hits = grid_hits(turned, faces, ENVELOPE_MM, origin=(turned[:, 0].min() + GRID_PHASE[0] * ENVELOPE_MM, 0.5 * ENVELOPE_MM))
        return np.c_[hits.xy, hits.bottom]
    cell = np.floor(turned[:, :2] / ENVELOPE_MM).astype(np.int64)
    key = (cell[:, 0] - cell[:, 0].min()) * (int(np.ptp(cell[:, 1])) + 1) + cell[:, 1] - cell[:, 1].min()
    lowest = np.full(int(key.max()) + 1, np.inf)
    np.minimum.at(lowest, key, turned[:, 2])
    return turned[turned[:, 2] <= lowest[key] + CLOUD_DEPTH_MM]


def cast_outline(points: np.ndarray, faces: np.ndarray | None, to_pose: np.ndarray, side: str, rx, source: str, sha256: str = "",
                 notes=(), about=None):
    """The scan as an :class:`~insolegen.outline.Outline` (kind ``scan``) carrying its :class:`Cast`.

    points: (n, 3) float, mm, the scan in the pose's frame (heel toward -x, toes +x, sole down);
    faces: (f, 3) int, or None for a cloud; to_pose: (4, 4) scan coordinates (scan units) -> that
    frame; rx: the prescription (its ``cast``, ``scan`` and ``shell`` sections); about: report
    lines from reading and posing the scan. The surface fitted is the scan seen from below
    (:func:`_seen_from_below`). The outline's transform takes scan coordinates to the output
    frame: the pose, the balancing turn and the placement.
    """
    from ..outline import MAX_LENGTH_MM, MIN_LENGTH_MM, Outline, _long_axis, check_proportions

    points = np.asarray(points, float)
    if len(points) < 100 or not np.isfinite(points).all():
        raise InputError(f"{source}: the scan has {len(points)} usable points; give a scan with at least 100 on the sole")
    trim, base = rx.scan.trim_height_mm, rx.shell.thickness_mm
    # Balanced up to thrice, each time from a fit made nearer level, so that a scan in any pose ends
    # in the same one (a fit, smoothing along its grid's axes, is not quite turn-invariant); done
    # once a round turns it by less than SETTLED_DEG.
    rot = np.eye(3)
    for _ in range(BALANCE_ROUNDS_MAX if rx.cast.balance else 1):
        seen = _seen_from_below(points, faces, rot)
        turned = seen[seen[:, 2] < np.percentile(seen[:, 2], 0.5) + trim + TILT_MARGIN_MM]
        first = surfaces.fit(turned, cell_mm=BALANCE_CELL_MM, smoothing=surfaces.SMOOTHING, measured=False)  # noise or not: the heel's walls kept steep
        poly = footprint(first, turned[:, :2], float(first.height(turned[:, :2]).min()) + trim, BALANCE_FOOTPRINT_CELL_MM)
        length = poly.bounds[2] - poly.bounds[0]
        if not MIN_LENGTH_MM <= length <= MAX_LENGTH_MM:
            raise InputError(f"{source}: the scan's sole is {length:.4g} mm long, not a plausible foot "
                             f"({MIN_LENGTH_MM:g}-{MAX_LENGTH_MM:g} mm); check --scan-units")
        turn, levelled = balance(first, turned, _samples(first, poly, spacing=1.0), poly, rx.cast.balance)
        rot = turn @ rot
        settled = np.trace(turn) > 1 + 2 * np.cos(np.radians(SETTLED_DEG))  # its angle below SETTLED_DEG
        if settled:
            break
    medial = 1.0 if side == "right" else -1.0  # turning about +x by a positive angle lifts +y
    rot = _rot_x(medial * np.radians(rx.cast.inversion_deg)) @ rot
    # A last turn too small to change what is seen from below: the round's rays, turned with it.
    turned = seen @ turn.T if settled and rx.cast.inversion_deg == 0 else _seen_from_below(points, faces, rot)
    # Only the sole below the trim height (and a margin past it, so the fit holds to the rim) is fitted.
    turned = turned[turned[:, 2] < np.percentile(turned[:, 2], 0.5) + trim + FIT_MARGIN_MM]
    fitted = surfaces.fit(turned)
    lowest = float(fitted.height(turned[:, :2]).min())
    poly = footprint(fitted, turned[:, :2], lowest + trim)
    # Placed as an outline is: the footprint's long axis along x, heel first, centroid on y = 0.
    centre, axis = _long_axis(poly)
    axis = axis if axis[0] > 0 else -axis  # the pose already put the heel toward -x
    turn = np.array([[axis[0], axis[1]], [-axis[1], axis[0]]])
    ring = (np.asarray(poly.exterior.coords)[:-1] - centre) @ turn.T
    length = float(np.ptp(ring[:, 0]))
    check_proportions(length, float(np.ptp(ring[:, 1])), f"{source}: the scan's sole", "check that the file is a scan of one foot")
    grow = rx.cast.heel_expansion_mm
    if grow > 0:
        ring = _grow_heel(ring, grow, length)
    offset = np.array([-ring[:, 0].min(), 0.0])
    ring = ring + offset
    to_fit = np.c_[turn.T, centre - turn.T @ offset]  # output xy -> the fitted surface's xy
    unlifted = Cast(fitted, to_fit, 0.0, np.zeros(2), np.zeros(2), length + grow, grow)
    placed = Polygon(ring)
    q = _samples(unlifted.height, placed)
    heel, fore = _low(q, 0.0, length, HEEL_LOW), _low(q, 0.0, length, FORE_LOW)
    lift = base - min(heel[2], fore[2])  # the lower of the heel and forefoot lows on the base
    place = np.eye(4)
    place[:2, :2], place[:2, 3], place[2, 3] = turn, offset - turn @ centre, lift
    rot4 = np.eye(4)
    rot4[:3, :3] = rot
    transform = place @ rot4 @ to_pose
    heel_yc, heel_width = _strip(placed, HEEL_STRIP[0] * length, HEEL_STRIP[1] * length)
    lifted = Cast(fitted, to_fit, lift, np.zeros(2), np.zeros(2), length + grow, grow)
    apex, arch_height = _arch(lifted.height, placed, side, base)
    seen_area = _hull_area(turned[:, :2])
    facts = {
        **(about or {}),
        "trim_height_mm": trim,
        "trimmed": f"{max(seen_area - poly.area, 0.0) / 100:.1f} cm2 of the scan seen from below (its convex hull up to "
                   f"{trim + FIT_MARGIN_MM:g} mm) lies higher than {trim:g} mm over the lowest point and is left out of the outline",
        "surface_fitted": "the scan seen from below: " + ("vertical rays every 1 mm" if faces is not None else
                                                            f"the points within {CLOUD_DEPTH_MM:g} mm of the lowest in each 1 mm column"),
        "fit_residuals_mm": fitted.residuals_mm,
        "arch_apex": {"xy_mm": np.round(apex, 3).tolist(), "pct_length": round(100 * float(apex[0]) / (length + grow), 2)},
        "arch_height_mm": round(arch_height, 3),
        "heel_width_mm": round(heel_width, 3),
        "balance": {"heel_levelled": levelled, "inversion_deg": rx.cast.inversion_deg, "rotation": np.round(rot, 9).tolist(),
                    "heel_low_xy_mm": np.round(heel[:2], 3).tolist(), "forefoot_low_xy_mm": np.round(fore[:2], 3).tolist()},
        "ignored": ["arch.height_mm (the scanned foot gives the arch)"],
    }
    cast = Cast(fitted, to_fit, lift, apex, np.array([0.135 * length + grow, heel_yc]), length + grow, grow, facts)
    return Outline(_ccw_ring(ring), transform, side, source, sha256, "scan", tuple(notes), cast=cast)


def _ccw_ring(ring: np.ndarray) -> np.ndarray:
    return np.asarray(shapely.orient_polygons(Polygon(ring)).exterior.coords)[:-1]


@dataclass(frozen=True)
class ScanInput:
    """A foot scan read and posed, waiting for a prescription (:meth:`outline`).

    raw: the :class:`~insolegen.scan.read.RawScan`; pose: its :class:`~insolegen.scan.pose.Pose`;
    side_asked: ``auto``, ``left`` or ``right`` as given.
    """

    raw: object
    pose: object
    side_asked: str

    @property
    def sha256(self) -> str:
        return self.raw.sha256

    def outline(self, rx):
        """The scan's outline for prescription ``rx``, carrying the balanced :class:`Cast`."""
        raw, pose = self.raw, self.pose
        about = {
            "file": raw.source, "sha256": raw.sha256, "format": raw.format, "kind": "mesh" if raw.is_mesh else "point cloud",
            "points": int(len(raw.points)), "faces": int(len(raw.faces)) if raw.is_mesh else 0,
            "units": raw.units, "mm_per_unit": raw.mm_per_unit,
            "side": pose.side, "side_from": "found from the scan (the arch is medial)" if self.side_asked == "auto" else "--side",
            "notes": [*raw.notes, *pose.notes],
        }
        with one_blas_thread():
            return cast_outline(pose.place(raw.points), raw.faces, pose.transform, pose.side, rx, raw.source, raw.sha256, (), about)


def load(path, units: str = "auto", side: str = "auto") -> ScanInput:
    """Read the scan at ``path`` (units ``auto``, mm, cm, m or in) and find its pose and side."""
    from .pose import find_pose
    from .read import read_scan

    if side not in ("auto", "left", "right"):
        raise InputError(f"--side '{side}' is not known; use auto, left or right")
    raw = read_scan(path, units)
    with one_blas_thread():
        return ScanInput(raw, find_pose(raw, side), side)


def one_blas_thread():
    """A context in which BLAS and LAPACK run on one thread: a scan's arrays are tall and thin
    ((n, 3) times (3, 3)) and its banded factorisations a chain of small steps, which a thread
    pool only slows down (twice over and more on a busy machine)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")
