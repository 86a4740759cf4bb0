"""The positive model a lab mills and forms a hot sheet over: the device's top surface, continued
smoothly beyond the outline, on a flat base at z = 0.

Inside the outline the mold's top is the device's own top mesh (the same vertices and
triangles: it matches exactly). Beyond it, rings offset outward from the rim carry the top on:
from the nearest rim point, along the outward direction, at the rim's height and with the
rim's outward slope s, easing to level over ``EXTEND_MM`` (z = z0 + s (d - d^2 / 2L)): the
height and the slope are continuous where the mold leaves the outline (no cliff), and it ends
level. A top falling towards the rim falls no lower than ``FLOOR_MM``, and one rising steeply
(a scan's wall) rises no more than ``RISE_MM``: it levels off sooner.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import Polygon

from .. import triangulate
from .solid import solid

EXTEND_MM = 15.0  # beyond the outline (SPEC)
FLOOR_MM = 2.0  # the least height of the extension above the base
RISE_MM = 10.0  # the most the extension rises above the rim (a taller blank buys nothing)
SLOPE_SMOOTH_MM = 1.5  # the rim's outward slope is averaged along the rim over about this arc


def rim_slope(points: np.ndarray, triangles: np.ndarray, z: np.ndarray, rim: int) -> np.ndarray:
    """(rim,) the top's outward slope (dz per mm) at each rim point: the area-weighted gradient of
    the triangles touching it, along the rim's outward normal, averaged along SLOPE_SMOOTH_MM of rim.

    points (n, 2), triangles (t, 3) counter-clockwise, z (n,) the top's heights, mm; the rim
    is points[:rim], counter-clockwise.
    """
    a, b, c = (points[triangles[:, i]] for i in range(3))
    za, zb, zc = (z[triangles[:, i]] for i in range(3))
    u, v = b - a, c - a
    det = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]
    # The gradient of the plane through each triangle: [u; v] g = [zb - za, zc - za].
    grad = np.c_[(zb - za) * v[:, 1] - (zc - za) * u[:, 1], (zc - za) * u[:, 0] - (zb - za) * v[:, 0]] / det[:, None]
    area = 0.5 * np.abs(det)
    total, weight = np.zeros((rim, 2)), np.zeros(rim)
    for i in range(3):  # every triangle touching a rim point
        on = triangles[:, i] < rim
        np.add.at(total, triangles[on, i], grad[on] * area[on, None])
        np.add.at(weight, triangles[on, i], area[on])
    grad_rim = total / np.maximum(weight, 1e-12)[:, None]
    ring = points[:rim]
    tangent = np.roll(ring, -1, axis=0) - np.roll(ring, 1, axis=0)
    normals = np.c_[tangent[:, 1], -tangent[:, 0]]  # counter-clockwise ring: the right hand is outward
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return _smooth_along(ring, np.einsum("ij,ij->i", grad_rim, normals), SLOPE_SMOOTH_MM)


def _smooth_along(ring: np.ndarray, values: np.ndarray, width: float) -> np.ndarray:
    """values (m,) on the closed ring (m, 2), averaged with a Gaussian of ``width`` mm along its
    length (on the ring resampled evenly, so that a finely drawn stretch weighs no more)."""
    from scipy.ndimage import gaussian_filter1d

    step = np.linalg.norm(np.roll(ring, -1, axis=0) - ring, axis=1)
    s = np.r_[0.0, np.cumsum(step)]
    even = np.linspace(0.0, s[-1], max(int(np.ceil(s[-1] / (0.25 * width))), 8), endpoint=False)
    spread = gaussian_filter1d(np.interp(even, s, np.r_[values, values[0]]), width / (even[1] - even[0]), mode="wrap")
    return np.interp(s[:-1], even, spread, period=s[-1])


def extension(z0: np.ndarray, slope: np.ndarray, d: np.ndarray) -> np.ndarray:
    """(k,) mm: the top at distance d (k,) beyond a rim point of height z0 and outward slope
    ``slope``: the slope eased to level over EXTEND_MM, or sooner where it would fall under
    FLOOR_MM or rise more than RISE_MM (the change over a reach L is slope L / 2)."""
    room = np.where(slope < 0, np.maximum(z0 - FLOOR_MM, 0.0), RISE_MM)
    reach = np.minimum(EXTEND_MM, 2.0 * room / np.maximum(np.abs(slope), 1e-12))
    t = np.minimum(d, reach)
    return z0 + slope * t * (1.0 - t / (2.0 * np.maximum(reach, 1e-12)))


def positive(points: np.ndarray, triangles: np.ndarray, rim: int, top: np.ndarray,
             spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """The positive model's watertight solid over the device's top.

    points (n, 2), triangles (t, 3) counter-clockwise, rim: points[:rim] is the outline,
    counter-clockwise; top (n,) the device's top heights, mm; spacing: ring spacing and point
    spacing of the extension, mm. Returns vertices (v, 3) float, mm, and faces (f, 3) int32.
    """
    outline = Polygon(points[:rim])
    slope = rim_slope(points, triangles, top, rim)
    count = max(int(np.ceil(EXTEND_MM / spacing)), 2)
    rings = [points[:rim]]
    distances = np.linspace(0.0, EXTEND_MM, count + 1)[1:]
    for d in distances:
        grown = shapely.orient_polygons(outline.buffer(d, quad_segs=16))
        rings.append(triangulate.resample_ring(np.asarray(grown.exterior.coords)[:-1], spacing))
    # Points: the outer ring first (the solid's rim), then inward, then the device's own points.
    order = rings[:0:-1]
    starts = np.cumsum([0] + [len(r) for r in order])
    band_tri = []
    for k in range(len(order)):
        outer_start = starts[k]
        inner_start = starts[k + 1] if k + 1 < len(order) else starts[-1]  # the last inner ring is the device's rim
        inner = order[k + 1] if k + 1 < len(order) else rings[0]
        tri = _annulus(order[k], inner)
        band_tri.append(np.where(tri < len(order[k]), tri + outer_start, tri - len(order[k]) + inner_start))
    flat = np.vstack(order + [points])
    offset = starts[-1]
    all_tri = np.vstack(band_tri + [triangles + offset]).astype(np.int32)
    z = np.empty(len(flat))
    z[offset:] = top
    # Each extension point takes the rim's height and slope at its nearest rim point (found
    # on the rim resampled finely: its arc length to within a tenth of a millimetre).
    ring = points[:rim]
    fine = triangulate.resample_ring(ring, 0.2)
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(np.vstack([fine, fine[:1]]), axis=0), axis=1))]
    nearest = cKDTree(fine).query(flat[:offset])[1]
    step = np.linalg.norm(np.diff(np.vstack([ring, ring[:1]]), axis=0), axis=1)
    s = np.r_[0.0, np.cumsum(step)]  # the rim points' arc lengths: the fine ring's too, up to rounding
    along = arc[nearest] * s[-1] / arc[-1]
    z0 = np.interp(along, s, np.r_[top[:rim], top[0]])
    slope_at = np.interp(along, s, np.r_[slope, slope[0]])
    z[:offset] = extension(z0, slope_at, np.repeat(distances[::-1], [len(r) for r in order]))
    return solid(flat, all_tri, len(order[0]), z)


def _annulus(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Counter-clockwise triangles (t, 3) tiling the ring between ``outer`` and ``inner``
    (each (m, 2), counter-clockwise); indices into outer then inner, no points added."""
    import manifold3d

    tri = np.asarray(manifold3d.triangulate([outer, inner[::-1]]), dtype=np.int64).reshape(-1, 3)
    # manifold3d numbers the hole's points in the reversed order it was given.
    hole = tri >= len(outer)
    tri[hole] = len(outer) + (len(inner) - 1 - (tri[hole] - len(outer)))
    return tri


def of_insert(insert, spacing: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The positive model of a built :class:`~insolegen.build.Insert` (solid or shell, from an
    outline, a footprint or a scan): its top (the first len(points) vertices) continued beyond
    its footprint. spacing: mm (default: the insert's resolution, at most 2 mm)."""
    spacing = min(spacing or insert.resolution_mm, 2.0)
    n = len(insert.points)
    return positive(insert.points, insert.triangles, insert.rim, insert.vertices[:n, 2], spacing)
