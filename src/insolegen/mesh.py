"""The solid: top height field and flat bottom over the triangulated outline, side walls on the rim."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

from . import triangulate
from .errors import InputError
from .landmarks import Landmarks

BOTTOM_SPACING_MM = 6.0  # the flat bottom needs no fine mesh: its interior is meshed this coarsely


def solid(points: np.ndarray, triangles: np.ndarray, rim_size: int, top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A closed, outward-wound solid.

    points: (n, 2) float, mm; triangles: (t, 3) int, counter-clockwise; points[:rim_size] is
    the rim in counter-clockwise order; top: (n,) float, mm, the top surface's height.
    Returns vertices (n + b, 3) float (top first, then the bottom at z = 0: its rim, the same
    points as the top's, then a coarse interior) and faces (t + bottom + 2 * rim_size, 3) int32,
    the top's triangles first.
    """
    n = len(points)
    flat, flat_tri = _bottom(points[:rim_size], triangles, points)
    vertices = np.zeros((n + len(flat), 3))
    vertices[:n, :2], vertices[:n, 2], vertices[n:, :2] = points, top, flat
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
    """The bottom's points (b, 2) and counter-clockwise triangles: the same rim, a coarse inside.

    Where the rim is already coarser than the bottom spacing, or the coarse mesh would have to
    split the rim, the top's own triangulation serves.
    """
    spacing = BOTTOM_SPACING_MM
    if len(rim) < 3 or np.linalg.norm(np.roll(rim, -1, axis=0) - rim, axis=1).max() >= spacing:
        return points, triangles
    try:
        flat, tri, size = triangulate.triangulate(rim, spacing)
    except (InputError, RuntimeError):
        return points, triangles
    if size != len(rim):
        return points, triangles
    return flat, tri


def trim(ring: np.ndarray, marks: Landmarks, length: str) -> np.ndarray:
    """The outline ring (n, 2) cut for a ``sulcus`` or ``three_quarter`` insert (``full``: as is).

    Three-quarter ends 3 mm behind the metatarsal-head line; sulcus at the toe crease; both
    cuts run parallel to the head line, as a lab cuts them.
    """
    if length == "full":
        return ring
    normal = marks.met_line_normal
    if length == "three_quarter":
        origin = marks.mtpj1 - 3.0 * normal
    else:
        origin = marks.mtpj1 + (marks.sulcus_x_mm - marks.mtpj1[0]) / normal[0] * normal
    tangent = np.array([-normal[1], normal[0]])
    big = 4.0 * marks.length_mm
    keep = Polygon([origin + big * tangent, origin - big * tangent,
                    origin - big * tangent - big * normal, origin + big * tangent - big * normal])
    part = Polygon(ring).intersection(keep)
    if part.geom_type != "Polygon":
        part = max(part.geoms, key=lambda g: g.area)
    return np.asarray(shapely.orient_polygons(part).exterior.coords)[:-1]
