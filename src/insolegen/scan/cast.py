"""The cast: a scan's sole balanced and placed as an outline plus a plantar surface.

From the scan in the pose's output frame (heel toward x = 0, toes +x, sole down) the cast is
seen from below (:func:`_seen_from_below`), fitted (:mod:`.surface`) and balanced as a lab
balances a positive cast (:mod:`.balance`: the heel levelled across, its lowest heel and forefoot
points brought to the same height), then turned about the long axis by ``cast.inversion_deg``
(inverted-cast technique) and set on the base thickness. The outline is the sole's footprint
below ``scan.trim_height_mm`` (:mod:`.footprint`: the contour of the fitted surface at that
height, so noise in the points does not move it). The footprint's own long axis and centroid
then place it in the output frame (x from the rearmost heel point, y = 0 through the centroid),
as an outline is placed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Polygon

from ..errors import InputError
from . import surface as surfaces
from .balance import FORE_LOW, HEEL_LOW, HEEL_STRIP, balance, low_point, rot_x, samples
from .footprint import ENVELOPE_MM, footprint, hull_area
from .rim import SMOOTH_MM, smooth_outline

ARCH_SPAN = (0.30, 0.60)  # where the arch apex of the foot as scanned is sought (CLINICAL.md: 0.40-0.45)
FIT_MARGIN_MM = 5.0  # the sole is fitted this far above the trim height
TILT_MARGIN_MM = 60.0  # before balancing: so far above, as a pose may leave the sole tilted (the leg is higher)
BALANCE_ROUNDS_MAX = 3  # the cast's balancing rounds, each from a refit nearer level
SETTLED_DEG = 0.05  # a round that turns the cast less than this ends the balancing
BALANCE_CELL_MM = 3.0  # the balancing rounds' fits: coarser than the final one (only their turn is kept)
CLOUD_DEPTH_MM = 1.5  # a cloud's points this far over the lowest in their column are on the sole too (noise, steep walls)
BALANCE_FOOTPRINT_CELL_MM = 1.0  # the balancing rounds' footprints: their ring goes onto the contour all the same


@dataclass(frozen=True)
class Cast:
    """The balanced plantar surface and what the report says of it.

    surface: the fitted plantar surface in the balanced frame; to_fit: (2, 3) float, output xy ->
    that frame's xy; lift_mm: added to its z. arch_apex, heel_centre: (2,) float, mm, output frame;
    length_mm: the footprint's length; facts: the report's ``scan`` section; sole: the scan's own
    footprint (the contour at the trim height, output frame); trim_level_mm: that contour's height.
    """

    surface: surfaces.Surface
    to_fit: np.ndarray
    lift_mm: float
    arch_apex: np.ndarray
    heel_centre: np.ndarray
    length_mm: float
    heel_expansion_mm: float
    facts: dict = field(default_factory=dict)
    sole: Polygon | None = None
    trim_level_mm: float = np.inf
    memo: dict = field(default_factory=dict, repr=False, compare=False)  # what builds derive from the cast, kept

    def height(self, xy: np.ndarray) -> np.ndarray:
        """(n,) float, mm: the cast's plantar surface at xy (n, 2) float, mm, output frame."""
        return self.surface.height(xy @ self.to_fit[:, :2].T + self.to_fit[:, 2]) + self.lift_mm

    def carried(self, xy: np.ndarray) -> np.ndarray:
        """(n,) float, mm: the plantar surface at xy (n, 2), carried on smoothly where the outline
        reaches past the scan's footprint: past the fit's grid along its slope at the grid's edge
        (C1), and levelled off just over the trim height (:func:`~insolegen.scan.rim.level_above`)."""
        from .rim import TRIM_LEVEL_MM, level_above

        at = xy @ self.to_fit[:, :2].T + self.to_fit[:, 2]
        s = self.surface
        edge = np.c_[np.clip(at[:, 0], s.xs[0], s.xs[-1]), np.clip(at[:, 1], s.ys[0], s.ys[-1])]
        z = s.height(edge) + self.lift_mm
        past = np.flatnonzero(np.any(edge != at, axis=1))
        if len(past):
            slope = np.c_[s.height(edge[past], dx=1), s.height(edge[past], dy=1)]
            z[past] += np.sum(slope * (at[past] - edge[past]), axis=1)
        return level_above(z, self.trim_level_mm + TRIM_LEVEL_MM, TRIM_LEVEL_MM)

    def molded(self, xy: np.ndarray) -> np.ndarray:
        """(n,) float, mm: the top as molded (the carried surface and the heel expansion), before the rim's caps."""
        return self.carried(xy) + self.expansion(xy)

    def expansion(self, xy: np.ndarray) -> np.ndarray:
        """(n,) float, mm: how the surface changes where the heel seat widens (xy (n, 2), mm).

        The heel seat's surface is stretched about the heel centre so that its rim moves out by
        ``heel_expansion_mm``, as the outline does; the stretch fades out smoothly (C2) along x
        between 20 % and 35 % of the length, where the outline's growth ends.
        """
        e = self.heel_expansion_mm
        if e <= 0:
            return np.zeros(len(xy))
        from ..features import fade_out

        half = self.facts["heel_width_mm"] / 2 - e
        pull = fade_out(xy[:, 0], 0.20 * self.length_mm, 0.35 * self.length_mm) * (e / (half + e))
        source = xy - pull[:, None] * (xy - self.heel_centre)
        return self.carried(source) - self.carried(xy)


