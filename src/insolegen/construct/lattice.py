"""The lattice insert: the solid's core replaced by a graded gyroid sheet (SPEC "Printed lattices").

One implicit field on a voxel grid holds the whole body: the solid (inside the rim, between the
bottom and the top) minus the void of the core (the solid less a top skin and a rim wall of
``lattice.skin_mm``, open through the bottom or over a bottom skin with drain holes) off the sheet
``|gyroid distance| <= wall / 2``. The wall follows the density asked, zone by zone, through a
ramp wide enough that no 10 mm along the foot changes it by more than MAX_STEP_PCT. Empty
voxels that do not reach the outside are filled (no sealed powder or resin), material voxels
not joined to the body dropped; VTK's flying edges meshes the field's zero level.

Needs the ``lattice`` extra (vtk).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage
from scipy.spatial import cKDTree
from shapely.geometry import Polygon

from .. import mesh, rays, scanline
from ..errors import InputError
from . import gyroid

CORE_MIN_MM = 2.0  # thinner room under the skin stays solid (a 3 mm forefoot under a 1.2 mm skin)
DRAIN_HOLE_MM = 3.0  # drain hole diameter through a bottom skin: powder and resin run out
MAX_STEP_PCT = 7.0  # density change over 10 mm along the foot (the contract allows 8 between windows)
PAD_RAMP_MM = 10.0  # the met pad is too small for the main ramp; across the foot it weighs little
FILLET_MM = 0.8  # the sheet meets the skin and the rim wall in fillets this size (no cracks; stronger)
# Over an open bottom the sheet stands vertical, its section at this height above the bottom
# extruded down: a slab cut obliquely by the bottom plane leaves a knife edge (0.03-0.4 mm walls).
# The gyroid's z follows the bottom, so the section lies at z = 0 of its cell, where the sheet's
# faces are steepest (|n_z| <= 0.59-0.75 for wall / cell 0.04-0.2; benchmarks/gyroid_bottom_phase.py).
BOTTOM_BAND_MM = 1.0
REACH_MM = 10.0  # the rim's distance is needed this far in: past the skin, a drain hole and the core's edge
# Gibson & Ashby, Cellular Solids (2nd ed., 1997), open-cell foams: E/Es = C rho^n, C ~ 1, n = 2
# (bending-dominated). Sheet gyroids measure stiffer (n ~ 1.5-2); n = 2 is the cautious estimate.
GIBSON_ASHBY_C, GIBSON_ASHBY_N = 1.0, 2.0


@dataclass
class Lattice:
    """The lattice body and what the build knows of it.

    vertices: (v, 3) float, mm; faces: (f, 3) int32, outward; step_mm: the meshing grid;
    core: (nx, ny) bool, where the core runs under the skin; weights: zone name -> (nx, ny) float,
    its share of the density blend; x, y: (nx,), (ny,) float, mm, the grid's columns;
    density: (nx, ny) float, 0-1, asked; floor, ceiling: (nx, ny) float, mm, the core's z range;
    inside: (nx, ny) float, mm, distance in from the rim; filled_voxels, dropped_voxels: see :func:`_clean`.
    """

    vertices: np.ndarray
    faces: np.ndarray
    step_mm: float
    x: np.ndarray
    y: np.ndarray
    core: np.ndarray
    density: np.ndarray
    weights: dict
    floor: np.ndarray
    ceiling: np.ndarray
    inside: np.ndarray
    filled_voxels: int
    dropped_voxels: int


def step_for(wall_mm: float) -> float:
    """The meshing grid (mm): three samples across the thinnest sheet, 0.15-0.3 mm."""
    return float(np.clip(wall_mm / 3.0, 0.15, 0.3))


def build(insert) -> Lattice:
    """The lattice body of a built solid ``insert`` (its prescription's ``lattice`` section)."""
    try:
        import vtk  # noqa: F401 - the mesher, from the optional extra
    except ImportError:
        raise InputError("lattice.type gyroid needs the lattice extra: pip install 'insolegen[lattice]'") from None
    rx = insert.prescription
    lat = rx.lattice
    asked = _asked(rx)
    wall_min = float(gyroid.wall_for(min(asked.values()) / 100, lat.cell_mm))
    h = step_for(wall_min)
    lo, hi = insert.vertices.min(axis=0), insert.vertices.max(axis=0)
    # The grid misses the mesh's vertices (rays), and z = bottom lies midway between two samples.
    origin = lo[:2] - 2 * h + np.array(rays.GRID_PHASE) * h
    nx, ny = (np.ceil((hi[:2] - origin + 2 * h) / h)).astype(int) + 1
    x, y = origin[0] + h * np.arange(nx), origin[1] + h * np.arange(ny)
    z = lo[2] - 1.5 * h + h * np.arange(int(np.ceil((hi[2] - lo[2] + 3 * h) / h)) + 1)
    top, bottom = _heights(insert, origin, h, nx, ny)
    rim = Polygon(insert.points[: insert.rim])
    inside = _rim_distance(rim, x, y)
    weights = _zone_weights(insert, x, y, asked, rx.zones.met_pad.density_pct is not None)
    density = sum(w * asked[name] / 100 for name, w in weights.items())
    half = (gyroid.wall_for(density, lat.cell_mm) / 2).astype(np.float32)
    skin = lat.skin_mm
    floor = bottom + (skin if lat.bottom == "skin" else 0.0)
    ceiling = top - skin
    core = (inside >= skin) & (ceiling - floor >= CORE_MIN_MM)
    # Open: the void runs 1 mm out through the bottom, so the underside opens onto the lattice.
    void_floor = floor if lat.bottom == "skin" else bottom - 1.0
    slack = np.maximum(skin - inside, CORE_MIN_MM - (ceiling - floor))
    holes = None
    if lat.bottom == "skin":
        holes = _drain_holes(x, y, lat.cell_mm, slack, floor, half, h)
        if holes is None:
            # Without one, the core would be sealed (and filled solid): refused, not built so.
            raise InputError(f"lattice.bottom = skin: the core's void over the skin leaves no room for a {DRAIN_HOLE_MM:g} mm "
                             f"drain hole clear of the sheet at lattice.cell_mm {lat.cell_mm:g}; use larger cells, a lower "
                             "density or lattice.bottom=open")
    field = _field(x, y, z, inside, top, bottom, ceiling, void_floor, slack, half, lat.cell_mm, holes, floor, h,
                   lat.bottom == "open")
    filled, dropped = _clean(field, h)
    # Flying edges puts a vertex on a sample whose value is 0, and its neighbours' triangles
    # collapse there: keep every sample at least 1 % of a step off the level.
    eps = np.float32(0.01 * h)
    np.copyto(field, np.where(field < 0, -eps, eps), where=np.abs(field) < eps)
    vertices, faces = _mesh(field, (x[0], y[0], z[0]), h)
    return Lattice(vertices=vertices, faces=faces, step_mm=h, x=x, y=y, core=core, density=density,
                   weights=weights, floor=floor, ceiling=ceiling, inside=inside, filled_voxels=filled, dropped_voxels=dropped)


def _asked(rx) -> dict[str, float]:
    """Zone name -> density asked, %: every zone of fabrication.zones, ``lattice.density_pct`` unless set."""
    from ..fabrication.zones import ZONE_NAMES

    zones = rx.zones
    return {name: (getattr(zones, name).density_pct or rx.lattice.density_pct) for name in ZONE_NAMES}


def _heights(insert, origin, h, nx, ny) -> tuple[np.ndarray, np.ndarray]:
    """Top and bottom z (nx, ny) float, mm, of the solid on the grid's columns, from vertical
    rays through its mesh; columns off the insert take their nearest column's (the fields then
    run on smoothly past the rim, where the rim's own distance decides)."""
    hits = rays.grid_hits(insert.vertices, insert.faces, h, origin)
    ij = np.rint((hits.xy - origin) / h).astype(int)
    top, bottom = np.full((nx, ny), np.nan), np.full((nx, ny), np.nan)
    top[ij[:, 0], ij[:, 1]], bottom[ij[:, 0], ij[:, 1]] = hits.top, hits.bottom
    missing = np.isnan(top)
    nearest = ndimage.distance_transform_edt(missing, return_distances=False, return_indices=True)
    return top[tuple(nearest)], bottom[tuple(nearest)]


def _rim_distance(rim: Polygon, x: np.ndarray, y: np.ndarray, spacing: float = 0.1) -> np.ndarray:
    """(nx, ny) float, mm: distance to the rim, positive inside (the rim sampled every ``spacing`` mm)."""
    ring = rim.exterior
    # Chords of 0.1 mm: the distance off by at most 0.0013 mm at a skin's depth (0.8 mm in).
    samples = shapely.get_coordinates(shapely.line_interpolate_point(ring, np.arange(0.0, ring.length, spacing)))
    gx, gy = np.meshgrid(x, y, indexing="ij")
    # Past REACH_MM from the rim only the side matters: the query stops there.
    dist, _ = cKDTree(samples).query(np.c_[gx.ravel(), gy.ravel()], distance_upper_bound=REACH_MM, workers=2)
    dist = np.minimum(dist, REACH_MM).reshape(gx.shape)
    h = y[1] - y[0]
    row, x_lo, x_hi = scanline.polygon_spans([np.asarray(ring.coords)[:-1]], y[0], h, len(y))
    first = np.ceil((x_lo - x[0]) / h).astype(int)
    owner, column = scanline.expand(first, np.maximum(np.floor((x_hi - x[0]) / h).astype(int) - first + 1, 0))
    sign = np.full(gx.shape, -1.0)
    sign[np.clip(column, 0, len(x) - 1), row[owner]] = 1.0
    return dist * sign


def ramp_mm(asked: dict[str, float]) -> float:
    """Width (mm) of the ramp between neighbouring zones: the largest jump over it stays under
    MAX_STEP_PCT per 10 mm."""
    jump = max(asked.values()) - min(asked.values())
    return max(10.0, 10.0 * jump / MAX_STEP_PCT)


def _zone_weights(insert, x, y, asked, pad: bool) -> dict[str, np.ndarray]:
    """Zone name -> (nx, ny) float, its share of the density blend (they sum to 1): each zone's
    indicator averaged over a square of the ramp's width, a linear ramp across its border; the
    met pad (when ``pad``: its density is set), a small island, over PAD_RAMP_MM and laid on top."""
    from ..fabrication import zones

    regions = zones.regions(insert)
    if not pad:
        regions.pop("met_pad")
    h = x[1] - x[0]
    gx, gy = np.meshgrid(x, y, indexing="ij")
    share = {}
    for name, region in regions.items():
        width = PAD_RAMP_MM if name == "met_pad" else ramp_mm({k: asked[k] for k in regions if k != "met_pad"})
        inside = shapely.contains_xy(region, gx, gy).astype(np.float32)
        share[name] = ndimage.uniform_filter(inside, size=max(1, int(round(width / h)) | 1), mode="nearest")
    over = share.pop("met_pad", np.float32(0.0))
    total = sum(share.values())
    out = {name: w / np.maximum(total, 1e-6) * (1.0 - over) for name, w in share.items()}
    if pad:
        out["met_pad"] = over
    return out


def _drain_holes(x, y, cell, slack, floor, half, h) -> np.ndarray | None:
    """(nx, ny) float32, mm: distance past the nearest drain hole's edge (negative in a hole), or
    None where no hole fits.

    A hole stands where the core's void is widest just over the bottom skin (the sheet and its
    fillet DRAIN_HOLE_MM / 2 + a step or more away all round), at most one per half cell and a
    hole's width from the next: each of the gyroid's two labyrinths meets the skin in such wide
    places, and a hole that cut the foot of a sheet left a knife edge of it over the hole's rim
    (0.03 mm where holes stood every half cell)."""
    gx, gy = np.meshgrid(x, y, indexing="ij")
    level = (floor + h / 2).astype(np.float32)
    sheet_free = gyroid.distance(gx.astype(np.float32), gy.astype(np.float32), level, cell) - half > FILLET_MM / 4
    room = ndimage.distance_transform_edt(sheet_free & (slack <= 0)) * h
    peak = (room >= DRAIN_HOLE_MM / 2 + h) & (room == ndimage.maximum_filter(room, size=int(round(cell / 2 / h)) | 1))
    # The widest first, each a hole's width clear of those kept (no thin web of skin between two).
    order = np.argsort(-room[peak], kind="stable")
    centres = np.argwhere(peak)[order] * h
    kept = []
    for c in centres:
        if all(np.hypot(*(c - k)) >= 2 * DRAIN_HOLE_MM for k in kept):
            kept.append(c)
    if not kept:
        return None
    peak = np.zeros(gx.shape, bool)
    peak[tuple(np.rint(np.array(kept) / h).astype(int).T)] = True
    return (ndimage.distance_transform_edt(~peak) * h - DRAIN_HOLE_MM / 2).astype(np.float32)


def _field(x, y, z, inside, top, bottom, ceiling, void_floor, slack, half, cell, holes, floor, h, open_bottom) -> np.ndarray:
    """(nx, ny, nz) float32: the body's implicit field, < 0 in the material, about the distance
    to its surface near it; ``open_bottom``: the sheet stands vertical over the bottom (see
    BOTTOM_BAND_MM). Evaluated in slabs of x on two threads (numpy frees the GIL)."""
    out = np.empty((len(x), len(y), len(z)), np.float32)
    zz = z.astype(np.float32)[None, None, :]
    maps = [np.asarray(a, np.float32)[..., None] for a in (inside, top, bottom, ceiling, void_floor, slack, half)]
    hole_map = None if holes is None else np.asarray(holes, np.float32)[..., None]
    floor32 = np.asarray(floor, np.float32)[..., None]

    def slab(i0: int) -> None:
        s = slice(i0, min(i0 + 32, len(x)))
        d, t, b, c, f, sl, w = (m[s] for m in maps)
        solid = np.maximum(np.maximum(-d, b - zz), zz - t)
        void = np.maximum(np.maximum(zz - c, f - zz), sl)
        zs = np.maximum(zz - b - np.float32(BOTTOM_BAND_MM), np.float32(0.0)) if open_bottom else zz
        sheet = w - gyroid.distance(x[s].astype(np.float32)[:, None, None], y.astype(np.float32)[None, :, None], zs, cell)
        void = _smooth_max(void, sheet, FILLET_MM)
        if hole_map is not None:  # a drain hole: from below the bottom to a step into the core
            through = np.maximum(np.maximum(hole_map[s], (b - 1.0) - zz), zz - (floor32[s] + h))
            void = np.minimum(void, through)
        out[s] = np.maximum(solid, -void)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(slab, range(0, len(x), 32)))
    return out


