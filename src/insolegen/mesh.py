"""Mesh helpers: face blocks for per-face work, and the outline trimmed for a 3/4 or sulcus insert."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import shapely
from shapely.geometry import Polygon

from .landmarks import Landmarks


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
        (ax, ay, az), (bx, by, bz), (cx, cy, cz) = (np.take(coords, corners[i, block], axis=1) for i in range(3))
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
    return cut_behind(ring, origin, normal, 4.0 * marks.length_mm)


def cut_behind(ring: np.ndarray, origin: np.ndarray, normal: np.ndarray, big: float) -> np.ndarray:
    """The part of the outline ring (n, 2) behind the line through origin (2,) with unit normal
    (2,) (pointing ahead), counter-clockwise; the largest piece should the line cut it in several."""
    part = Polygon(ring).intersection(behind(origin, normal, big))
    if part.geom_type != "Polygon":
        part = max(part.geoms, key=lambda g: g.area)
    return np.asarray(shapely.orient_polygons(part).exterior.coords)[:-1]
