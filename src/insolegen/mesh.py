"""The solid: top height field and flat bottom over the triangulated outline, side walls on the rim."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

from .landmarks import Landmarks


def solid(points: np.ndarray, triangles: np.ndarray, rim_size: int, top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A closed, outward-wound solid.

    points: (n, 2) float, mm; triangles: (t, 3) int, counter-clockwise; points[:rim_size] is
    the rim in counter-clockwise order; top: (n,) float, mm, the top surface's height.
    Returns vertices (2n, 3) float (top first, then bottom at z = 0) and faces (2t + 2r, 3) int.
    """
    n = len(points)
    vertices = np.vstack([np.c_[points, top], np.c_[points, np.zeros(n)]])
    rim = np.arange(rim_size)
    nxt = np.roll(rim, -1)
    walls = np.vstack([np.c_[rim + n, nxt + n, nxt], np.c_[rim + n, nxt, rim]])
    return vertices, np.vstack([triangles, triangles[:, ::-1] + n, walls])


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
