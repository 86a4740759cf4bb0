"""Where a foot scan's sole is and how the foot lies: the scan -> output frame transform, the side,
and the plantar surface in the output frame.

Output frame (SPEC.md): x from heel to toe, the rearmost point of the sole at x = 0; y to the
wearer's left, y = 0 on the sole's area centroid; z up, the ground plane (the one the foot
would rest on) at z = 0. Method, each step a function of the shape alone, so any pose or unit
of the same scan gives the same output points:

1. Ground: the convex hull facet the scan would rest on (its centroid over the facet), of
   the facets across the flat forefoot (on its side, a foot with its leg may rest too). The
   heel and the ball sit on it.
2. Long axis: principal axis of the plantar surface seen from above; the heel is the end the
   ankle stands over, or, without an ankle (a plantar sheet), the narrower end.
3. Side: the medial border is the one that stays off the ground in the midfoot (the arch);
   the big toe confirms it.
4. Sole: surface seen from below and facing the ground: anything within SOLE_NEAR_MM of the
   ground under it, above that up to SOLE_HIGH_MM only the gently sloped vault; on an open
   plantar sheet, everything but its upward-facing walls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, warn
from .read import RawScan

GROUND_BAND_MM = 5.0  # a foot on the ground: heel, ball and lateral border lie within 5 mm of it
SOLE_CONE_DEG = 45.0  # the ground lies across the forefoot's flat axis (toe spring and pitch are less)
END_SHARE = 0.3  # the scan's ends along its longest axis: one holds the forefoot
SETTLE_ROUNDS, SETTLED = 1, 1e-7  # one round: more drift (the tilted ground brings more of one side near it)
FACING = 0.7  # cos 45 deg: a surface element faces a direction
SEARCH_SAMPLES = 4000  # surface elements sampled to weigh each candidate ground (by index: pose-invariant)
PLANTAR_SHEET_SHARE = 0.25  # a scan no higher than 25 % of its length has no ankle: a plantar sheet
ANKLE_SHARE = 0.3  # points higher than 30 % of the foot length belong to the ankle and leg
COLUMN_MM = 2.0  # visible from below: within COLUMN_TOL_MM of the lowest surface in a 2 mm column
COLUMN_TOL_MM = 3.0
SLICE_MM = 5.0  # the ground under the sole: lowest plantar point per 5 mm slice across the foot
SOLE_NEAR_MM, SOLE_NEAR_NZ = 12.0, -0.4  # near the ground: facing down within 66 deg
SOLE_HIGH_MM, SOLE_HIGH_NZ = 25.0, -0.8  # the arch vault: within 37 deg of straight down
SOLE_END_NX = 0.7  # the heel's back and the toes' tips face back and forth, not down
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
    notes: one line each for the report: units, side and how it was found, what was left out.
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
    weights (m,) (area, mm^2, or 1 per point); ``signed``: normals point out of the foot."""

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
        raise InputError(f"side '{side}' is not known; use auto, left or right")
    points = raw.points * raw.mm_per_unit
    surface, orientation_note = _surface(raw, points)
    notes = list(raw.notes) + ([orientation_note] if orientation_note else [])
    # A cloud's noise would put its lowest point too low: its smoothed points (the centres) count.
    floor = points if raw.is_mesh else surface.centres
    up, lift = _settle(floor, surface, *_ground(points, surface))
    rotation, shift, sheet = _frame(raw.source, points, surface, up, lift)
    placed = points @ rotation.T + shift
    local = _Surface(surface.centres @ rotation.T + shift, surface.normals @ rotation.T, surface.weights, surface.signed)
    chosen = _sole_elements(local, sheet)
    if chosen.sum() < 3:
        raise InputError(f"{raw.source}: no surface of the scan faces the ground; give a scan of the foot's sole")
    found, why = _side(local, chosen)
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
        sole_index = np.unique(raw.faces[sole_faces])
    share = float(surface.weights[chosen].sum() / surface.weights.sum())
    notes.append(f"sole: {100 * share:.0f} % of the scan's {'area' if raw.is_mesh else 'points'} (the rest is not plantar surface)")
    transform = np.eye(4)
    transform[:3, :3] = rotation * raw.mm_per_unit
    transform[:3, 3] = shift
    return Pose(transform, side, placed[sole_index], sole_index, sole_faces, sheet, tuple(notes))


# ---- surface elements --------------------------------------------------------------------------


