"""The footprint of a scan's sole: where its fitted plantar surface lies below the trim height.

Plan-view rasters of the scan seen from below (where it has points, its gaps closed but not its
toe clefts), the largest piece's ring, then that ring put on the fitted surface's contour at the
trim height and smoothed: one polygon, its lines symmetric about y = 0 so a mirrored scan gives
the mirrored footprint.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

from ..arrays import column_max, column_min
from ..errors import InputError
from . import surface as surfaces

ENVELOPE_MM = 1.0  # a scan seen from below by vertical rays (or cloud columns) this far apart
FOOTPRINT_CELL_MM = 0.5  # raster of the footprint before its ring is put on the contour
RING_STEP_MM = 0.5  # the footprint ring's spacing
RING_SMOOTH_MM = 1.0  # Gaussian smoothing along the ring: the raster's steps go, a toe's curve stays
CONTOUR_STEP_MM = 1.0  # a ring point moves at most this far onto the contour (farther: the scan's edge, not the trim)
# Where the scan has points: its raster closed by a disk of this many point spacings. A square
# lattice's widest gap lies 0.71 spacing from its points, so the rays' gaps close; a cleft between
# toes wider than 2 mm stays open (1.5 spacings closed the FIND foot's big-toe cleft, 3-4 mm wide: its
# footprint reached 2.7 mm into it).
GAP_CLOSING = 0.75


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


def raster_over(xy: np.ndarray, cell: float, margin: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The corner (2,) and shape of a raster of ``cell`` squares over the points xy (m, 2) and
    ``margin`` mm past them. Its lines lie on multiples of ``cell`` or halfway between, so it is
    symmetric about y = 0 (a mirrored scan is rastered the mirrored way), and off the rays' rows
    at odd multiples of ENVELOPE_MM / 2 (a point on a line would fall in the cell on one side
    only; its mirror, on the other)."""
    phase = 0.0 if (ENVELOPE_MM / 2 / cell) % 1 == 0.5 else 0.5
    lo = np.floor((column_min(xy) - margin) / cell - phase) + phase
    hi = np.ceil((column_max(xy) + margin) / cell - phase) + phase
    return lo * cell, tuple(np.round(hi - lo).astype(int))


def covered_raster(xy: np.ndarray, lo: np.ndarray, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Raster (shape) of where the scan has points: its point gaps closed, holes filled."""
    from scipy import ndimage

    ij = np.floor((xy - lo) / cell).astype(np.int64)
    ok = in_raster(ij, shape)
    mask = np.zeros(shape, bool)
    mask[ij[ok, 0], ij[ok, 1]] = True
    spacing = np.sqrt(hull_area(xy) / len(xy))
    radius = int(np.clip(np.ceil(GAP_CLOSING * spacing / cell), 1, 12))
    disk = np.add.outer(np.arange(-radius, radius + 1) ** 2, np.arange(-radius, radius + 1) ** 2) <= radius * radius
    mask = ndimage.binary_closing(np.pad(mask, radius + 1), disk)[radius + 1:-radius - 1, radius + 1:-radius - 1]
    return ndimage.binary_fill_holes(mask)


def in_raster(ij: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(m,) whether each raster cell ij (m, 2) int lies in a raster of ``shape``."""
    return (ij[:, 0] >= 0) & (ij[:, 1] >= 0) & (ij[:, 0] < shape[0]) & (ij[:, 1] < shape[1])


def hull_area(xy: np.ndarray) -> float:
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

    lo, shape = raster_over(xy, cell, 2 * cell)
    centres = [lo[k] + cell * (np.arange(shape[k]) + 0.5) for k in (0, 1)]
    low = (surface.grid(*centres) < level_mm) & covered_raster(xy, lo, shape, cell)
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
