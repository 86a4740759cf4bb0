"""A quality triangulation of the outline: its rim, then a triangular lattice inside.

The rim keeps every outline vertex and adds points so no rim segment is longer than the
resolution; interior points lie on an equilateral lattice at the resolution. The Delaunay
triangulation of both is conforming: no interior point sits in a rim segment's diametral
circle, and any rim segment the triangulation still misses is split until it is present.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import Delaunay, cKDTree
from shapely.geometry import Polygon

from .errors import InputError
from .scanline import expand, polygon_spans

MAX_SPLIT_ROUNDS = 24
DEEP = 2.0  # lattice points this many spacings from the rim are meshed as the plain lattice
OVERLAP = 1.5  # the Delaunay band reaches this many spacings past DEEP (checked on every real outline, 0.25-5 mm)
PARALLEL_QUERY = 50_000  # KD-tree queries of more points than this use every core


def resample_ring(ring: np.ndarray, spacing: float) -> np.ndarray:
    """(m, 2): ``ring`` (n, 2) with points added so that no segment exceeds ``spacing``."""
    seg = np.roll(ring, -1, axis=0) - ring
    parts = np.maximum(np.ceil(np.linalg.norm(seg, axis=1) / spacing).astype(int), 1)
    owner, step = expand(np.zeros(len(ring), np.int64), parts)
    return ring[owner] + seg[owner] * (step / parts[owner])[:, None]


def lattice(rings: list[np.ndarray], spacing: float, anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points of an equilateral lattice through ``anchor`` (2,) strictly inside the rings
    (even-odd rule; (n, 2) float each), row by row.

    Returns points (n, 2) float, mm, and their integer (column, row) indices (n, 2); odd rows
    are shifted by half a spacing.
    """
    row = spacing * np.sqrt(3.0) / 2.0
    ys = np.concatenate([r[:, 1] for r in rings])
    j0 = int(np.ceil((ys.min() - anchor[1]) / row))
    rows = int(np.floor((ys.max() - anchor[1]) / row)) - j0 + 1
    k, x_lo, x_hi = polygon_spans(rings, anchor[1] + j0 * row, row, max(rows, 0))
    j = j0 + k
    shift = 0.5 * (j % 2)
    first = np.floor((x_lo - anchor[0]) / spacing - shift).astype(np.int64) + 1
    last = np.ceil((x_hi - anchor[0]) / spacing - shift).astype(np.int64) - 1
    span, i = expand(first, np.maximum(last - first + 1, 0))
    j = j[span]
    points, index = np.empty((len(i), 2)), np.empty((len(i), 2), np.int64)  # filled column by column: fast
    points[:, 0], points[:, 1] = (i + 0.5 * (j & 1)) * spacing + anchor[0], j * row + anchor[1]
    index[:, 0], index[:, 1] = i, j
    return points, index


def _lattice_of(shape, spacing: float, anchor: np.ndarray) -> np.ndarray:
    """(n, 2) int lattice indices strictly inside a shapely (Multi)Polygon, holes respected."""
    rings = [np.asarray(r.coords)[:-1] for part in shapely.get_parts(shape) for r in shapely.get_rings(part)]
    return lattice(rings, spacing, anchor)[1] if rings else np.zeros((0, 2), np.int64)


