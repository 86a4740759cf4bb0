"""The functional shell: a sheet whose top is the device's top surface and whose underside lies
``shell.thickness_mm`` below it along the normal.

The underside is the top eroded by a ball of radius t: the lower envelope of the balls centred
on the top, min over |d| <= t of top(p + d) - sqrt(t^2 - |d|^2). Exact along the normal where
the top is smooth, and it cannot fold where the top curves tighter than t (a ridge): the
envelope keeps only the lowest sheet. A grey-level erosion on a regular grid gives it
everywhere (safe: sampling fewer balls can only leave the sheet thinner, never folded); each
mesh point is then refined by following the normal back to the top point whose ball touches
the underside there (a fixed point of p + t n_xy(c)), and keeps the lower of the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import shapely
from shapely.geometry import Polygon

from .. import mesh, triangulate
from ..landmarks import Landmarks
from . import post
from .solid import solid

GRID_MM, GRID_MIN_MM = 1.0, 0.5  # the erosion's grid: the resolution within these; the normal refinement does the rest
FOLD_STEP_MM = 0.3  # the finer pattern of balls where the sheet folds under a tight ridge
FOLD_GAIN_MM = 1e-3  # ... tried where the grid beats the normal by more than this
RIM_BAND = 2.0  # grid spacings past the rim where the top is evaluated before it is taken level
NORMAL_STEPS = 5  # fixed-point steps along the normal; each shrinks the error by t times the curvature
TRIM_BEHIND_MTPJ1_MM, TRIM_BEHIND_MTPJ5_MM = 12.0, 10.0  # Allied OSI, "Shells 101" (CLINICAL.md)
# A post or cover extension stands this far off the shell (touching, to a slicer): the STL's bodies
# share no vertex, so a reader that merges vertices still gets each closed on its own.
PART_GAP_MM = 0.01
COVER_RAMP_MM = 15.0  # a cover past a 3/4 shell's edge comes down to its own thickness over this

# Fields that thin the sheet (a recess, the tapered distal edge) rather than bend it: the
# underside is made from the top without them (prescription.py refuses what leaves too little).
THINNING = ("first_ray_cutout", "heel_spur", "distal_taper")

Surface = Callable[[np.ndarray], np.ndarray]


def trim_points(marks: Landmarks) -> tuple[np.ndarray, np.ndarray]:
    """The two points (2,) the three-quarter shell's distal edge runs through: 12 mm behind
    (proximal to) the 1st metatarsal head and 10 mm behind the 5th, along the foot's long axis."""
    return marks.mtpj1 - [TRIM_BEHIND_MTPJ1_MM, 0.0], marks.mtpj5 - [TRIM_BEHIND_MTPJ5_MM, 0.0]


def trim_line(marks: Landmarks) -> tuple[np.ndarray, np.ndarray]:
    """The three-quarter shell's distal edge: a point of it (2,) (behind the 1st head) and its unit
    normal (2,) pointing to the toes."""
    first, fifth = trim_points(marks)
    along = (fifth - first) / np.linalg.norm(fifth - first)
    normal = np.array([along[1], -along[0]])
    return first, normal if normal[0] > 0 else -normal


def trim(ring: np.ndarray, marks: Landmarks, length: str) -> np.ndarray:
    """The outline ring (n, 2) cut for a shell: ``three_quarter`` along the straight line
    through :func:`trim_points`; ``sulcus`` and ``full`` as a solid insert is cut."""
    if length != "three_quarter":
        return mesh.trim(ring, marks, length)
    return mesh.cut_behind(ring, *trim_line(marks), 4.0 * marks.length_mm)


