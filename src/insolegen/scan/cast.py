"""The cast: a scan's sole balanced and placed as an outline plus a plantar surface.

From the sole points in the pose's output frame (heel toward x = 0, toes +x, sole down) the
cast is balanced as a lab balances a positive cast: the heel levelled across (the heel seat's
cross-slope taken out), its lowest heel and forefoot points brought to the same height, then
turned about the long axis by ``cast.inversion_deg`` (inverted-cast technique), and set on the
base thickness. The outline is the sole's footprint below ``scan.trim_height_mm``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import Polygon

from ..errors import InputError
from . import surface as surfaces

SAMPLE_MM = 2.0  # spacing of the surface samples that balancing turns (a rigid turn of the fitted surface)
BALANCE_ROUNDS = 4  # levelling and the heel-forefoot turn each shift the other's low points a little
HEEL_STRIP = (0.10, 0.18)  # of the length: the heel seat, behind the heel's widest part
HEEL_LOW, FORE_LOW = (0.0, 0.30), (0.55, 0.85)  # where the lowest heel and forefoot points are sought
ARCH_SPAN = (0.30, 0.60)  # where the arch apex of the foot as scanned is sought (CLINICAL.md: 0.40-0.45)
FIT_MARGIN_MM = 5.0  # the sole is fitted this far above the trim height
RING_STEP_MM = 0.5  # the footprint ring's spacing after smoothing
RING_SMOOTH_MM = 1.5  # Gaussian smoothing along the ring: the 1 mm raster's steps go, a toe's curve stays


@dataclass(frozen=True)
class Cast:
    """The balanced plantar surface in the output frame and what the report says of it.

    surface: the fitted plantar surface, output frame, mm (the top of a plain total-contact
    insert); arch_apex: (2,) float, mm, the highest point of the medial arch as scanned;
    facts: the report's ``scan`` section.
    """

    surface: surfaces.Surface
    arch_apex: np.ndarray
    heel_centre: np.ndarray
    length_mm: float
    heel_expansion_mm: float
    facts: dict = field(default_factory=dict)

    def height(self, xy: np.ndarray) -> np.ndarray:
        """(n,) float, mm: the cast's plantar surface at xy (n, 2) float, mm, output frame."""
        return self.surface.height(xy)

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
        return self.surface.height(source) - self.surface.height(xy)


def _rot_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def _strip(poly: Polygon, x0: float, x1: float) -> tuple[float, float]:
    """Middle y and width of the footprint between x0 and x1."""
    y0, y1 = poly.bounds[1] - 1, poly.bounds[3] + 1
    part = poly.intersection(shapely.box(x0, y0, x1, y1))
    if part.is_empty:
        raise InputError("the scan's sole has no heel: check that the file is a foot scan")
    b = part.bounds
    return 0.5 * (b[1] + b[3]), b[3] - b[1]


def footprint(points: np.ndarray, below_mm: float, cell_mm: float = 1.0) -> Polygon:
    """The silhouette (seen from above) of the points (m, 3) lower than ``below_mm``: one polygon.

    The points are rasterised at ``cell_mm``; gaps between a scan's points (about its point
    spacing) are closed, holes filled, the largest piece kept, its ring smoothed (C2 enough for
    the feature fields) and resampled every RING_STEP_MM.
    """
    from scipy import ndimage

    low = points[points[:, 2] < below_mm, :2]
    if len(low) < 50:
        raise InputError(f"the scan's sole has only {len(low)} points below the trim height; give a denser scan or raise scan.trim_height_mm")
    lo = low.min(axis=0) - 5 * cell_mm
    ij = np.floor((low - lo) / cell_mm).astype(np.int64)
    shape = tuple(ij.max(axis=0) + 6)
    mask = np.zeros(shape, bool)
    mask[ij[:, 0], ij[:, 1]] = True
    spacing = np.sqrt(Polygon(shapely.MultiPoint(low).convex_hull).area / len(low)) if len(low) > 2 else cell_mm
    radius = int(np.clip(np.ceil(1.5 * spacing / cell_mm), 1, 6))  # a scan's point gaps close, a toe cleft stays
    disk = np.add.outer(np.arange(-radius, radius + 1) ** 2, np.arange(-radius, radius + 1) ** 2) <= radius * radius
    mask = ndimage.binary_closing(np.pad(mask, radius + 1), disk)[radius + 1:-radius - 1, radius + 1:-radius - 1]
    mask = ndimage.binary_fill_holes(mask)
    labels, count = ndimage.label(mask)
    mask = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    # Each row's runs of cells as boxes: a few hundred boxes instead of one per cell.
    padded = np.pad(mask, ((0, 0), (1, 1))).astype(np.int8)
    edges = np.diff(padded, axis=1)
    rows_s, cols_s = np.nonzero(edges == 1)
    cols_e = np.nonzero(edges == -1)[1]  # row-major order: each run's end follows its start
    boxes = shapely.box(lo[0] + rows_s * cell_mm, lo[1] + cols_s * cell_mm, lo[0] + (rows_s + 1) * cell_mm, lo[1] + cols_e * cell_mm)
    poly = shapely.union_all(boxes)
    if poly.geom_type != "Polygon":
        poly = max(poly.geoms, key=lambda g: g.area)
    return Polygon(_smooth_ring(np.asarray(poly.exterior.coords)[:-1]))