def _smooth_max(a: np.ndarray, b: np.ndarray, r: float) -> np.ndarray:
    """max(a, b) rounded where the two are within r of each other (a quadratic blend): the void
    ends in fillets of about r where the sheet meets the skin or the rim wall at a grazing angle,
    not in a crack thinner than the grid."""
    gap = np.maximum(np.float32(r) - np.abs(a - b), np.float32(0.0))
    return np.maximum(a, b) + gap * gap * np.float32(0.25 / r)


def _clean(field: np.ndarray, h: float) -> tuple[int, int]:
    """Fill empty voxels that do not reach the grid's edge (a sealed pocket) and empty the
    material voxels not joined to the largest body (face-connected both: what only touches at
    an edge counts as apart). Returns (voxels filled, voxels dropped)."""
    labels, _ = ndimage.label(field > 0)
    outside = np.zeros(labels.max() + 1, bool)
    outside[[0, *np.unique(np.concatenate([labels[[0, -1]].ravel(), labels[:, [0, -1]].ravel(),
                                           labels[:, :, [0, -1]].ravel()]))]] = True
    sealed = ~outside[labels]
    filled = int(sealed.sum())
    field[sealed] = -h
    del labels, sealed
    labels, count = ndimage.label(field < 0)
    dropped = 0
    if count > 1:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        apart = (labels > 0) & (labels != np.argmax(sizes))
        dropped = int(apart.sum())
        field[apart] = h
    return filled, dropped