def _strip(poly: Polygon, x0: float, x1: float) -> tuple[float, float]:
    """Middle y and width of the footprint between x0 and x1."""
    y0, y1 = poly.bounds[1] - 1, poly.bounds[3] + 1
    part = poly.intersection(shapely.box(x0, y0, x1, y1))
    if part.is_empty:
        raise InputError("the scan's sole has no heel: check that the file is a foot scan")
    b = part.bounds
    return 0.5 * (b[1] + b[3]), b[3] - b[1]


def _grow_heel(ring: np.ndarray, grow_mm: float, length: float) -> np.ndarray:
    """The ring (n, 2) moved out along its normals by ``grow_mm`` around the heel, fading out
    smoothly between 20 % and 35 % of the length (counter-clockwise ring: outward is to the right)."""
    from ..features import fade_out

    tangent = np.roll(ring, -1, axis=0) - np.roll(ring, 1, axis=0)
    normal = np.c_[tangent[:, 1], -tangent[:, 0]] / np.linalg.norm(tangent, axis=1)[:, None]
    x0 = ring[:, 0].min()
    grown = Polygon(ring + (grow_mm * fade_out(ring[:, 0] - x0, 0.20 * length, 0.35 * length))[:, None] * normal)
    if not grown.is_valid:  # a concave dent narrower than the growth closes up
        grown = max(shapely.get_parts(shapely.make_valid(grown)), key=lambda g: g.area if g.geom_type == "Polygon" else 0.0)
    return np.asarray(shapely.orient_polygons(grown).exterior.coords)[:-1]


def _arch(height, poly: Polygon, side: str, base_mm: float) -> tuple[np.ndarray, float]:
    """The arch apex of the foot as scanned: the highest point of the surface in the medial half
    of the footprint between 30 % and 60 % of its length, 4 mm inside the rim. Returns the
    apex (2,) and its height above the base, mm."""
    x0, length = poly.bounds[0], poly.bounds[2] - poly.bounds[0]
    medial = 1.0 if side == "right" else -1.0
    yc, _ = _strip(poly, x0 + ARCH_SPAN[0] * length, x0 + ARCH_SPAN[1] * length)
    g = 0.5 * np.mgrid[np.ceil(2 * (x0 + ARCH_SPAN[0] * length)):2 * (x0 + ARCH_SPAN[1] * length),
                       np.ceil(2 * poly.bounds[1]):2 * poly.bounds[3]].reshape(2, -1).T  # on multiples of 0.5 mm: mirrors alike
    g = g[shapely.contains_xy(poly.buffer(-4.0), g[:, 0], g[:, 1]) & ((g[:, 1] - yc) * medial > 0)]
    if not len(g):
        raise InputError("the scan's sole has no midfoot: check that the file is a whole foot or its whole plantar surface")
    z = height(g)
    i = int(np.argmax(z))
    return g[i], float(z[i] - base_mm)