def underside(top: Surface, ring: np.ndarray, thickness: float, spacing: float = GRID_MM) -> Surface:
    """The underside of a sheet ``thickness`` mm thick (along the normal) under the surface ``top``
    (xy (n, 2) -> (n,) z, mm) over the outline ``ring`` (n, 2): a function xy (k, 2) -> (k,) z, mm.

    The top is evaluated up to RIM_BAND grid spacings past the rim, then taken level at its height
    at the nearest point evaluated, so the balls centred past the rim never dig under a wall
    that rises to it.
    """
    from scipy.ndimage import distance_transform_edt, grey_erosion, map_coordinates, spline_filter

    t = float(thickness)
    x0, y0, x1, y1 = Polygon(ring).bounds
    pad = t + 4 * spacing
    xs = np.arange(x0 - pad, x1 + pad + spacing, spacing)
    ys = np.arange(y0 - pad, y1 + pad + spacing, spacing)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    # The top itself a little past the rim too: the grid's surface then matches it at the rim.
    inside = shapely.contains_xy(Polygon(ring).buffer(RIM_BAND * spacing, quad_segs=4), gx, gy)
    z = np.zeros(gx.shape)
    z[inside] = top(np.c_[gx[inside], gy[inside]])
    nearest = distance_transform_edt(~inside, return_distances=False, return_indices=True)
    z = z[tuple(nearest)]
    reach = int(np.ceil(t / spacing))
    d = np.arange(-reach, reach + 1) * spacing
    dd = d[:, None] ** 2 + d[None, :] ** 2
    eroded = grey_erosion(z, footprint=dd <= t * t, structure=np.sqrt(np.maximum(t * t - dd, 0.0)))
    step = max(FOLD_STEP_MM, t / 10.0)
    ring_d = np.arange(-np.floor(t / step), np.floor(t / step) + 1) * step
    fine_offsets = np.stack(np.meshgrid(ring_d, ring_d, indexing="ij"), axis=-1).reshape(-1, 2)
    fine_offsets = fine_offsets[(fine_offsets**2).sum(axis=1) <= t * t]
    fine_depth = np.sqrt(t * t - (fine_offsets**2).sum(axis=1))
    slope_x, slope_y = np.gradient(z, spacing)
    cubic = spline_filter(z, order=3, mode="nearest")

    def sample(grid: np.ndarray, xy: np.ndarray, order: int) -> np.ndarray:
        where = [(xy[:, 0] - xs[0]) / spacing, (xy[:, 1] - ys[0]) / spacing]
        return map_coordinates(grid, where, order=order, mode="nearest", prefilter=False)

    def at(xy: np.ndarray) -> np.ndarray:
        c = xy
        for _ in range(NORMAL_STEPS):  # c = p + t n_xy(c): the top point whose normal passes through p
            sx, sy = sample(slope_x, c, 1), sample(slope_y, c, 1)
            norm = np.sqrt(1.0 + sx * sx + sy * sy)
            c = xy - t * np.c_[sx / norm, sy / norm]
        gap2 = ((c - xy) ** 2).sum(axis=1)
        # The ball at c, at p: an upper bound of the envelope wherever the steps ended up, and
        # exact to second order in the error of c (the envelope is a minimum over the balls).
        fine = np.where(gap2 < t * t, sample(cubic, c, 3) - np.sqrt(np.maximum(t * t - gap2, 0.0)), np.inf)
        coarse = sample(eroded, xy, 1)
        # Where the grid's balls beat the normal's (a fold under a ridge tighter than t), the
        # balls again on a 0.3 mm pattern, over the cubic top: the coarse grid's error is gone.
        fold = np.flatnonzero(coarse < fine - FOLD_GAIN_MM)
        for start in range(0, len(fold), 1024):
            rows = fold[start: start + 1024]
            candidates = sample(cubic, (xy[rows, None, :] + fine_offsets[None]).reshape(-1, 2), 3).reshape(len(rows), -1)
            fine[rows] = np.minimum(fine[rows], (candidates - fine_depth[None]).min(axis=1))
        return np.minimum(coarse, fine)

    return at


@dataclass(frozen=True)
class Device:
    """A built shell. vertices (v, 3) float, mm, and faces (f, 3) int32: the whole device (the
    sheet's top first, as :func:`~insolegen.construct.solid` lays it out, then the rest);
    bottom: (n,) float, mm, the device's underside under each top point; fields: the top's
    fields as built (``rest`` raises a shell whose underside dips below the ground; a post adds
    ``post_lift`` and takes the motion off the top);
    parts: (name, vertices, faces) of each printed body when there are several (an extrinsic post)."""

    vertices: np.ndarray
    faces: np.ndarray
    bottom: np.ndarray
    fields: dict[str, np.ndarray]
    parts: tuple = ()


def sheet_fields(heights: dict[str, np.ndarray], xy: np.ndarray, marks: Landmarks, rx) -> dict[str, np.ndarray]:
    """The top's fields for a shell: with a post, the motion is ground off the post's bottom,
    not eased out of the top, and the shell is lifted onto the post (the cover stays last)."""
    if rx.post.rearfoot == "none":
        return heights
    out = {name: h for name, h in heights.items() if name != "top_cover"}
    out["rearfoot_motion"] = np.zeros(len(xy))
    out["post_lift"] = post.lift(xy, marks, rx)
    out["top_cover"] = heights["top_cover"]
    return out


