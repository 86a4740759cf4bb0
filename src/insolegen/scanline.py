"""Scanline helpers: which points of a row-by-row grid lie inside a polygon or a triangle.

Used to fill an outline with lattice points (triangulate) and to cast vertical rays through
a mesh (rays); both would otherwise test every point of a bounding box.
"""

from __future__ import annotations

import numpy as np


def expand(start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each i, ``count[i]`` consecutive integers from ``start[i]``: (owner i, value), both (sum count,)."""
    owner = np.repeat(np.arange(len(start)), count)
    step = np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
    return owner, start[owner] + step


def polygon_spans(rings: list[np.ndarray], y0: float, row: float, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the rows y = y0 + k * row (k < rows) run inside the rings (even-odd rule, so holes
    and several parts are fine). rings: (n, 2) float each, not closed.

    Returns (k, x_lo, x_hi), each (m,): one entry per inside interval, by row, then by x. An edge
    crosses the rows in [its lowest y, its highest y), so a row through a vertex counts once.
    """
    a = np.vstack(rings)
    b = np.vstack([np.roll(r, -1, axis=0) for r in rings])
    low, high = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
    first = np.clip(np.ceil((low - y0) / row), 0, rows).astype(np.int64)
    stop = np.clip(np.ceil((high - y0) / row), 0, rows).astype(np.int64)
    edge, k = expand(first, np.maximum(stop - first, 0))
    y = y0 + k * row
    pa, pb = a[edge], b[edge]
    x = pa[:, 0] + (y - pa[:, 1]) / (pb[:, 1] - pa[:, 1]) * (pb[:, 0] - pa[:, 0])
    order = np.lexsort((x, k))
    k, x = k[order], x[order]
    return k[0::2], x[0::2], x[1::2]


def triangle_spans(tri: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the horizontal line at y crosses each triangle: (x_lo, x_hi), each (m,); tri (m, 3, 2)."""
    x_lo, x_hi = np.full(len(y), np.inf), np.full(len(y), -np.inf)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        (xi, yi), (xj, yj) = tri[:, i].T, tri[:, j].T
        on = (y >= np.minimum(yi, yj)) & (y <= np.maximum(yi, yj))
        dy = yj - yi
        with np.errstate(divide="ignore", invalid="ignore"):
            x = xi + (y - yi) / dy * (xj - xi)
        level = dy == 0  # an edge along the row: both its ends bound the span
        x_lo = np.where(on, np.minimum(x_lo, np.where(level, np.minimum(xi, xj), x)), x_lo)
        x_hi = np.where(on, np.maximum(x_hi, np.where(level, np.maximum(xi, xj), x)), x_hi)
    return x_lo, x_hi
