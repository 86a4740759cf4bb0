"""The solid insert: the top height field over a bottom (flat, or bent to a shoe), side walls on the rim."""

from __future__ import annotations

import numpy as np
from shapely.geometry import Polygon

from .. import triangulate


def solid(points: np.ndarray, triangles: np.ndarray, rim_size: int, top: np.ndarray,
          bottom: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A closed, outward-wound solid.

    points: (n, 2) float, mm; triangles: (t, 3) int, counter-clockwise; points[:rim_size] is
    the rim in counter-clockwise order; top: (n,) float, mm, the thickness above the bottom;
    bottom: (n,) float, mm, the bottom's height (None or all 0: flat at z = 0).
    Returns vertices (n + b, 3) float (top first, then the bottom's b points, the rim's first,
    see :func:`_bottom`; a bent bottom has all n) and faces (t + bottom + 2 * rim_size, 3)
    int32, the top's triangles first.
    """
    n = len(points)
    bent = bottom is not None and bool(np.any(bottom))
    # A bent bottom needs the inner lattice points; a flat one the rim alone.
    flat, flat_tri = (points, triangles) if bent else _bottom(points[:rim_size], triangles, points)
    vertices = np.zeros((n + len(flat), 3))
    vertices[:n, :2], vertices[:n, 2], vertices[n:, :2] = points, top, flat
    if bent:
        vertices[:n, 2] += bottom
        vertices[n:, 2] = bottom
    rim = np.arange(rim_size, dtype=np.int32)
    nxt = np.roll(rim, -1)
    walls = np.stack([rim + n, nxt + n, nxt, rim + n, nxt, rim], axis=1).reshape(-1, 3)
    # int32 indices: half the memory of int64, and what STL/3MF readers and manifold3d use anyway.
    faces = np.empty((len(triangles) + len(flat_tri) + len(walls), 3), np.int32)
    faces[: len(triangles)] = triangles
    faces[len(triangles): len(triangles) + len(flat_tri)] = flat_tri[:, ::-1] + n
    faces[len(triangles) + len(flat_tri):] = walls
    return vertices, faces


def _bottom(rim: np.ndarray, triangles: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The bottom's points (b, 2) and counter-clockwise triangles (a flat face needs no inner
    points): the rim alone, triangulated by manifold3d. Should that not tile the outline
    exactly, with no sliver near zero area, the top's own triangulation serves."""
    import manifold3d

    tri = np.asarray(manifold3d.triangulate([rim]), dtype=np.int32).reshape(-1, 3)
    area = triangulate.area2(rim, tri)
    outline = 2.0 * Polygon(rim).area  # area2 gives twice the area too
    # 2e-6 mm^2 (twice 1e-6): well clear of what QA counts as a degenerate face (1e-8 mm^2).
    if len(tri) == len(rim) - 2 and (area > 2e-6).all() and abs(area.sum() - outline) <= 1e-9 * outline:
        return rim, tri
    return points, triangles