def build(points: np.ndarray, triangles: np.ndarray, rim: int, footprint: np.ndarray, fields: dict[str, np.ndarray],
          fields_at, outline, marks: Landmarks, rx, resolution: float) -> Device:
    """The shell device over the triangulated footprint (points (n, 2), triangles (t, 3), the
    rim points[:rim]); fields: the top's fields at the points (name -> (n,) mm); fields_at:
    xy (k, 2) -> the top's fields anywhere else (beyond the rim, between the points)."""
    heights = sheet_fields(fields, points, marks, rx)

    def top_without(xy: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        h = sheet_fields(fields_at(xy), xy, marks, rx)
        return sum(h.values()) - sum(h[name] for name in names)

    def sheet_top(xy: np.ndarray) -> np.ndarray:  # under the top cover, and before the recesses thin it
        return top_without(xy, ("top_cover", *THINNING))

    sheet_under = underside(sheet_top, footprint, rx.shell.thickness_mm, float(np.clip(resolution, GRID_MIN_MM, GRID_MM)))
    floor = sheet_under(points)
    # The shell rests on its own underside (a scan's toes may dip under the forefoot's base).
    rest = max(0.0, -float(floor.min()))
    heights = {**{k: v for k, v in heights.items() if k != "top_cover"}, "rest": np.full(len(points), rest),
               "top_cover": heights["top_cover"]}
    top, floor = sum(heights.values()), floor + rest

    def under(xy: np.ndarray) -> np.ndarray:
        return sheet_under(xy) + rest

    kind = rx.post.rearfoot
    if kind == "intrinsic":  # one body: the post's bottom where it is below the sheet's
        floor = np.minimum(floor, post.bottom(points, outline, marks, rx))
    vertices, faces = solid(points, triangles, rim, top - floor, floor)
    parts = [("shell", vertices, faces)]
    if rx.top_cover.thickness_mm > 0 and rx.shell.length == "three_quarter":
        def under_cover(xy: np.ndarray) -> np.ndarray:  # the shell's top as built
            return top_without(xy, ("top_cover",)) + rest

        parts.append(("top cover extension", *cover_extension(outline, marks, rx, resolution, under_cover)))
    if kind == "extrinsic":
        front = post.front_mm(marks, rx)
        ring = mesh.cut_behind(footprint, np.array([front, 0.0]), np.array([1.0, 0.0]), 4.0 * marks.length_mm)
        ring = np.asarray(shapely.orient_polygons(Polygon(ring).buffer(-PART_GAP_MM, join_style="mitre")).exterior.coords)[:-1]
        pp, pt, pr = triangulate.triangulate(ring, resolution, apart(marks.met_pad_apex, resolution))
        base = post.bottom(pp, outline, marks, rx)
        parts.append(("post", *solid(pp, pt, pr, under(pp) - base, base)))
    if len(parts) == 1:
        return Device(vertices, faces, floor, heights)
    offsets = np.cumsum([0] + [len(v) for _, v, _ in parts])
    whole_v = np.vstack([v for _, v, _ in parts])
    whole_f = np.vstack([f + offset for (_, _, f), offset in zip(parts, offsets)]).astype(np.int32)
    return Device(whole_v, whole_f, floor, heights, tuple(parts))


def apart(anchor: np.ndarray, resolution: float) -> np.ndarray:
    """A lattice anchor (2,) whose lattice shares no point with the one through ``anchor`` (the
    shell's, build.py): half a spacing along, a quarter across (not a lattice vector)."""
    return anchor + resolution * np.array([0.5, 0.25])


def cover_extension(outline, marks: Landmarks, rx, resolution: float, sheet_top: Surface) -> tuple[np.ndarray, np.ndarray]:
    """The top cover past a three-quarter shell's edge to ``top_cover.extent``: a body of its own
    on the ground, its back face on the shell's distal wall. Its top starts level with the cover
    on the shell (sheet_top: xy (k, 2) -> the sheet's top, mm) and comes down smoothly over
    COVER_RAMP_MM to the cover's own thickness. Vertices (v, 3), faces (f, 3) int32, outward."""
    from ..features import fade_out

    first, normal = trim_line(marks)
    reach = outline.points if rx.top_cover.extent == "toes" else mesh.trim(outline.points, marks, "sulcus")
    ring = mesh.cut_behind(reach, first + PART_GAP_MM * normal, -normal, 4.0 * marks.length_mm)  # ahead of the trim line
    pts, tri, rim = triangulate.triangulate(ring, resolution, apart(marks.met_pad_apex, resolution))
    ahead = np.maximum((pts - first) @ normal, 0.0)
    edge = sheet_top(pts - ahead[:, None] * normal)  # the shell's top at the trim line, straight behind
    top = rx.top_cover.thickness_mm + edge * fade_out(ahead, 0.0, COVER_RAMP_MM)
    return solid(pts, tri, rim, top, None)