def _seen_from_below(points: np.ndarray, faces: np.ndarray | None, rot: np.ndarray) -> np.ndarray:
    """(m, 3) float, mm: the scan seen from below once turned by ``rot`` (3, 3), as a foam box or
    a plate sees the foot. points: (n, 3) float, mm; faces: (f, 3) int, or None for a cloud.
    A mesh: its lowest surface above each point of an ENVELOPE_MM grid (vertical rays). A cloud:
    in each ENVELOPE_MM column, its points within CLOUD_DEPTH_MM of the column's lowest."""
    turned = points @ rot.T
    if faces is not None:
        from ..rays import GRID_PHASE, grid_hits

        # Rays on half-millimetre lines across y: a grid symmetric about y = 0, so a mirrored scan
        # (y = 0 is its mirror plane in the pose's frame) is seen at the mirrored points.
        hits = grid_hits(turned, faces, ENVELOPE_MM, origin=(turned[:, 0].min() + GRID_PHASE[0] * ENVELOPE_MM, 0.5 * ENVELOPE_MM))
        return np.c_[hits.xy, hits.bottom]
    cell = np.floor(turned[:, :2] / ENVELOPE_MM).astype(np.int64)
    key = (cell[:, 0] - cell[:, 0].min()) * (int(np.ptp(cell[:, 1])) + 1) + cell[:, 1] - cell[:, 1].min()
    lowest = np.full(int(key.max()) + 1, np.inf)
    np.minimum.at(lowest, key, turned[:, 2])
    return turned[turned[:, 2] <= lowest[key] + CLOUD_DEPTH_MM]


