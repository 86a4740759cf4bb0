"""Vertical rays through a triangle mesh on a regular grid, all at once with numpy.

Each ray runs along z through a grid point; a hit is a face whose projection holds the
point. For an insert (a solid with a height-field top) every ray inside the footprint meets
the solid exactly twice: the bottom and the top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .scanline import expand, triangle_spans

# An offset no mesh vertex of ours sits on, so rays rarely graze an edge (grazes are deduplicated).
GRID_PHASE = (0.1234567, 0.3456789)


@dataclass(frozen=True)
class Hits:
    """xy: (k, 2) grid points hit at least once; count: (k,) distinct hits; bottom, top: (k,) z."""

    xy: np.ndarray
    count: np.ndarray
    bottom: np.ndarray
    top: np.ndarray


def grid_hits(vertices: np.ndarray, faces: np.ndarray, spacing: float, origin: np.ndarray | None = None) -> Hits:
    """Cast a vertical ray through every grid point ``spacing`` mm apart over the mesh bounds;
    ``origin`` (2,), mm: a point the grid passes through (default: the bounds' corner plus
    GRID_PHASE of a spacing)."""
    origin, ray, z, ix, iy = crossings(vertices, faces, spacing, origin)
    first = np.r_[True, np.diff(ray) != 0]
    start = np.flatnonzero(first)
    count = np.diff(np.r_[start, len(ray)])
    last = np.r_[start[1:], len(ray)] - 1
    xy = origin + np.c_[ix[start], iy[start]] * spacing
    return Hits(xy=xy, count=count, bottom=z[start], top=z[last])


def crossings(vertices: np.ndarray, faces: np.ndarray, spacing: float, origin: np.ndarray | None = None):
    """Every crossing of the vertical rays of :func:`grid_hits`: the grid's origin (2,), mm, then
    ray id, z (mm), grid column ix and row iy, each (h,), sorted by ray then z, a grazed edge once."""
    corner = np.array([vertices[:, 0].min(), vertices[:, 1].min()])
    if origin is None:
        origin = corner + np.array(GRID_PHASE) * spacing
    else:  # the grid's first row and column at or past the corner
        origin = np.asarray(origin, float) + np.ceil((corner - np.asarray(origin, float)) / spacing) * spacing
    grid = (vertices[:, :2] - origin) / spacing
    # Integer bounds of the grid points each face's box holds, one axis at a time on contiguous
    # arrays; faces finer than the grid mostly hold none and are dropped before any float work.
    corners = np.ascontiguousarray(faces.T)
    lo, hi = [], []
    for axis in (0, 1):
        up, down = np.ceil(grid[:, axis]).astype(np.int32), np.floor(grid[:, axis]).astype(np.int32)
        at = [np.take(up, c) for c in corners]  # np.take: about three times faster than up[c] here
        lo.append(np.minimum(np.minimum(at[0], at[1]), at[2]))
        at = [np.take(down, c) for c in corners]
        hi.append(np.maximum(np.maximum(at[0], at[1]), at[2]))
    some = np.flatnonzero((hi[0] >= lo[0]) & (hi[1] >= lo[1]))
    # np.take: the same rows as fancy indexing, about twice as fast on these tall arrays.
    faces, row_lo, row_hi = np.take(faces, some, axis=0), lo[1][some], hi[1][some]  # x bounds done their work
    p = np.take(grid, faces, axis=0)
    area2 = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0])
    flat = np.flatnonzero(np.abs(area2) > 1e-12)  # vertical faces (walls) cannot be hit by a vertical ray
    if len(flat) < len(faces):
        faces, p, area2, row_lo, row_hi = np.take(faces, flat, axis=0), np.take(p, flat, axis=0), area2[flat], row_lo[flat], row_hi[flat]
    zs = vertices[:, 2][faces]
    # Scan-convert: each face, row by row, gives only the grid points between its edges on
    # that row (a long thin face would otherwise test its whole bounding box).
    row_face, iy = expand(row_lo, row_hi - row_lo + 1)
    x_lo, x_hi = triangle_spans(np.take(p, row_face, axis=0), iy.astype(float))
    leftmost = np.ceil(x_lo - 1e-9).astype(np.int64)
    row, ix = expand(leftmost, np.maximum(np.floor(x_hi + 1e-9).astype(np.int64) - leftmost + 1, 0))
    face, iy = row_face[row], iy[row]
    q = np.c_[ix, iy].astype(float)
    a, b, c = p[face, 0], p[face, 1], p[face, 2]
    w0 = ((b[:, 0] - q[:, 0]) * (c[:, 1] - q[:, 1]) - (b[:, 1] - q[:, 1]) * (c[:, 0] - q[:, 0])) / area2[face]
    w1 = ((c[:, 0] - q[:, 0]) * (a[:, 1] - q[:, 1]) - (c[:, 1] - q[:, 1]) * (a[:, 0] - q[:, 0])) / area2[face]
    w2 = 1.0 - w0 - w1
    inside = (w0 >= -1e-9) & (w1 >= -1e-9) & (w2 >= -1e-9)
    z = (w0 * zs[face, 0] + w1 * zs[face, 1] + w2 * zs[face, 2])[inside]
    ix, iy = ix[inside], iy[inside]
    ray = (iy - iy.min(initial=0)) * (ix.max(initial=0) + 1) + ix if len(ix) else ix
    order = np.lexsort((z, ray))
    ray, z, ix, iy = ray[order], z[order], ix[order], iy[order]
    new = np.r_[True, (np.diff(ray) != 0) | (np.diff(z) > 1e-6)]  # a grazed edge counts once
    return origin, ray[new], z[new], ix[new], iy[new]