def _smooth_ring(ring: np.ndarray) -> np.ndarray:
    """(k, 2): the closed ring (n, 2) resampled every RING_STEP_MM and Gaussian-smoothed along itself."""
    from scipy.ndimage import gaussian_filter1d

    closed = np.vstack([ring, ring[:1]])
    arc = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))]
    n = max(int(arc[-1] / RING_STEP_MM), 16)
    at = np.linspace(0.0, arc[-1], n, endpoint=False)
    pts = np.c_[np.interp(at, arc, closed[:, 0]), np.interp(at, arc, closed[:, 1])]
    pts = gaussian_filter1d(pts, RING_SMOOTH_MM / (arc[-1] / n), axis=0, mode="wrap")
    return np.asarray(shapely.orient_polygons(Polygon(pts).simplify(0.02)).exterior.coords)[:-1]


def _samples(surface: surfaces.Surface, poly: Polygon) -> np.ndarray:
    """(k, 3) points of the fitted surface on a SAMPLE_MM grid inside ``poly``, 2 mm from its rim."""
    x0, y0, x1, y1 = poly.bounds
    g = np.mgrid[x0:x1:SAMPLE_MM, y0:y1:SAMPLE_MM].reshape(2, -1).T
    g = g[shapely.contains_xy(poly.buffer(-2.0), g[:, 0], g[:, 1])]
    return np.c_[g, surface.height(g)]


def _low(q: np.ndarray, length: float, span: tuple[float, float]) -> np.ndarray:
    """The lowest of the points q (k, 3) between span[0] and span[1] of the length."""
    sel = q[(q[:, 0] >= span[0] * length) & (q[:, 0] <= span[1] * length)]
    return sel[np.argmin(sel[:, 2])]


def balance(q: np.ndarray, poly: Polygon, side: str, inversion_deg: float, level: bool) -> np.ndarray:
    """The 3x3 rotation that balances the surface samples q (k, 3) (footprint ``poly``, x from the
    heel): heel levelled across and heel and forefoot low points level (when ``level``), then
    turned ``inversion_deg`` about the long axis, medial side up."""
    rot = np.eye(3)
    x_min, length = poly.bounds[0], poly.bounds[2] - poly.bounds[0]
    yc, width = _strip(poly, x_min + HEEL_STRIP[0] * length, x_min + HEEL_STRIP[1] * length)
    for _ in range(BALANCE_ROUNDS if level else 0):
        p = q @ rot.T
        x = p[:, 0] - x_min
        seat = (x > HEEL_STRIP[0] * length) & (x < HEEL_STRIP[1] * length) & (np.abs(p[:, 1] - yc) < 0.3 * width)
        if seat.sum() < 6:
            raise InputError("the scan's heel is too small or too sparse to balance; give a scan of the whole heel or set cast.balance=false")
        slope = np.polyfit(p[seat, 1] - yc, p[seat, 2], 1)[0]  # a level heel seat is symmetric: no linear part
        rot = _rot_x(-np.arctan(slope)) @ rot
        p = q @ rot.T
        p[:, 0] -= x_min
        heel, fore = _low(p, length, HEEL_LOW), _low(p, length, FORE_LOW)
        rot = _rot_y(np.arctan2(fore[2] - heel[2], fore[0] - heel[0])) @ rot
    medial = 1.0 if side == "right" else -1.0  # turning about +x by a positive angle lifts +y
    return _rot_x(medial * np.radians(inversion_deg)) @ rot