def _surface(raw: RawScan, points: np.ndarray) -> tuple[_Surface, str]:
    """Faces of a mesh (normals made to point out of the foot when the winding allows it) or
    points of a cloud (normals from local plane fits, their sign unknown)."""
    if raw.faces is None:
        return _cloud_surface(points), ""
    tri = points[raw.faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    double_area = np.linalg.norm(cross, axis=1)
    centres = tri.mean(axis=1)
    normals = cross / np.maximum(double_area, 1e-300)[:, None]  # a degenerate face: no normal, no weight
    weights = 0.5 * double_area
    consistent, rim = _winding(raw.faces, len(points))
    if not consistent:
        return _Surface(centres, normals, weights, False), "mesh: faces wound inconsistently; their normals were not used for inside/outside"
    # Outward normals give a positive volume seen from inside; an open scan is seen from the
    # centre of its rim (an ankle cut, a sheet's edge), which the foot lies behind.
    origin = points[rim].mean(axis=0) if len(rim) else points.mean(axis=0)
    volume = float(np.einsum("ij,ij->", centres - origin, normals * weights[:, None]))
    return _Surface(centres, normals if volume > 0 else -normals, weights, True), ""


def _winding(faces: np.ndarray, count: int) -> tuple[bool, np.ndarray]:
    """Whether neighbouring faces agree on their winding (each shared edge runs both ways; at
    most 1 % may not), and the vertices on the mesh's open rim (edges used once)."""
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    key = np.sort(directed[:, 0] * count + directed[:, 1])
    repeated = int(np.count_nonzero(key[1:] == key[:-1]))  # the same direction twice: a flipped neighbour
    undirected = np.sort(np.sort(directed, axis=1) @ np.array([count, 1]))
    starts = np.r_[True, undirected[1:] != undirected[:-1]]
    uses = np.diff(np.r_[np.nonzero(starts)[0], len(undirected)])
    once = undirected[starts][uses == 1]
    rim = np.unique(np.r_[once // count, once % count])
    return repeated <= 0.01 * len(faces), rim


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


def _ground(points: np.ndarray, surface: _Surface) -> tuple[np.ndarray, float]:
    """The ground plane: up (3,) unit and offset, z = up . p + offset >= 0 for every point.

    The convex hull facet the scan rests on: the surface's centroid projects into it (nearest
    the centroid when several do), among the facets across the forefoot's flat axis (within
    SOLE_CONE_DEG, the sole and not a side). Without such a facet, the one with the most
    surface facing it within GROUND_BAND_MM."""
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = ConvexHull(points[_hull_candidates(points)])
    except QhullError:
        raise InputError("the scan is flat or degenerate (all points in one plane); give a 3D scan of the foot") from None
    normals, offsets = hull.equations[:, :3], hull.equations[:, 3]
    across_sole = np.nonzero(np.abs(normals @ _flat_axis(points)) > np.cos(np.radians(SOLE_CONE_DEG)))[0]
    centre = np.average(surface.centres, axis=0, weights=surface.weights)
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
    """The ground turned square to the sole: up becomes the mean (area-weighted) normal of the
    plantar surface near the ground, a few rounds, and the scan is lowered onto it again. A
    hull facet rests on three points, which a mesh and a cloud of the same foot (or noise)
    may choose differently; the mean normal is the same for all of them."""
    lift = -float((points @ up).min())
    for _ in range(SETTLE_ROUNDS):
        facing = surface.normals @ -up
        near = (np.abs(facing) > -SOLE_NEAR_NZ) & (surface.centres @ up + lift < SOLE_NEAR_MM)
        if surface.signed:
            near &= facing > 0
        down = (surface.normals[near] * (surface.weights[near] * np.sign(facing[near]))[:, None]).sum(axis=0)
        turned = float(np.linalg.norm(down / np.linalg.norm(down) + up))
        up = -down / np.linalg.norm(down)
        lift = -float((points @ up).min())
        if turned < SETTLED:
            break
    return up, lift


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


def _hull_candidates(points: np.ndarray) -> np.ndarray:
    """Indices of the points that may lie on the hull: the extremes of many directions cover it
    well enough for big scans, where qhull on every point would take a second."""
    if len(points) <= 200_000:
        return np.arange(len(points))
    from scipy.spatial import ConvexHull

    coarse = ConvexHull(points[:: len(points) // 50_000])
    inside = (points @ coarse.equations[:, :3].T + coarse.equations[:, 3]).max(axis=1) < -1e-6
    return np.nonzero(~inside)[0]


def _frame(source: str, points: np.ndarray, surface: _Surface, up: np.ndarray, lift: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """Rotation (3, 3) and shift (3,) into the output frame, and whether the scan is a plantar sheet."""
    # Any two axes across up: the long axis found in them does not depend on the choice.
    a = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(up, a)
    plan = np.c_[surface.centres @ a, surface.centres @ b]
    # The sole near the ground, by height alone: a column test's grid would turn with the scan,
    # and a noisy cloud's normals would fray its border.
    plantar = surface.centres @ up + lift < SOLE_NEAR_MM
    if surface.signed:
        plantar &= surface.normals @ up <= 0
    if plantar.sum() < 3:
        raise InputError(f"{source}: no surface of the scan faces the ground; give a scan of the foot's sole")
    w = surface.weights[plantar]
    mid = np.average(plan[plantar], axis=0, weights=w)
    offset = plan[plantar] - mid
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
    heel = (np.c_[points @ a, points @ b] - mid) @ axis  # the rearmost point near the ground: x = 0
    shift = np.array([-(mid @ axis) - heel[height < SOLE_NEAR_MM].min(), -(mid @ perp), lift])
    return rotation, shift, sheet


def _width(along: np.ndarray, across: np.ndarray, start: float, stop: float) -> float:
    """Width (2nd to 98th percentile across) of the slab between two shares of the length."""
    lo, span = along.min(), np.ptp(along)
    inside = across[(along >= lo + start * span) & (along <= lo + stop * span)]
    return float(np.ptp(np.percentile(inside, [2, 98]))) if len(inside) else 0.0


def _visible(xyz: np.ndarray) -> np.ndarray:
    """(m,) whether each element (centres (m, 3), z up) is seen from below: within COLUMN_TOL_MM
    of the lowest element of its COLUMN_MM column or of the columns around it."""
    from scipy import ndimage

    cell = np.floor((xyz[:, :2] - xyz[:, :2].min(axis=0)) / COLUMN_MM).astype(np.int64)
    lowest = np.full(cell.max(axis=0) + 1, np.inf)
    np.minimum.at(lowest, (cell[:, 0], cell[:, 1]), xyz[:, 2])
    lowest = ndimage.minimum_filter(lowest, size=3, mode="nearest")
    return xyz[:, 2] <= lowest[cell[:, 0], cell[:, 1]] + COLUMN_TOL_MM


def _sole_elements(local: _Surface, sheet: bool) -> np.ndarray:
    """(m,) the plantar elements, in the output frame (module docstring, step 4)."""
    xyz, nz = local.centres, local.normals[:, 2]
    seen = _visible(xyz)
    if sheet:  # an open plantar sheet: all but its upward-facing walls
        return seen & (nz < 0) if local.signed else seen
    facing_down = nz < 0 if local.signed else np.ones(len(nz), dtype=bool)
    tilt = -np.abs(nz) if not local.signed else nz
    slab = np.floor((xyz[:, 0] - xyz[:, 0].min()) / SLICE_MM).astype(np.int64)
    ground = np.full(slab.max() + 1, np.inf)
    candidates = seen & facing_down & (xyz[:, 2] < SOLE_HIGH_MM)
    np.minimum.at(ground, slab[candidates], xyz[candidates, 2])
    above = xyz[:, 2] - ground[slab]  # +inf over slices without ground (behind the heel)
    near = (tilt < SOLE_NEAR_NZ) & (above < SOLE_NEAR_MM)
    vault = (tilt < SOLE_HIGH_NZ) & (above < SOLE_HIGH_MM)
    return candidates & (np.abs(local.normals[:, 0]) < SOLE_END_NX) & (near | vault)


def _side(local: _Surface, sole: np.ndarray) -> tuple[str, str]:
    """Which foot, and why: in the midfoot the medial border stays off the ground (the arch),
    so the sole's points rise toward it; the toes lie medial of the ball (the big toe)."""
    xyz, w = local.centres[sole], local.weights[sole]
    length = float(xyz[:, 0].max())
    mid = (xyz[:, 0] > 0.35 * length) & (xyz[:, 0] < 0.6 * length)
    y, z = xyz[mid, 1], xyz[mid, 2]
    centre = 0.5 * (np.percentile(y, 2) + np.percentile(y, 98))
    left_half, right_half = y > centre, y <= centre
    rise = float(np.average(z[left_half], weights=w[mid][left_half]) - np.average(z[right_half], weights=w[mid][right_half]))
    toes = np.average(xyz[xyz[:, 0] > 0.85 * length, 1], weights=w[xyz[:, 0] > 0.85 * length])
    ball_band = (xyz[:, 0] > 0.6 * length) & (xyz[:, 0] < 0.8 * length)
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
