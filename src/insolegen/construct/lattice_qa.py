"""A lattice insert measured on its mesh: density per zone, thinnest wall, skin, share, stiffness.

Density and skin come from vertical rays through the body (every crossing, so along z the
measure is exact and only xy is sampled); the thinnest wall from the distances across the walls
around the thinnest sheet asked.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from .. import rays
from ..qa import as_manifold
from . import lattice as construct_lattice
from .lattice import GIBSON_ASHBY_C, GIBSON_ASHBY_N

RAY_SPACING_MM = 0.5
WALL_NEIGHBOURS = 160  # the far side of a 1 mm wall lies within the nearest 160 vertices of a 0.3 mm mesh
SKIN_INSET_MM = 4.0  # the skin is measured this far in from the rim (the rim's own rounding aside)
ZONE_CORE_SHARE = 0.999  # a column is in a zone's core where that zone's weight is at least this


def columns(vertices: np.ndarray, faces: np.ndarray, spacing: float, origin=None):
    """Per vertical ray through the body: its xy (k, 2), mm, and its crossings as (start, count)
    into z (h,) sorted by ray then height; material lies between crossings 0-1, 2-3, ..."""
    origin, ray, z, ix, iy = rays.crossings(vertices, faces, spacing, origin)
    start = np.flatnonzero(np.r_[True, np.diff(ray) != 0])
    count = np.diff(np.r_[start, len(ray)])
    xy = origin + np.c_[ix[start], iy[start]] * spacing
    return xy, start, count, z


def material_between(start, count, z, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(k,) float, mm: the length of material in each column between lo and hi (k,) mm."""
    owner = np.repeat(np.arange(len(start)), count)
    rank = np.arange(len(z)) - np.repeat(start, count)
    enter, leave = rank % 2 == 0, rank % 2 == 1
    a, b = z[enter], z[leave]  # a column with an odd count (a grazed edge) loses its last crossing
    col = owner[enter][: len(b)] if len(a) != len(b) else owner[enter]
    a = a[: len(b)]
    length = np.clip(np.minimum(b, hi[col]) - np.maximum(a, lo[col]), 0.0, None)
    return np.bincount(col, weights=length, minlength=len(start))


def top_skin(start, count, z) -> np.ndarray:
    """(k,) float, mm: each column's topmost material run (its top skin where a core lies below)."""
    last = start + count - 1
    return z[last] - z[np.maximum(last - 1, start)]


