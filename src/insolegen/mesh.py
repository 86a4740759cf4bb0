"""The solid: top height field and bottom (flat, or bent to a shoe) over the triangulated outline, side walls on the rim."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import shapely
from shapely.geometry import Polygon

from . import triangulate
from .landmarks import Landmarks


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


def each_face_block(vertices: np.ndarray, faces: np.ndarray, work: Callable[[slice, np.ndarray, np.ndarray], None],
                    size: int = 16384) -> None:
    """Call ``work(block, corners, cross)`` for each block of ``size`` faces: block the faces'
    slice, corners (3, 3, k) [corner, coordinate, face], cross (3, k) the unnormalised normal.

    One coordinate at a time on contiguous arrays, a block that stays in cache at a time: fast,
    and few temporaries on a fine mesh. A fine mesh's blocks run on two threads (numpy's
    arithmetic releases the GIL; each ``work`` writes only its own block of the output).
    """
    corners = np.ascontiguousarray(faces.T)
    coords = np.ascontiguousarray(vertices.T)

    def one(start: int) -> None:
        block = slice(start, start + size)
        (ax, ay, az), (bx, by, bz), (cx, cy, cz) = (coords[:, corners[i, block]] for i in range(3))
        ux, uy, uz, vx, vy, vz = bx - ax, by - ay, bz - az, cx - ax, cy - ay, cz - az
        cross = np.stack([uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx])
        work(block, np.array([[ax, ay, az], [bx, by, bz], [cx, cy, cz]]), cross)

    starts = range(0, len(faces), size)
    if len(starts) < 8:  # a coarse mesh: starting threads would cost more than they save
        for start in starts:
            one(start)
        return
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, starts))  # list(): a worker's exception is raised here


def behind(origin: np.ndarray, normal: np.ndarray, big: float) -> Polygon:
    """The half-plane behind the line through origin (2,) with unit normal (2,) (pointing ahead),
    as a square ``big`` mm to either side of origin and ``big`` mm behind the line."""
    tangent = np.array([-normal[1], normal[0]])
    return Polygon([origin + big * tangent, origin - big * tangent,
                    origin - big * tangent - big * normal, origin + big * tangent - big * normal])


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
    part = Polygon(ring).intersection(behind(origin, normal, 4.0 * marks.length_mm))
    if part.geom_type != "Polygon":
        part = max(part.geoms, key=lambda g: g.area)
    return np.asarray(shapely.orient_polygons(part).exterior.coords)[:-1]