def _grow_heel(ring: np.ndarray, grow_mm: float, length: float) -> np.ndarray:
    """The ring (n, 2) moved out along its normals by ``grow_mm`` around the heel, fading out
    smoothly between 20 % and 35 % of the length (counter-clockwise ring: outward is to the right)."""
    from ..features import fade_out

    tangent = np.roll(ring, -1, axis=0) - np.roll(ring, 1, axis=0)
    normal = np.c_[tangent[:, 1], -tangent[:, 0]] / np.linalg.norm(tangent, axis=1)[:, None]
    x0 = ring[:, 0].min()
    return ring + (grow_mm * fade_out(ring[:, 0] - x0, 0.20 * length, 0.35 * length))[:, None] * normal


def _arch(surface: surfaces.Surface, poly: Polygon, side: str, base_mm: float) -> tuple[np.ndarray, float]:
    """The arch apex of the foot as scanned: the highest point of the surface in the medial half
    of the footprint between 30 % and 60 % of its length, 4 mm inside the rim. Returns the
    apex (2,) and its height above the base, mm."""
    x0, length = poly.bounds[0], poly.bounds[2] - poly.bounds[0]
    medial = 1.0 if side == "right" else -1.0
    yc, _ = _strip(poly, x0 + ARCH_SPAN[0] * length, x0 + ARCH_SPAN[1] * length)
    g = np.mgrid[x0 + ARCH_SPAN[0] * length:x0 + ARCH_SPAN[1] * length:0.5, poly.bounds[1]:poly.bounds[3]:0.5].reshape(2, -1).T
    g = g[shapely.contains_xy(poly.buffer(-4.0), g[:, 0], g[:, 1]) & ((g[:, 1] - yc) * medial > 0)]
    if not len(g):
        raise InputError("the scan's sole has no midfoot: check that the file is a whole foot or its whole plantar surface")
    z = surface.height(g)
    i = int(np.argmax(z))
    return g[i], float(z[i] - base_mm)