def _mesh(field: np.ndarray, origin, h: float) -> tuple[np.ndarray, np.ndarray]:
    """The zero level of ``field`` (nx, ny, nz) as vertices (v, 3) float, mm, and outward faces
    (f, 3) int32, by VTK's flying edges (multithreaded; see benchmarks/lattice_mesher_compare.py)."""
    import vtk
    from vtk.util import numpy_support

    # VTK's x runs fastest: hand it the C-ordered (x, y, z) array as (z, y, x), no copy, and
    # swap the vertices' coordinates back.
    image = vtk.vtkImageData()
    image.SetDimensions(*field.shape[::-1])
    image.SetSpacing(h, h, h)
    image.SetOrigin(*(float(o) for o in origin[::-1]))
    scalars = numpy_support.numpy_to_vtk(field.reshape(-1), deep=False)
    image.GetPointData().SetScalars(scalars)
    edges = vtk.vtkFlyingEdges3D()
    edges.SetInputData(image)
    edges.SetValue(0, 0.0)
    edges.ComputeNormalsOff()
    edges.ComputeGradientsOff()
    edges.ComputeScalarsOff()
    edges.Update()
    out = edges.GetOutput()
    vertices = np.ascontiguousarray(numpy_support.vtk_to_numpy(out.GetPoints().GetData())[:, ::-1], dtype=float)
    faces = numpy_support.vtk_to_numpy(out.GetPolys().GetConnectivityArray()).astype(np.int32).reshape(-1, 3)
    # The winding follows the field's gradient and the swapped axes: made outward by the volume's sign.
    volume = {}

    def add(block, corners, cross):
        volume[block.start] = float(np.einsum("ij,ij->", corners[0], cross))

    mesh.each_face_block(vertices, faces, add)
    if sum(volume.values()) < 0:
        faces = faces[:, ::-1].copy()
    return vertices, faces
