"""Where a foot scan's sole is and how the foot lies: the scan -> output frame transform, the side,
and the plantar surface in the output frame.

Output frame (SPEC.md): x from heel to toe, the rearmost point of the heel within 12 mm of
the ground at x = 0; y to the wearer's left, y = 0 on the area centroid of the sole near the
ground; z up, the ground plane (the one the foot would rest on) at z = 0. Method, each step a function of the shape alone, so any pose or unit
of the same scan gives the same output points:

1. Ground: the convex hull facet the scan would rest on (its centroid over the facet), of
   the facets across the flat forefoot (on its side, a foot with its leg may rest too); then
   squared to the mean normal of the sole near it (which a mesh and a cloud of one foot, or
   noise, do not change as they change a facet); then, once the long axis is known, the plane
   through the foot's tripod: the lowest points of the heel and of the medial and lateral
   ball, which sit at z = 0. Levelling the heel across (balancing) is the cast's job.
2. Long axis: principal axis of the plantar surface seen from above; the heel is the end the
   ankle stands over, or, without an ankle (a plantar sheet), the narrower end.
3. Side: the medial border is the one that stays off the ground in the midfoot (the arch);
   the big toe confirms it.
4. Sole: surface seen from below (a steep wall up to its own rise over its foot), facing the
   ground, below SOLE_TOP_MM, never the heel's back or the toes' tips. Across the foot it is
   bounded as a plantar label (a footprint's) is: on the lateral border, which rests on the
   ground, up the side wall until it stands nearly vertical; on the medial border, which lifts
   off (the arch, the heel's rounded side), the footprint: the surface under the foot within
   SOLE_FLAT_MM of the ground under it (the lowest sole in its 5 mm slice), and its edge within
   SOLE_EDGE_MM. (Checked on the FIND template's labelled sole in any pose.) A cloud's normals
   are turned out of the foot first. On an open plantar sheet, everything but its upward-facing
   walls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import column_max, column_min, row_norms
from ..errors import InputError, warn
from .read import RawScan

GROUND_BAND_MM = 5.0  # a foot on the ground: heel, ball and lateral border lie within 5 mm of it
TRIPOD_ROUNDS = 4  # the tripod's lowest points settle in two or three rounds
TRIPOD_SAMPLE = 50_000  # points (and as many surface elements) the rounds before the last look at
TRIPOD_HEEL, TRIPOD_BALL = 0.25, (0.6, 0.8)  # shares of the sole's length: the heel, the metatarsal heads
SOLE_CONE_DEG = 45.0  # the ground lies across the forefoot's flat axis (toe spring and pitch are less)
END_SHARE = 0.3  # the scan's ends along its longest axis: one holds the forefoot
FACING = 0.7  # cos 45 deg: a surface element faces a direction
SEARCH_SAMPLES = 4000  # surface elements sampled to weigh each candidate ground (by index: pose-invariant)
PLANTAR_SHEET_SHARE = 0.25  # a scan no higher than 25 % of its length has no ankle: a plantar sheet
ANKLE_SHARE = 0.3  # points higher than 30 % of the foot length belong to the ankle and leg
COLUMN_MM = 2.0  # visible from below: within COLUMN_TOL_MM of the lowest surface in a 2 mm column
COLUMN_TOL_MM = 6.0
NEAR_GROUND_MM, NEAR_GROUND_FACING = 12.0, 0.4  # the frame's sole: this low, facing down within 66 deg
SLICE_MM = 5.0  # the ground under the sole: lowest plantar point per 5 mm slice across the foot
SOLE_NEAR_MM, SOLE_NEAR_NZ = 12.0, -0.2  # near the ground: facing down within 78 deg (finds the side)
SOLE_WALL_NZ = -0.2  # lateral: up the side wall until it stands within 12 deg of vertical
SOLE_EDGE_MM, SOLE_EDGE_NZ = 3.0, -0.5  # medial, at the footprint's edge: facing down within 60 deg
SOLE_FLAT_MM, SOLE_FLAT_NZ = 12.0, -0.9  # medial, under the foot: within 26 deg of straight down
SOLE_TOP_MM = 35.0  # nothing higher is sole: the arch's apex and lifted toes (13-30 mm) are lower
SOLE_END_NX = 0.7  # the heel's back and the toes' tips face back and forth, not down
SOLE_TIPS = 0.9  # share of the sole's length past which the toes' tips are (the sulcus before them is sole)
SIDE_CENTRE_MM = 20.0  # a cloud's normals point away from its slices' middles this high over their lowest point
CLOUD_WALL_NZ = 0.7  # a cloud's elements steeper than this (within 45 deg of vertical) are walls
STEEP_RISE_MM = 20.0  # a steep wall seen from below rises up to this much across its column and the next
CLOUD_NEIGHBOURS = 16  # local plane fit of a point cloud's normals


@dataclass(frozen=True)
class Pose:
    """A scan placed in the output frame.

    transform: (4, 4) float, scan coordinates (the file's units) -> output frame (mm); a
    rotation times the unit scale plus a translation (never a mirror).
    side: ``"left"`` or ``"right"``; the medial border is +y on a right foot, -y on a left.
    sole: (m, 3) float, mm, output frame: the plantar surface's points (mesh vertices of the
    sole faces, or the cloud's points).
    sole_index: (m,) int, the rows of ``raw.points`` that ``sole`` holds.
    sole_faces: (k,) int, the rows of ``raw.faces`` on the sole, or None for a point cloud.
    plantar_sheet: True for a scan of the plantar surface alone (no ankle, open above).
    notes: one line each for the report: what the scan is, the side and how it was found, how
    much is sole (the reading's notes, units chosen and why and pieces left out, are
    ``RawScan.notes``: a report lists both).
    """

    transform: np.ndarray
    side: str
    sole: np.ndarray
    sole_index: np.ndarray
    sole_faces: np.ndarray | None
    plantar_sheet: bool
    notes: tuple[str, ...]

    def place(self, points: np.ndarray) -> np.ndarray:
        """(n, 3) scan points in the file's units -> (n, 3) output frame, mm."""
        return np.asarray(points, dtype=float) @ self.transform[:3, :3].T + self.transform[:3, 3]

    @property
    def medial_sign(self) -> int:
        """+1 where the medial border is +y (right foot), -1 where it is -y (left)."""
        return 1 if self.side == "right" else -1


@dataclass(frozen=True)
class _Surface:
    """Surface elements (mesh faces, or cloud points): centres (m, 3) mm, unit normals (m, 3),
    weights (m,) area, mm^2; ``signed``: the normals point out of the foot (else their sign is
    unknown)."""

    centres: np.ndarray
    normals: np.ndarray
    weights: np.ndarray
    signed: bool


def find_pose(raw: RawScan, side: str = "auto") -> Pose:
    """Find the ground, the long axis, the heel end and the side of a scan; select its sole.

    side: ``auto`` (found from the arch) or ``left``/``right`` (wins; a warning when the scan
    looks like the other foot). Raises :class:`InputError` when the scan shows no sole.
    """
    if side not in ("auto", "left", "right"):
        raise InputError(f"--side {side} is not known; use auto, left or right")
    points = raw.points * raw.mm_per_unit
    surface, orientation_note = _surface(raw, points)
    notes = [orientation_note] if orientation_note else []
    # A cloud's noise would tilt its hull's facets and put its lowest point too low: its
    # smoothed points (the centres) count.
    floor = points if raw.is_mesh else surface.centres
    up, lift = _settle(floor, surface, *_ground(raw.source, floor, surface))
    rotation, shift, sheet = _frame(raw.source, points, surface, up, lift)
    # Onto the tripod, a few rounds on a sample (by index: pose-invariant), the last on all.
    step = max(1, len(points) // TRIPOD_SAMPLE)
    few = _Surface(surface.centres[::step], surface.normals[::step], surface.weights[::step], surface.signed)
    for last in [False] * TRIPOD_ROUNDS + [True]:
        if last:
            up, lift = _tripod(floor, rotation, shift)
            rotation, shift, sheet = _frame(raw.source, points, surface, up, lift)
        else:
            up, lift = _tripod(floor[::step], rotation, shift)
            rotation, shift, sheet = _frame(raw.source, points[::step], few, up, lift)
    placed = points @ rotation.T + shift
    local = _Surface(surface.centres @ rotation.T + shift, surface.normals @ rotation.T, surface.weights, surface.signed)
    chosen = _sole_elements(local, sheet)
    if chosen.sum() < 3:
        raise InputError(f"{raw.source}: no surface of the scan faces the ground; give a scan of the foot's sole")
    try:
        found, why = _side(local, chosen)
    except InputError as exc:
        raise InputError(f"{raw.source}: {exc}") from None
    notes.append(f"scan: {'a plantar surface (open sheet)' if sheet else 'a whole foot'}, sole {np.ptp(local.centres[chosen, 0]):.0f} mm long")
    if side == "auto":
        side = found
        notes.append(f"side: {found}, found from {why}")
    elif side != found:
        message = f"{raw.source}: --side {side} given, but the scan looks like a {found} foot ({why}); building it as {side}"
        warn(message)
        notes.append(message)
    else:
        notes.append(f"side: {side} as given (the scan agrees: {why})")
    if raw.faces is None:
        sole_index, sole_faces = np.nonzero(chosen)[0], None
    else:
        sole_faces = np.nonzero(chosen)[0]
        used = np.zeros(len(points), dtype=bool)
        used[np.take(raw.faces, sole_faces, axis=0)] = True
        sole_index = np.nonzero(used)[0]
    share = float(surface.weights[chosen].sum() / surface.weights.sum())
    notes.append(f"sole: {100 * share:.0f} % of the scan's area (the rest, not plantar surface, left out)")
    transform = np.eye(4)
    transform[:3, :3] = rotation * raw.mm_per_unit
    transform[:3, 3] = shift
    return Pose(transform, side, np.take(placed, sole_index, axis=0), sole_index, sole_faces, sheet, tuple(notes))


# ---- surface elements --------------------------------------------------------------------------


def _surface(raw: RawScan, points: np.ndarray) -> tuple[_Surface, str]:
    """Faces of a mesh (normals made to point out of the foot when the winding allows it) or
    points of a cloud (normals from local plane fits, their sign unknown)."""
    if raw.faces is None:
        return _cloud_surface(points), ""
    # Corner by corner and coordinate by coordinate: contiguous arrays, no (f, 3, 3) gather
    # (np.take: the same rows as fancy indexing, twice as fast).
    a, b, c = (np.take(points, raw.faces[:, k], axis=0) for k in range(3))
    e1, e2 = (b - a).T, (c - a).T
    cross = np.empty((len(raw.faces), 3))
    cross[:, 0] = e1[1] * e2[2] - e1[2] * e2[1]
    cross[:, 1] = e1[2] * e2[0] - e1[0] * e2[2]
    cross[:, 2] = e1[0] * e2[1] - e1[1] * e2[0]
    del e1, e2  # a scan of millions of faces: each such array is 80 MB and more
    double_area = row_norms(cross)
    centres = a + b  # (a + b + c) / 3 in place
    centres += c
    centres /= 3
    del a, b, c
    normals = cross / np.maximum(double_area, 1e-300)[:, None]  # a degenerate face: no normal, no weight
    weights = 0.5 * double_area
    consistent, rim = _winding(raw.faces, len(points))
    if not consistent:
        return _Surface(centres, normals, weights, False), "mesh: faces wound inconsistently; their normals were not used for inside/outside"
    # Outward normals give a positive volume seen from inside; an open scan is seen from the
    # centre of its rim (an ankle cut, a sheet's edge), which the foot lies behind.
    origin = points[rim].mean(axis=0) if len(rim) else points.mean(axis=0)
    volume = float(np.einsum("ij,ij->", centres - origin, cross))  # cross: twice the area-weighted normals, the same sign
    return _Surface(centres, normals if volume > 0 else -normals, weights, True), ""


def _winding(faces: np.ndarray, count: int) -> tuple[bool, np.ndarray]:
    """Whether neighbouring faces agree on their winding (each shared edge runs both ways; at
    most 1 % may not), and the vertices on the mesh's open rim (edges used once)."""
    import scipy.sparse as sp

    index = np.int32 if count < 2**31 else np.int64  # half the memory on a scan of millions of faces
    start, end = faces.astype(index).ravel(), faces[:, [1, 2, 0]].astype(index).ravel()
    # Edges counted in sparse matrices (a bucket sort by vertex, no comparison sort of all edges):
    # uses[i, j] how often i -> j is walked; a flipped neighbour walks a shared edge one way twice.
    uses = sp.csr_matrix((np.ones(len(start), np.int32), (start, end)), shape=(count, count))
    repeated = int((uses.data - 1).sum())
    both = (uses + uses.T).tocsr()  # per undirected edge, both ways: 1 where it is used once
    rim = np.zeros(count, dtype=bool)
    rim[np.searchsorted(both.indptr, np.flatnonzero(both.data == 1), side="right") - 1] = True  # the rows of those entries
    return repeated <= 0.01 * len(faces), np.nonzero(rim)[0]


def _cloud_surface(points: np.ndarray) -> _Surface:
    """Each point as the mean of its neighbours (noise averaged out), with the normal of the plane
    through them and the area it stands for (their disc shared among them), so a cloud weighs
    like the mesh it was sampled from."""
    from scipy.spatial import cKDTree

    k = min(CLOUD_NEIGHBOURS, len(points))
    reach, near = cKDTree(points).query(points, k=k)
    centres = points[near].mean(axis=1)
    local = points[near] - centres[:, None]
    _, vectors = np.linalg.eigh(np.einsum("nki,nkj->nij", local, local))
    return _Surface(centres, vectors[:, :, 0], np.pi * reach[:, -1] ** 2 / k, False)


# ---- ground and frame --------------------------------------------------------------------------


def _facing(surface: _Surface, direction: np.ndarray) -> np.ndarray:
    """(m,) how much each element faces ``direction`` (its sign ignored when unknown)."""
    dot = surface.normals @ direction
    return dot if surface.signed else np.abs(dot)


def _ground(source: str, points: np.ndarray, surface: _Surface) -> tuple[np.ndarray, float]:
    """The ground plane: up (3,) unit and offset, z = up . p + offset >= 0 for every point.

    The convex hull facet the scan rests on: the surface's centroid projects into it (nearest
    the centroid when several do), among the facets across the forefoot's flat axis (within
    SOLE_CONE_DEG, the sole and not a side). Without such a facet, the one with the most
    surface facing it within GROUND_BAND_MM."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = ConvexHull(points)
    except QhullError:
        raise InputError(f"{source}: the scan is flat (all its points in one plane); give a 3D scan of the foot") from None
    normals, offsets = hull.equations[:, :3], hull.equations[:, 3]
    across_sole = np.nonzero(np.abs(normals @ _flat_axis(points)) > np.cos(np.radians(SOLE_CONE_DEG)))[0]
    centre = surface.weights @ surface.centres / surface.weights.sum()  # weighted mean, by BLAS
    corners = hull.points[hull.simplices[across_sole]]  # (k, 3, 3)
    distance = -(normals[across_sole] @ centre + offsets[across_sole])
    foot = centre - distance[:, None] * normals[across_sole]  # the centroid dropped onto each plane
    resting = _in_triangles(foot, corners)
    if resting.any():
        best = across_sole[resting][np.argmin(distance[resting])]
    else:
        step = max(1, len(surface.weights) // SEARCH_SAMPLES)
        sample = _Surface(surface.centres[::step], surface.normals[::step], surface.weights[::step], surface.signed)
        best = across_sole[np.argmax(_contact(sample, normals[across_sole], offsets[across_sole]))]
    return -normals[best], -float(offsets[best])


def _settle(points: np.ndarray, surface: _Surface, up: np.ndarray, lift: float) -> tuple[np.ndarray, float]:
    """The ground squared to the sole: up becomes the mean (area-weighted) normal of the plantar
    surface near the resting facet, and the scan (points (n, 3), mm) is lowered onto it again.
    A facet rests on three points, which a mesh and a cloud of one foot (or noise) may choose
    differently; the mean normal hardly changes. Once only: repeated, it drifts (a tilted ground
    brings more of one border near it, which tilts it further)."""
    lift = -float((points @ up).min())
    facing = surface.normals @ -up
    near = (np.abs(facing) > NEAR_GROUND_FACING) & (surface.centres @ up + lift < NEAR_GROUND_MM)
    if surface.signed:
        near &= facing > 0
    down = (surface.weights[near] * np.sign(facing[near])) @ np.compress(near, surface.normals, axis=0)
    up = -down / np.linalg.norm(down)
    return up, -float((points @ up).min())


def _in_triangles(p: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """(k,) whether each point p (k, 3) lies in its triangle (k, 3, 3) (both in one plane)."""
    e0, e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0], p - corners[:, 0]
    d00, d01, d11 = (e0 * e0).sum(1), (e0 * e1).sum(1), (e1 * e1).sum(1)
    d20, d21 = (e2 * e0).sum(1), (e2 * e1).sum(1)
    det = np.where(np.abs(d00 * d11 - d01**2) > 0, d00 * d11 - d01**2, np.inf)
    v, w = (d11 * d20 - d01 * d21) / det, (d00 * d21 - d01 * d20) / det
    return (v >= 0) & (w >= 0) & (v + w <= 1)


def _contact(surface: _Surface, normals: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """(d,) surface weight within GROUND_BAND_MM of each plane (n . p + offset = 0, the body on
    the side n . p + offset < 0), facing it."""
    near = surface.centres @ normals.T + offsets >= -GROUND_BAND_MM
    return (surface.weights[:, None] * (near & (_facing(surface, normals.T) > FACING))).sum(axis=0)


def _flat_axis(points: np.ndarray) -> np.ndarray:
    """(3,) unit normal, up to its sign, of the flatter end of the scan along its longest axis:
    the forefoot (about 95 mm wide, 50 mm high) is flat across the sole whatever else the scan
    holds (an ankle, a leg: the foot on its side touches a plane as broadly as on its sole)."""
    sample = points[:: max(1, len(points) // 20000)]
    sample = sample - sample.mean(axis=0)
    _, _, axes = np.linalg.svd(sample, full_matrices=False)
    along = sample @ axes[0]
    lo, span = along.min(), np.ptp(along)
    best = (np.inf, axes[2])
    for end in (along < lo + END_SHARE * span, along > lo + (1 - END_SHARE) * span):
        chunk = sample[end] - sample[end].mean(axis=0)
        values, vectors = np.linalg.eigh(chunk.T @ chunk)
        best = min(best, (values[0] / max(values[1], 1e-12), vectors[:, 0]), key=lambda item: item[0])
    return best[1]


def _frame(source: str, points: np.ndarray, surface: _Surface, up: np.ndarray, lift: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """Rotation (3, 3) and shift (3,) into the output frame, and whether the scan is a plantar sheet."""
    # Any two axes across up: the long axis found in them does not depend on the choice.
    a = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(up, a)
    # The sole near the ground, by height alone: a column test's grid would turn with the scan,
    # and a noisy cloud's normals would fray its border.
    plantar = surface.centres @ up + lift < NEAR_GROUND_MM
    if surface.signed:
        plantar &= surface.normals @ up <= 0
    if plantar.sum() < 3:
        raise InputError(f"{source}: no surface of the scan faces the ground; give a scan of the foot's sole")
    sole = np.compress(plantar, surface.centres, axis=0)  # rows by a mask: as centres[plantar], faster
    plan = np.c_[sole @ a, sole @ b]
    w = surface.weights[plantar]
    mid = w @ plan / w.sum()  # weighted mean, by BLAS
    offset = plan - mid
    _, vectors = np.linalg.eigh((offset * w[:, None]).T @ offset)
    axis = vectors[:, 1]
    along, across = offset @ axis, offset @ [-axis[1], axis[0]]
    length = float(np.ptp(along))
    height = points @ up + lift
    sheet = float(height.max()) < PLANTAR_SHEET_SHARE * length
    ankle = height > ANKLE_SHARE * length
    if not sheet and ankle.sum() >= 0.02 * len(points):  # the ankle stands over the heel
        heel_high = np.median((np.c_[points[ankle] @ a, points[ankle] @ b] - mid) @ axis) > np.median(along)
    else:  # no ankle: the heel is the narrower end
        heel_high = _width(along, across, 0.15, 0.35) > _width(along, across, 0.60, 0.80)
    if heel_high:
        axis, along = -axis, -along
    perp = np.array([-axis[1], axis[0]])  # y = up x x, in the (a, b) plane
    rotation = np.vstack([axis[0] * a + axis[1] * b, perp[0] * a + perp[1] * b, up])
    low = np.compress(height < NEAR_GROUND_MM, points, axis=0)
    heel = (np.c_[low @ a, low @ b] - mid) @ axis  # the rearmost point near the ground: x = 0
    shift = np.array([-(mid @ axis) - heel.min(), -(mid @ perp), lift])
    return rotation, shift, sheet


def _tripod(points: np.ndarray, rotation: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, float]:
    """The ground through the lowest points of the heel, the medial and the lateral ball (the
    foot's tripod) in the current frame: up (3,) and offset in scan coordinates (mm). A round
    heel's lowest point moves as the frame tilts, so the caller repeats this a few rounds."""
    placed = points @ rotation.T + shift
    length = float(np.ptp(placed[placed[:, 2] < NEAR_GROUND_MM, 0]))
    x, y = placed[:, 0], placed[:, 1]
    heel = x < TRIPOD_HEEL * length
    ball = (x > TRIPOD_BALL[0] * length) & (x < TRIPOD_BALL[1] * length)
    feet = []
    for region in (heel, ball & (y > 0), ball & (y <= 0)):
        if not region.any():
            return rotation[2], float(shift[2])
        feet.append(points[np.nonzero(region)[0][np.argmin(placed[region, 2])]])
    normal = np.cross(feet[1] - feet[0], feet[2] - feet[0])
    if np.linalg.norm(normal) < 1e-9:
        return rotation[2], float(shift[2])
    up = normal / np.linalg.norm(normal)
    up = up if up @ rotation[2] > 0 else -up
    return up, -float((points @ up).min())


def _width(along: np.ndarray, across: np.ndarray, start: float, stop: float) -> float:
    """Width (2nd to 98th percentile across) of the slab between two shares of the length."""
    lo, span = along.min(), np.ptp(along)
    inside = across[(along >= lo + start * span) & (along <= lo + stop * span)]
    return float(np.ptp(np.percentile(inside, [2, 98]))) if len(inside) else 0.0


def _visible(xyz: np.ndarray, nz: np.ndarray | None = None) -> np.ndarray:
    """(m,) whether each element (centres (m, 3), z up) is seen from below: within COLUMN_TOL_MM
    of the lowest element of its COLUMN_MM column or of the columns around it. Given the
    elements' normals' z (m,), a steep wall may stand higher by its own rise across those
    columns (up to STEEP_RISE_MM): a side wall seen from below rises steeply over its foot."""
    from scipy import ndimage

    cell = np.floor((xyz[:, :2] - column_min(xyz[:, :2])) / COLUMN_MM).astype(np.int64)
    lowest = np.full(column_max(cell) + 1, np.inf)
    np.minimum.at(lowest, (cell[:, 0], cell[:, 1]), xyz[:, 2])
    lowest = ndimage.minimum_filter(lowest, size=3, mode="nearest")
    tol = COLUMN_TOL_MM
    if nz is not None:
        flat = np.clip(np.abs(nz), 0.05, 1.0)
        tol = tol + np.minimum(3 * COLUMN_MM * np.sqrt(1.0 - flat**2) / flat, STEEP_RISE_MM)
    return xyz[:, 2] <= lowest[cell[:, 0], cell[:, 1]] + tol


def _slices(xyz: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The SLICE_MM slices across the foot: each element's slice (m,) int (centres xyz (m, 3)),
    and per slice the lowest z and the least and greatest y of the ``chosen`` (m,) bool
    elements in it (each (s,) float, mm; +-inf in a slice without any)."""
    slab = np.floor((xyz[:, 0] - xyz[:, 0].min()) / SLICE_MM).astype(np.int64)
    low_z, low_y, high_y = (np.full(slab.max() + 1, fill) for fill in (np.inf, np.inf, -np.inf))
    np.minimum.at(low_z, slab[chosen], xyz[chosen, 2])
    np.minimum.at(low_y, slab[chosen], xyz[chosen, 1])
    np.maximum.at(high_y, slab[chosen], xyz[chosen, 1])
    return slab, low_z, low_y, high_y


def _outward(xyz: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(m, 3) a cloud's normals (their sign unknown) turned out of the foot: elements facing
    nearly up or down (past CLOUD_WALL_NZ) face down (seen from below, they are the sole); a
    wall faces away from the middle of its 5 mm slice across the foot, SIDE_CENTRE_MM above the
    slice's lowest point, so that it faces down below its widest point and up above it."""
    slab, low_z, _, _ = _slices(xyz, np.ones(len(xyz), dtype=bool))
    _, _, low_y, high_y = _slices(xyz, xyz[:, 2] < low_z[slab] + 2 * SIDE_CENTRE_MM)  # the foot's width, not the leg's
    out = np.c_[xyz[:, 1] - 0.5 * (low_y + high_y)[slab], xyz[:, 2] - low_z[slab] - SIDE_CENTRE_MM]
    wall = np.abs(normals[:, 2]) <= CLOUD_WALL_NZ
    flip = np.where(wall, np.einsum("ij,ij->i", normals[:, 1:], out) < 0, normals[:, 2] > 0)
    return np.where(flip[:, None], -normals, normals)


def _sole_elements(local: _Surface, sheet: bool) -> np.ndarray:
    """(m,) the plantar elements, in the output frame (module docstring, step 4)."""
    xyz, nz = local.centres, local.normals[:, 2]
    if sheet:  # an open plantar sheet: all but its upward-facing walls
        seen = _visible(xyz)
        return seen & (nz < 0) if local.signed else seen
    normals = local.normals if local.signed else _outward(xyz, local.normals)
    tilt = normals[:, 2]
    candidates = _visible(xyz, nz) & (tilt < 0) & (xyz[:, 2] < SOLE_TOP_MM)
    candidates &= normals[:, 0] > -SOLE_END_NX  # not the heel's back
    tips = xyz[candidates, 0].max() * SOLE_TIPS if candidates.any() else np.inf
    candidates &= ~((normals[:, 0] > SOLE_END_NX) & (xyz[:, 0] > tips))
    slab, ground, low_y, high_y = _slices(xyz, candidates)  # the ground under each slice: its lowest sole
    above = xyz[:, 2] - ground[slab]  # +inf over slices without ground
    near = candidates & (tilt < SOLE_NEAR_NZ) & (above < SOLE_NEAR_MM)
    try:
        side, _ = _side(local, near)
    except InputError:  # no midfoot, ball or toes: find_pose says so
        return near
    sign = 1 if side == "right" else -1
    with np.errstate(invalid="ignore"):  # slices without sole: no middle, nothing chosen there
        medial = ((xyz[:, 1] - 0.5 * (low_y + high_y)[slab]) * sign > 0) & (normals[:, 1] * sign > 0)
    # The lateral border rests on the ground: the sole goes up its wall. The medial border
    # lifts off it (the arch, the heel's rounded side: the medial half, turned to the medial
    # side): there the sole is the footprint, the surface under the foot and the edge where it
    # leaves the ground.
    under = ((above < SOLE_FLAT_MM) & (tilt < SOLE_FLAT_NZ)) | ((above < SOLE_EDGE_MM) & (tilt < SOLE_EDGE_NZ))
    return candidates & np.where(medial, under, tilt < SOLE_WALL_NZ)


def _side(local: _Surface, sole: np.ndarray) -> tuple[str, str]:
    """Which foot, and why: in the midfoot the medial border stays off the ground (the arch),
    so the sole's points rise toward it; the toes lie medial of the ball (the big toe)."""
    xyz, w = local.centres[sole], local.weights[sole]
    length = float(xyz[:, 0].max())
    mid = (xyz[:, 0] > 0.35 * length) & (xyz[:, 0] < 0.6 * length)
    ball_band = (xyz[:, 0] > 0.6 * length) & (xyz[:, 0] < 0.8 * length)
    toe_band = xyz[:, 0] > 0.85 * length
    if min(mid.sum(), ball_band.sum(), toe_band.sum()) < 3:
        raise InputError("the scan's sole has no midfoot, ball or toes; give a scan of the whole sole")
    y, z = xyz[mid, 1], xyz[mid, 2]
    centre = 0.5 * (np.percentile(y, 2) + np.percentile(y, 98))
    left_half, right_half = y > centre, y <= centre
    rise = float(np.average(z[left_half], weights=w[mid][left_half]) - np.average(z[right_half], weights=w[mid][right_half]))
    toes = np.average(xyz[toe_band, 1], weights=w[toe_band])
    ball = np.average(xyz[ball_band, 1], weights=w[ball_band])
    toe_shift = float(toes - ball)
    side = "right" if rise > 0 else "left"  # medial +y is a right foot
    agree = (toe_shift > 0) == (rise > 0)
    why = (
        f"the arch (the midfoot sole {abs(rise):.1f} mm higher on the {'+y' if rise > 0 else '-y'} half) "
        f"{'and' if agree else 'though not'} the big toe (the toes {abs(toe_shift):.0f} mm to the "
        f"{'+y' if toe_shift > 0 else '-y'} side of the ball)"
    )
    return side, why