def cast_outline(sole: np.ndarray, to_pose: np.ndarray, side: str, rx, source: str, sha256: str = "", notes=(), about=None):
    """The scan as an :class:`~insolegen.outline.Outline` (kind ``scan``) carrying its :class:`Cast`.

    sole: (m, 3) float, mm, the plantar points in the pose's frame (heel toward x = 0, toes +x,
    sole down); to_pose: (4, 4) scan coordinates (scan units) -> that frame; rx: the prescription
    (its ``cast``, ``scan`` and ``shell`` sections); about: report lines from reading and posing
    the scan. The outline's transform takes scan coordinates to the output frame: the pose, the
    balancing turn and the placement.
    """
    from ..outline import MAX_LENGTH_MM, MIN_LENGTH_MM, Outline

    sole = np.asarray(sole, float)
    if len(sole) < 100 or not np.isfinite(sole).all():
        raise InputError(f"{source}: the scan's sole has {len(sole)} usable points; give a scan with at least 100 on the sole")
    trim, base = rx.scan.trim_height_mm, rx.shell.thickness_mm
    # Only the sole below the trim height (and a margin past it, so the fit holds to the rim) is fitted.
    sole = sole[sole[:, 2] < np.percentile(sole[:, 2], 0.5) + trim + FIT_MARGIN_MM]
    first = surfaces.fit(sole)
    poly = footprint(sole, float(first.height(sole[:, :2]).min()) + trim)
    length = poly.bounds[2] - poly.bounds[0]
    if not MIN_LENGTH_MM <= length <= MAX_LENGTH_MM:
        raise InputError(f"{source}: the scan's sole is {length:.4g} mm long, not a plausible foot ({MIN_LENGTH_MM:g}-{MAX_LENGTH_MM:g} mm); "
                         "check --scan-units")
    rot = balance(_samples(first, poly), poly, side, rx.cast.inversion_deg, rx.cast.balance)
    turned = sole @ rot.T
    fitted = surfaces.fit(turned)
    lowest = float(fitted.height(turned[:, :2]).min())
    poly = footprint(turned, lowest + trim)
    full = Polygon(shapely.MultiPoint(turned[:, :2]).convex_hull)
    length = poly.bounds[2] - poly.bounds[0]
    q = _samples(fitted, poly)
    x0 = poly.bounds[0]
    heel, fore = _low(q - [x0, 0, 0], length, HEEL_LOW), _low(q - [x0, 0, 0], length, FORE_LOW)
    ring = np.asarray(poly.exterior.coords)[:-1]
    grow = rx.cast.heel_expansion_mm
    if grow > 0:
        ring = _grow_heel(ring, grow, length)
    # Placement: the rearmost heel point at x = 0, the lower of the heel and forefoot lows on the base.
    shift = np.array([-ring[:, 0].min(), 0.0, base - min(heel[2], fore[2])])
    ring = ring + shift[:2]
    place = np.eye(4)
    place[:3, :3], place[:3, 3] = rot, shift
    transform = place @ to_pose
    moved = surfaces.Surface(fitted.xs + shift[0], fitted.ys, fitted.z + shift[2], fitted.residuals_mm)
    placed_poly = Polygon(ring)
    apex, arch_height = _arch(moved, affinity.translate(poly, shift[0]), side, base)
    heel_yc, heel_width = _strip(placed_poly, HEEL_STRIP[0] * length, HEEL_STRIP[1] * length)
    trimmed = full.area - poly.area
    facts = {
        **(about or {}),
        "trim_height_mm": trim,
        "trimmed": f"{trimmed / 100:.1f} cm2 of the sole seen from above lies higher than {trim:g} mm over its lowest point "
                   "and is left out of the outline",
        "sole_points": int(len(sole)),
        "fit_residuals_mm": fitted.residuals_mm,
        "arch_apex": {"xy_mm": np.round(apex, 3).tolist(), "pct_length": round(100 * float(apex[0]) / float(ring[:, 0].max()), 2)},
        "arch_height_mm": round(arch_height, 3),
        "heel_width_mm": round(heel_width, 3),
        "balance": {"levelled": rx.cast.balance, "inversion_deg": rx.cast.inversion_deg,
                    "rotation": np.round(rot, 9).tolist(), "heel_low_xy_mm": np.round(heel[:2] + shift[:2], 3).tolist(),
                    "forefoot_low_xy_mm": np.round(fore[:2] + shift[:2], 3).tolist()},
        "ignored": ["arch.height_mm (the scanned foot gives the arch)"],
    }
    cast = Cast(moved, apex, np.array([0.135 * length + grow, heel_yc]), length + grow, grow, facts)
    return Outline(_ccw_ring(ring), transform, side, source, sha256, "scan", tuple(notes), cast=cast)


def _ccw_ring(ring: np.ndarray) -> np.ndarray:
    return np.asarray(shapely.orient_polygons(Polygon(ring)).exterior.coords)[:-1]


@dataclass(frozen=True)
class ScanInput:
    """A foot scan read and posed, waiting for a prescription (:meth:`outline`).

    raw: the :class:`~insolegen.scan.read.RawScan`; pose: its :class:`~insolegen.scan.pose.Pose`;
    side_asked: ``auto``, ``left`` or ``right`` as given.
    """

    raw: object
    pose: object
    side_asked: str

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
        return cast_outline(pose.sole, pose.transform, pose.side, rx, raw.source, raw.sha256, (), about)


def load(path, units: str = "auto", side: str = "auto") -> ScanInput:
    """Read the scan at ``path`` (units ``auto``, mm, cm, m or in) and find its pose and side."""
    from .pose import find_pose
    from .read import read_scan

    if side not in ("auto", "left", "right"):
        raise InputError(f"--side '{side}' is not known; use auto, left or right")
    raw = read_scan(path, units)
    return ScanInput(raw, find_pose(raw, side), side)