def _box(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least and greatest (column, row) of index (n, 2) int; column by column, which is many
    times faster than a reduction along axis 0 of a two-column array."""
    return np.array([index[:, 0].min(), index[:, 1].min()]), np.array([index[:, 0].max(), index[:, 1].max()])


def _marked(index: np.ndarray, subset: np.ndarray) -> np.ndarray:
    """(n,) bool: which rows of ``index`` (n, 2) int also appear in ``subset`` (m, 2) int."""
    if len(subset) == 0 or len(index) == 0:
        return np.zeros(len(index), bool)
    lo, hi = _box(index)
    size = hi - lo + 1
    grid = np.zeros((size[1], size[0]), bool)
    grid[subset[:, 1] - lo[1], subset[:, 0] - lo[0]] = True
    return grid[index[:, 1] - lo[1], index[:, 0] - lo[0]]


def lattice_triangles(index: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
    """(t, 3) int32 counter-clockwise elementary triangles whose three corners are all in ``index``.

    index: (n, 2) int (column, row) of the points present; ids: (n,) the number each point has
    in the result (default: its row in ``index``).
    """
    lo, hi = _box(index)
    cols, rows = hi - lo + 2
    grid = np.full((rows, cols), -1, dtype=np.int32)
    grid[index[:, 1] - lo[1], index[:, 0] - lo[0]] = np.arange(len(index)) if ids is None else ids
    a, b = grid[:-1, :-1], grid[:-1, 1:]  # (i, j), (i + 1, j)
    c, d = grid[1:, :-1], grid[1:, 1:]  # (i, j + 1), (i + 1, j + 1)
    odd = ((np.arange(rows - 1) + lo[1]) % 2 == 1)[:, None]
    # Even rows: up (a, b, c), down (b, d, c). Odd rows (shifted right): up (a, b, d), down (a, d, c).
    # Presence is tested on the cells first, so only whole triangles are ever gathered.
    has = [corner >= 0 for corner in (a, b, c, d)]
    up_third, down_first = np.where(odd, d, c), np.where(odd, a, b)
    up = has[0] & has[1] & np.where(odd, has[3], has[2])
    down = np.where(odd, has[0], has[1]) & has[3] & has[2]
    out = np.empty((np.count_nonzero(up) + np.count_nonzero(down), 3), np.int32)
    for column, (first, second) in enumerate(zip((a, b, up_third), (down_first, d, c))):
        out[:, column] = np.concatenate([first[up], second[down]])
    return out


def _distance(centres: np.ndarray, points: np.ndarray, bound: float) -> np.ndarray:
    """(n,) distance from each point to the nearest centre; inf where that is beyond ``bound``."""
    if len(points) == 0:
        return np.zeros(0)
    workers = -1 if len(points) > PARALLEL_QUERY else 1  # threads cost more than they save on small queries
    return cKDTree(centres).query(points, distance_upper_bound=bound, workers=workers)[0]


def _clear_of_circles(points: np.ndarray, centres: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """(n,) bool: points outside every circle (centres (c, 2), radius (c,)); few circles, any points."""
    tree = cKDTree(points)
    hit = np.zeros(len(points), bool)
    near = tree.query_ball_point(centres, radius)
    hit[np.fromiter((i for group in near for i in group), dtype=int)] = True
    return ~hit


def area2(points: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """(t,) twice the signed area of each triangle; positive when counter-clockwise."""
    a, b, c = points[tri[:, 0]], points[tri[:, 1]], points[tri[:, 2]]
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


def _edge_keys(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    return np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)


def triangulate(ring: np.ndarray, resolution: float, anchor: np.ndarray = np.zeros(2)) -> tuple[np.ndarray, np.ndarray, int]:
    """Triangulate the polygon ``ring`` (n, 2), counter-clockwise, mm.

    anchor: (2,) a point the interior lattice passes through (a feature's apex, so that the
    apex is a vertex of a regular neighbourhood).
    Returns points (p, 2) float, triangles (t, 3) int counter-clockwise, and the rim size r:
    points[:r] are the rim in ring order, starting with ring[0].

    Deep inside, the Delaunay triangulation of a lattice is the lattice's own triangles, so
    only a band along the rim goes through Delaunay; the deep triangles are taken directly.
    """
    polygon = Polygon(ring)
    rim = resample_ring(ring, resolution)
    inner, index = lattice([ring], resolution, anchor)
    # Points past the band are the lattice of the shrunk outline; only the rest need a KD query,
    # which gives both the points too close to the rim (dropped) and their depth in spacings
    # (to the rim and its midpoints: near enough).
    reach = (DEEP + OVERLAP) * resolution
    depth = np.full(len(inner), np.inf)
    past_band = _marked(index, _lattice_of(polygon.buffer(-reach, quad_segs=4), resolution, anchor))
    edge = np.flatnonzero(~past_band)
    mids = 0.5 * (rim + np.roll(rim, -1, axis=0))
    depth[edge] = _distance(np.vstack([rim, mids]), inner[edge], reach)
    keep = past_band.copy()
    keep[edge] = depth[edge] > 0.55 * resolution
    keep = np.flatnonzero(keep)  # take() by row number: ten times faster than a mask on (n, 2) arrays
    inner, index, depth = inner.take(keep, axis=0), index.take(keep, axis=0), depth[keep] / resolution
    for _ in range(MAX_SPLIT_ROUNDS):
        deep = depth >= DEEP
        band = np.flatnonzero(depth < DEEP + OVERLAP)  # overlaps the deep part
        points = np.vstack([rim, inner[band]])
        tri = Delaunay(points).simplices
        r, n = len(rim), len(points)
        rim_keys = _edge_keys(np.arange(r), (np.arange(r) + 1) % r, n)
        tri_keys = np.concatenate([_edge_keys(tri[:, i], tri[:, (i + 1) % 3], n) for i in range(3)])
        missing = np.flatnonzero(~np.isin(rim_keys, tri_keys))
        if len(missing) == 0:
            break
        # Split each missing rim segment and clear its diametral circle (conforming Delaunay).
        nxt = np.roll(rim, -1, axis=0)[missing]
        mid = 0.5 * (rim[missing] + nxt)
        # Diametral circles are smaller than a spacing: only band points can lie in them.
        keep = np.ones(len(inner), bool)
        keep[band] = _clear_of_circles(inner[band], mid, 0.55 * np.linalg.norm(nxt - rim[missing], axis=1))
        inner, index = inner[keep], index[keep]
        rim = np.insert(rim, missing + 1, mid, axis=0)
        depth = _distance(rim, inner, reach) / resolution
    else:
        raise InputError(
            f"the outline has a part narrower than --resolution {resolution:g} mm that cannot be meshed; "
            "use a finer --resolution or smooth the outline (a footprint: pass --outline-kind footprint)"
        )
    # Band triangles in global numbering (rim, then all inner points); drop those of deep
    # points alone: the lattice supplies them.
    to_global = np.r_[np.arange(r), r + band].astype(np.int32)
    tri = _inside(points, tri, r, polygon)
    tri = to_global[tri[~np.r_[np.zeros(r, bool), deep[band]][tri].all(axis=1)]]
    core = np.flatnonzero(deep)
    lattice_tri = lattice_triangles(index[core], r + core) if len(core) else np.zeros((0, 3), np.int32)
    points = np.vstack([rim, inner])
    # Every lattice triangle is equilateral and counter-clockwise by construction.
    area = 0.5 * np.sum(area2(points, tri)) + len(lattice_tri) * np.sqrt(3.0) / 4.0 * resolution**2
    tri = np.vstack([tri, lattice_tri])
    if abs(area - polygon.area) > 1e-6 * polygon.area:
        raise RuntimeError(f"triangulation covers {area:.6f} mm2 of a {polygon.area:.6f} mm2 outline")
    used = np.zeros(len(points), bool)
    used[tri] = True
    if not used.all():  # a lattice point cut off from every triangle: renumber without it
        remap = np.cumsum(used) - 1
        points, tri = points[used], remap[tri]
    return points, tri, r


def _inside(points: np.ndarray, tri: np.ndarray, rim_size: int, polygon: Polygon) -> np.ndarray:
    """Triangles inside the polygon, counter-clockwise, none degenerate."""
    signed = area2(points, tri)
    # With every rim segment an edge, a triangle touching an interior point lies inside;
    # only triangles of rim points alone need the point-in-polygon test.
    keep = (tri >= rim_size).any(axis=1)
    rim_only = np.flatnonzero(~keep)
    centre = points[tri[rim_only]].mean(axis=1)
    keep[rim_only] = shapely.contains_xy(polygon, centre[:, 0], centre[:, 1])
    keep &= np.abs(signed) > 1e-12 * max(np.abs(signed).max(), 1.0)
    tri = tri[keep]
    flip = signed[keep] < 0
    tri[flip] = tri[flip][:, [0, 2, 1]]
    return tri