def cast_outline(points: np.ndarray, faces: np.ndarray | None, to_pose: np.ndarray, side: str, rx, source: str, sha256: str = "",
                 notes=(), about=None, shoe=None):
    """The scan as an :class:`~insolegen.outline.Outline` (kind ``scan``) carrying its :class:`Cast`.

    points: (n, 3) float, mm, the scan in the pose's frame (heel toward -x, toes +x, sole down);
    faces: (f, 3) int, or None for a cloud; to_pose: (4, 4) scan coordinates (scan units) -> that
    frame; rx: the prescription (its ``cast``, ``scan`` and ``shell`` sections); about: report
    lines from reading and posing the scan; shoe: an :class:`~insolegen.outline.Outline` of the
    shoe's insole (output frame) that trims the top instead of the scan's own footprint (opened
    and closed by :data:`~insolegen.scan.rim.SMOOTH_MM`). The surface fitted is the scan seen from
    below (:func:`_seen_from_below`). The outline's transform takes scan coordinates to the output
    frame: the pose, the balancing turn and the placement.
    """
    from ..outline import MAX_LENGTH_MM, MIN_LENGTH_MM, Outline, _long_axis, check_proportions

    points = np.asarray(points, float)
    if len(points) < 100 or not np.isfinite(points).all():
        raise InputError(f"{source}: the scan has {len(points)} usable points; give a scan with at least 100 on the sole")
    trim, base = rx.scan.trim_height_mm, rx.shell.thickness_mm
    # Balanced up to thrice, each time from a fit made nearer level, so that a scan in any pose ends
    # in the same one (a fit, smoothing along its grid's axes, is not quite turn-invariant); done
    # once a round turns it by less than SETTLED_DEG.
    rot = np.eye(3)
    for _ in range(BALANCE_ROUNDS_MAX if rx.cast.balance else 1):
        seen = _seen_from_below(points, faces, rot)
        turned = seen[seen[:, 2] < np.percentile(seen[:, 2], 0.5) + trim + TILT_MARGIN_MM]
        first = surfaces.fit(turned, cell_mm=BALANCE_CELL_MM, smoothing=surfaces.SMOOTHING, measured=False)  # noise or not: the heel's walls kept steep
        poly = footprint(first, turned[:, :2], float(first.height(turned[:, :2]).min()) + trim, BALANCE_FOOTPRINT_CELL_MM)
        length = poly.bounds[2] - poly.bounds[0]
        if not MIN_LENGTH_MM <= length <= MAX_LENGTH_MM:
            raise InputError(f"{source}: the scan's sole is {length:.4g} mm long, not a plausible foot "
                             f"({MIN_LENGTH_MM:g}-{MAX_LENGTH_MM:g} mm); check --scan-units")
        turn, levelled = balance(first, turned, samples(first, poly, spacing=1.0), poly, rx.cast.balance)
        rot = turn @ rot
        settled = np.trace(turn) > 1 + 2 * np.cos(np.radians(SETTLED_DEG))  # its angle below SETTLED_DEG
        if settled:
            break
    medial = 1.0 if side == "right" else -1.0  # turning about +x by a positive angle lifts +y
    rot = rot_x(medial * np.radians(rx.cast.inversion_deg)) @ rot
    # A last turn too small to change what is seen from below: the round's rays, turned with it.
    turned = seen @ turn.T if settled and rx.cast.inversion_deg == 0 else _seen_from_below(points, faces, rot)
    # Only the sole below the trim height (and a margin past it, so the fit holds to the rim) is fitted.
    turned = turned[turned[:, 2] < np.percentile(turned[:, 2], 0.5) + trim + FIT_MARGIN_MM]
    fitted = surfaces.fit(turned)
    lowest = float(fitted.height(turned[:, :2]).min())
    poly = footprint(fitted, turned[:, :2], lowest + trim)
    # Placed as an outline is: the footprint's long axis along x, heel first, centroid on y = 0.
    centre, axis = _long_axis(poly)
    axis = axis if axis[0] > 0 else -axis  # the pose already put the heel toward -x
    turn = np.array([[axis[0], axis[1]], [-axis[1], axis[0]]])
    ring = (np.asarray(poly.exterior.coords)[:-1] - centre) @ turn.T
    length = float(np.ptp(ring[:, 0]))
    check_proportions(length, float(np.ptp(ring[:, 1])), f"{source}: the scan's sole", "check that the file is a scan of one foot")
    grow = rx.cast.heel_expansion_mm if shoe is None else 0.0
    raw = ring  # the scan's own footprint, centred on the long axis
    if shoe is None:
        ring = np.asarray(smooth_outline(Polygon(ring)).exterior.coords)[:-1]
        if grow > 0:
            ring = _grow_heel(ring, grow, length)
    offset = np.array([-ring[:, 0].min(), 0.0])
    sole = Polygon(raw + offset)
    # A shoe's outline, placed as an outline is (heel at x = 0, long axis along x), laid heel to heel on the footprint.
    ring = ring + offset if shoe is None else shoe.points
    to_fit = np.c_[turn.T, centre - turn.T @ offset]  # output xy -> the fitted surface's xy
    unlifted = Cast(fitted, to_fit, 0.0, np.zeros(2), np.zeros(2), length + grow, grow)
    placed = Polygon(ring) if shoe is None else sole  # the foot's own low points, heel and arch
    q = samples(unlifted.height, placed)
    heel, fore = low_point(q, 0.0, length, HEEL_LOW), low_point(q, 0.0, length, FORE_LOW)
    lift = base - min(heel[2], fore[2])  # the lower of the heel and forefoot lows on the base
    place = np.eye(4)
    place[:2, :2], place[:2, 3], place[2, 3] = turn, offset - turn @ centre, lift
    rot4 = np.eye(4)
    rot4[:3, :3] = rot
    transform = place @ rot4 @ to_pose
    heel_yc, heel_width = _strip(placed, HEEL_STRIP[0] * length, HEEL_STRIP[1] * length)
    lifted = Cast(fitted, to_fit, lift, np.zeros(2), np.zeros(2), length + grow, grow)
    apex, arch_height = _arch(lifted.height, placed, side, base)
    seen_area = hull_area(turned[:, :2])
    facts = {
        **(about or {}),
        "trim_height_mm": trim,
        "trimmed": f"{max(seen_area - poly.area, 0.0) / 100:.1f} cm2 of the scan seen from below (its convex hull up to "
                   f"{trim + FIT_MARGIN_MM:g} mm) lies higher than {trim:g} mm over the lowest point and is left out of the outline",
        "surface_fitted": "the scan seen from below: " + ("vertical rays every 1 mm" if faces is not None else
                                                            f"the points within {CLOUD_DEPTH_MM:g} mm of the lowest in each 1 mm column"),
        "fit_residuals_mm": fitted.residuals_mm,
        "arch_apex": {"xy_mm": np.round(apex, 3).tolist(), "pct_length": round(100 * float(apex[0]) / (length + grow), 2)},
        "arch_height_mm": round(arch_height, 3),
        "heel_width_mm": round(heel_width, 3),
        "balance": {"heel_levelled": levelled, "inversion_deg": rx.cast.inversion_deg, "rotation": np.round(rot, 9).tolist(),
                    "heel_low_xy_mm": np.round(heel[:2], 3).tolist(), "forefoot_low_xy_mm": np.round(fore[:2], 3).tolist()},
        "ignored": ["arch.height_mm (the scanned foot gives the arch)"],
        "outline": ({"file": shoe.source, "sha256": shoe.sha256, "used": "--outline: the shoe's insole outline, laid heel to heel on "
                     "the scan's footprint along the long axis, trims the molded top"} if shoe is not None else
                    {"file": source, "used": f"the scan's footprint below {trim:g} mm, opened and closed by {SMOOTH_MM:g} mm"}),
    }
    cast = Cast(fitted, to_fit, lift, apex, np.array([0.135 * length + grow, heel_yc]), length + grow, grow, facts,
                sole=sole, trim_level_mm=lowest + trim + lift)
    return Outline(_ccw_ring(ring), transform, side, source, sha256, "scan", tuple(notes), cast=cast)