def _on_grid(lat, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lattice grid's column nearest each xy (k, 2): indices (k,), (k,)."""
    h = lat.step_mm
    i = np.clip(np.rint((xy[:, 0] - lat.x[0]) / h).astype(int), 0, len(lat.x) - 1)
    j = np.clip(np.rint((xy[:, 1] - lat.y[0]) / h).astype(int), 0, len(lat.y) - 1)
    return i, j


def thinnest_wall(vertices: np.ndarray, faces: np.ndarray, centre: np.ndarray, size: float, lo: float, hi: float) -> float:
    """The thinnest wall (mm) of the body in the box ``size`` mm square about centre (2,) between
    heights lo and hi (mm): from each surface vertex, the distance to the far side of its wall
    (the faces around the nearest vertex behind it facing the other way), the least of them."""
    import trimesh

    # The faces within 3 mm of the box (the lattice's faces are well under a millimetre).
    close = np.all(np.abs(vertices[:, :2] - centre) < size / 2 + 3.0, axis=1) & (vertices[:, 2] > lo - 3.0) & (vertices[:, 2] < hi + 3.0)
    crop = trimesh.Trimesh(vertices, faces[close[faces].all(axis=1)], process=False)
    used = np.unique(crop.faces)
    points, normals = crop.vertices[used], crop.vertex_normals[used]
    probe = np.all(np.abs(points[:, :2] - centre) <= size / 2, axis=1) & (points[:, 2] >= lo) & (points[:, 2] <= hi)
    distance, neighbour = cKDTree(points).query(points[probe], k=WALL_NEIGHBOURS, distance_upper_bound=3.0, workers=2)
    found = np.isfinite(distance)
    neighbour = np.where(found, neighbour, 0)
    # The far side of a wall: facing the other way and behind the probe (across a gap the two
    # face each other), within 37 degrees of straight across: a vertex on an edge's rounding
    # (the grid's chamfer where the sheet meets the open bottom) is not a thin wall.
    behind = np.einsum("knj,kj->kn", points[neighbour] - points[probe][:, None], normals[probe]) < -0.8 * distance
    facing = (np.einsum("kj,knj->kn", normals[probe], normals[neighbour]) < -0.8) & behind
    first = np.argmax(facing & found, axis=1)
    ok = (facing & found)[np.arange(len(first)), first]
    if not ok.any():
        return float("nan")
    # The distance to the far side's faces around that vertex: exact on a flat wall and where
    # the wall turns into a fillet (a tangent plane would cut the corner there).
    q = used[neighbour[np.arange(len(first)), first][ok]]
    around = crop.vertex_faces[q]  # (k, m), -1 padded
    probe_at, slot = np.nonzero(around >= 0)
    triangles = crop.vertices[crop.faces[around[probe_at, slot]]]
    closest = trimesh.triangles.closest_point(triangles, points[probe][ok][probe_at])
    gap = np.full(len(q), np.inf)
    np.minimum.at(gap, probe_at, np.linalg.norm(closest - points[probe][ok][probe_at], axis=1))
    return float(gap.min())


def figures(insert, volume_mm3: float) -> dict:
    """The report's ``lattice`` section; volume_mm3: the body's (the QA has it already)."""
    lat, rx = insert.lattice, insert.prescription
    vertices, faces = insert.body
    xy, start, count, z = columns(vertices, faces, RAY_SPACING_MM)
    i, j = _on_grid(lat, xy)
    core = lat.core[i, j]
    # The core below (and, over a bottom skin, above) the fillets that join the sheet to the skins.
    lo = lat.floor[i, j] + (construct_lattice.FILLET_MM if rx.lattice.bottom == "skin" else 0.0)
    hi = lat.ceiling[i, j] - construct_lattice.FILLET_MM
    built = material_between(start, count, z, lo, hi)
    asked = construct_lattice._asked(rx)
    zones = {}
    for name, weight in lat.weights.items():
        mine = core & (weight[i, j] >= ZONE_CORE_SHARE)
        mine &= hi > lo
        room = float((hi - lo)[mine].sum())
        density = float(built[mine].sum() / room) if room > 0 else None
        zones[name] = {
            "density_asked_pct": asked[name],
            "density_built_pct": None if density is None else round(100 * density, 2),
            "core_area_mm2": round(float(mine.sum()) * RAY_SPACING_MM**2, 1),
            "relative_stiffness": None if density is None else round(GIBSON_ASHBY_C * density**GIBSON_ASHBY_N, 4),
        }
    skin = top_skin(start, count, z)[core & (lat.inside[i, j] >= SKIN_INSET_MM)]
    # The thinnest sheet asked, where the core is deepest (at its thin edge the skins' fillets fill it).
    thinnest = lat.core & (lat.density <= np.where(lat.core, lat.density, np.inf).min() + 0.005)
    thin = np.unravel_index(np.argmax(np.where(thinnest, lat.ceiling - lat.floor, -np.inf)), lat.density.shape)
    wall = thinnest_wall(vertices, faces, np.array([lat.x[thin[0]], lat.y[thin[1]]]), rx.lattice.cell_mm,
                         float(lat.floor[thin]) + 1.0, float(lat.ceiling[thin]) - 1.0)
    h = lat.step_mm
    core_volume = float(np.where(lat.core, lat.ceiling - lat.floor, 0.0).sum()) * h * h
    solid_volume = float(as_manifold(insert.vertices, insert.faces).volume())
    return {
        "type": rx.lattice.type,
        "cell_mm": rx.lattice.cell_mm,
        "mesh_step_mm": round(lat.step_mm, 4),
        "zones": zones,
        "stiffness_model": f"Gibson-Ashby E/Es = {GIBSON_ASHBY_C:g} rho^{GIBSON_ASHBY_N:g} "
                           "(Gibson & Ashby, Cellular Solids, 2nd ed. 1997, open-cell foams)",
        "thinnest_wall_mm": round(wall, 3),
        "thinnest_wall_asked_mm": rx.lattice.min_wall_mm,
        "top_skin_min_mm": round(float(skin.min()), 3) if len(skin) else None,
        "triangles": int(len(faces)),
        "lattice_share_pct": round(100 * core_volume / solid_volume, 1),
        "volume_share_of_solid_pct": round(100 * volume_mm3 / solid_volume, 1),
        "sealed_voxels_filled": lat.filled_voxels,
        "loose_voxels_dropped": lat.dropped_voxels,
    }