def _ccw_ring(ring: np.ndarray) -> np.ndarray:
    return np.asarray(shapely.orient_polygons(Polygon(ring)).exterior.coords)[:-1]


@dataclass(frozen=True)
class ScanInput:
    """A foot scan read and posed, waiting for a prescription (:meth:`outline`).

    raw: the :class:`~insolegen.scan.read.RawScan`; pose: its :class:`~insolegen.scan.pose.Pose`;
    side_asked: ``auto``, ``left`` or ``right`` as given; shoe: the shoe's insole
    :class:`~insolegen.outline.Outline` that trims the top (``--outline``), or None.
    """

    raw: object
    pose: object
    side_asked: str
    shoe: object = None

    @property
    def sha256(self) -> str:
        return self.raw.sha256

    def outline(self, rx):
        """The scan's outline for prescription ``rx``, carrying the balanced :class:`Cast`."""
        raw, pose = self.raw, self.pose
        about = {
            "file": raw.source, "sha256": raw.sha256, "format": raw.format, "kind": "mesh" if raw.is_mesh else "point cloud",
            "points": int(len(raw.points)), "faces": int(len(raw.faces)) if raw.is_mesh else 0,
            "units": raw.units, "mm_per_unit": raw.mm_per_unit,
            "side": pose.side, "side_from": "found from the scan (the arch is medial)" if self.side_asked == "auto" else "--side",
            "notes": [*raw.notes, *pose.notes],
        }
        with one_blas_thread():
            return cast_outline(pose.place(raw.points), raw.faces, pose.transform, pose.side, rx, raw.source, raw.sha256,
                                self.shoe.notes if self.shoe is not None else (), about, self.shoe)


def load(path, units: str = "auto", side: str = "auto") -> ScanInput:
    """Read the scan at ``path`` (units ``auto``, mm, cm, m or in) and find its pose and side."""
    from .pose import find_pose
    from .read import read_scan

    if side not in ("auto", "left", "right"):
        raise InputError(f"--side '{side}' is not known; use auto, left or right")
    raw = read_scan(path, units)
    with one_blas_thread():
        return ScanInput(raw, find_pose(raw, side), side)


def one_blas_thread():
    """A context in which BLAS and LAPACK run on one thread: a scan's arrays are tall and thin
    ((n, 3) times (3, 3)) and its banded factorisations a chain of small steps, which a thread
    pool only slows down (twice over and more on a busy machine)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")
