"""The foot outline: validated, simplified and placed in the output frame.

Output frame (SPEC.md): x from heel to toe with the rearmost heel point at x = 0, y to the
wearer's left, z up. The outline keeps its own shape: only a rotation, a translation and the
unit scale are applied, and the transform is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import shapely
from shapely.geometry import Polygon

from .errors import InputError

MIN_LENGTH_MM, MAX_LENGTH_MM = 100.0, 400.0
WIDTH_SHARE = (0.25, 0.55)  # a foot's width over its length (CLINICAL.md: 0.349-0.404), generously
SIMPLIFY_MM = 0.02  # drops collinear and sub-micron vertices; far inside the 0.2 mm footprint budget
UNIT_MM = {"mm": 1.0, "cm": 10.0, "in": 25.4, "m": 1000.0, "ft": 304.8}
UNIT_WORDS = {  # what files write for the same units
    "millimeter": "mm", "millimetre": "mm", "centimeter": "cm", "centimetre": "cm", "inch": "in",
    "inches": "in", '"': "in", "meter": "m", "metre": "m", "foot": "ft", "feet": "ft",
}
DENSE_POINTS = 20_000  # beyond this, a trace is a scan: smooth and thin it before validation
SMOOTH_MM = 0.1  # averaging length along a dense scan: scanner jitter goes, the shape (radii of mm) stays


@dataclass(frozen=True)
class Outline:
    """A foot outline in the output frame.

    points: (n, 2) float, mm, counter-clockwise, not closed (first != last).
    transform: (4, 4) float, input coordinates (input units) -> output frame (mm).
    side: ``"left"`` or ``"right"``; the medial border is +y on a right foot, -y on a left.
    kind: ``"outline"``, ``"footprint"`` (the points are the insole made from a footprint) or
    ``"scan"`` (the footprint of a foot scan's sole, which ``cast`` carries).
    notes: warnings from reading it (a footprint's stray patches left out).
    """

    points: np.ndarray
    transform: np.ndarray
    side: str
    source: str = "builtin"
    sha256: str = ""
    kind: str = "outline"
    notes: tuple[str, ...] = ()
    # A scan's outline carries its balanced plantar surface (insolegen.scan.cast.Cast); None otherwise.
    cast: object = field(default=None, compare=False, repr=False)
    # The plantar load laid on this outline (insolegen.pressure.register.Load) for --pressure; None otherwise.
    load: object = field(default=None, compare=False, repr=False)

    @cached_property
    def digest(self) -> str:
        """sha256 of the placed points and transform: what decides the mesh, whatever the file said."""
        import hashlib

        return hashlib.sha256(np.ascontiguousarray(self.points).tobytes() + self.transform.tobytes()).hexdigest()

    @property
    def medial_sign(self) -> int:
        """+1 where the medial border is +y (right foot), -1 where it is -y (left)."""
        return 1 if self.side == "right" else -1

    @cached_property
    def polygon(self) -> Polygon:
        return Polygon(self.points)

    @property
    def length_mm(self) -> float:
        return float(self.points[:, 0].max())

    @property
    def width_mm(self) -> float:
        return float(np.ptp(self.points[:, 1]))

    @cached_property
    def _border_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Smoothed lowest and highest y of the outline at x samples 0.5 mm apart."""
        from scipy.ndimage import gaussian_filter1d

        step = 0.5
        xs = np.arange(0.0, self.length_mm + step, step)
        a = self.points
        b = np.roll(a, -1, axis=0)
        lo_x, hi_x = np.minimum(a[:, 0], b[:, 0]), np.maximum(a[:, 0], b[:, 0])
        dx = b[:, 0] - a[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(dx != 0, (b[:, 1] - a[:, 1]) / dx, 0.0)
        lo = np.full(xs.shape, np.nan)
        hi = np.full(xs.shape, np.nan)
        for start in range(0, len(xs), 256):  # chunks bound the (k, m) work array
            x = xs[start:start + 256, None]
            hit = (x >= lo_x) & (x < hi_x) & (dx != 0)
            y = np.where(hit, a[:, 1] + (x - a[:, 0]) * slope, np.nan)
            with np.errstate(all="ignore"):
                lo[start:start + 256] = np.nanmin(np.where(hit, y, np.inf), axis=1)
                hi[start:start + 256] = np.nanmax(np.where(hit, y, -np.inf), axis=1)
        ok = np.isfinite(lo) & np.isfinite(hi)
        lo = np.interp(xs, xs[ok], lo[ok])
        hi = np.interp(xs, xs[ok], hi[ok])
        # Smoothing keeps the feature fields free of creases on coarse, polygonal outlines.
        return xs, gaussian_filter1d(lo, 8, mode="nearest"), gaussian_filter1d(hi, 8, mode="nearest")

    def borders(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Smoothed lateral and medial border at x, in medial-positive y (y * medial_sign).

        x: (n,) float, mm. Returns two (n,) float arrays, lateral < medial.
        """
        xs, lo, hi = self._border_table
        ylo, yhi = np.interp(x, xs, lo), np.interp(x, xs, hi)
        return (ylo, yhi) if self.medial_sign > 0 else (-yhi, -ylo)

    def midfoot_share(self) -> float:
        """Narrowest midfoot width over widest forefoot width: about 0.5-0.85 for an insole outline,
        far less for a footprint, which has no contact under the medial arch."""
        xs = np.linspace(0.0, 1.0, 61) * self.length_mm
        lateral, medial = self.borders(xs)
        width = medial - lateral
        return float(width[(xs > 0.35 * self.length_mm) & (xs < 0.6 * self.length_mm)].min() / width[xs > 0.6 * self.length_mm].max())

    def apparent_side(self) -> str:
        """Which foot the shape looks like: the toes' area sits medial of the ball's."""
        length, (y0, y1) = self.length_mm, (self.points[:, 1].min() - 1, self.points[:, 1].max() + 1)
        toes = self.polygon.intersection(shapely.box(0.88 * length, y0, length + 1, y1))
        ball = self.polygon.intersection(shapely.box(0.60 * length, y0, 0.80 * length, y1))
        return "right" if toes.centroid.y > ball.centroid.y else "left"

    def mirrored(self) -> "Outline":
        """The same outline for the other foot (mirrored across the long axis)."""
        pts = self.points[::-1] * [1.0, -1.0]
        flip = np.diag([1.0, -1.0, 1.0, 1.0])
        return replace(self, points=pts, transform=flip @ self.transform, side="left" if self.side == "right" else "right")


def unit_name(units: str, source: str) -> str:
    """A key of UNIT_MM for ``units`` as a file may write it ("mm", "Millimeters", "inch")."""
    word = str(units).strip().lower()
    word = UNIT_WORDS.get(word, UNIT_WORDS.get(word.rstrip("s"), word))  # "millimeters" -> "millimeter" -> "mm"
    if word not in UNIT_MM:
        raise InputError(f"{source}: unknown units '{units}'; use one of {', '.join(UNIT_MM)}")
    return word


def _ccw(points: np.ndarray) -> np.ndarray:
    x, y = points[:, 0], points[:, 1]
    area2 = np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)
    return points if area2 > 0 else points[::-1]


def _clean(points: np.ndarray, source: str) -> np.ndarray:
    """Finite, de-duplicated, implicitly closed ring of 3+ distinct points."""
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise InputError(f"{source}: expected x,y pairs, got an array of shape {pts.shape}")
    if not np.isfinite(pts).all():
        row = int(np.argwhere(~np.isfinite(pts))[0, 0])
        raise InputError(f"{source}: point {row + 1} is not a finite number ({pts[row].tolist()}); give numbers only")
    keep = np.r_[True, np.any(np.abs(np.diff(pts, axis=0)) > 1e-9, axis=1)]
    pts = pts[keep]
    if len(pts) > 1 and np.allclose(pts[0], pts[-1], atol=1e-9):
        pts = pts[:-1]
    # Three distinct points: one that is neither the first point nor the first other one
    # (one pass; sorting a scan's million points only to count them took half a second).
    other = np.any(pts != pts[0], axis=1)
    if not other.any() or not np.any(other & np.any(pts != pts[np.argmax(other)], axis=1)):
        raise InputError(f"{source}: an outline needs at least 3 distinct points, got {1 + int(other.any())}")
    return pts


def _check_closed(pts: np.ndarray, source: str) -> None:
    """An outline whose closing gap dwarfs every other segment was traced only in part."""
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    gap = float(np.linalg.norm(pts[-1] - pts[0]))
    size = float(np.ptp(pts, axis=0).max())
    if len(seg) >= 3 and gap > 4 * seg.max() and gap > 0.15 * size:
        raise InputError(
            f"{source}: the outline is open (its last point is {gap:.3g} units from the first, "
            f"its longest step {seg.max():.3g}); give the whole closed outline"
        )


def _long_axis(polygon: Polygon) -> tuple[np.ndarray, np.ndarray]:
    """Area centroid (2,) and unit major axis (2,) from the polygon's second moments of area."""
    pts = np.asarray(polygon.exterior.coords)
    c = np.asarray(polygon.centroid.coords[0])
    p = pts - c
    x0, y0, x1, y1 = p[:-1, 0], p[:-1, 1], p[1:, 0], p[1:, 1]
    cross = x0 * y1 - x1 * y0
    ixx = np.sum(cross * (x0**2 + x0 * x1 + x1**2)) / 12
    iyy = np.sum(cross * (y0**2 + y0 * y1 + y1**2)) / 12
    ixy = np.sum(cross * (x0 * y1 + 2 * x0 * y0 + 2 * x1 * y1 + x1 * y0)) / 24
    w, v = np.linalg.eigh(np.array([[ixx, ixy], [ixy, iyy]]))
    axis = v[:, np.argmax(w)]
    # A fixed sign convention keeps the result independent of the eigen solver's choice.
    if axis[0] < 0 or (axis[0] == 0 and axis[1] < 0):
        axis = -axis
    return c, axis


def _slab_width(pts: np.ndarray, lo: float, hi: float) -> float:
    """Greatest y-extent of the polygon between x = lo and x = hi (pts already rotated)."""
    poly = Polygon(pts)
    part = poly.intersection(shapely.box(lo, pts[:, 1].min() - 1, hi, pts[:, 1].max() + 1))
    if part.is_empty:
        return 0.0
    b = part.bounds
    return b[3] - b[1]


def _suggest_units(length_mm: float, units: str) -> str:
    for name in ("mm", "cm", "in"):  # the choices of --units
        factor = UNIT_MM[name]
        candidate = length_mm / UNIT_MM[units] * factor
        if name != units and MIN_LENGTH_MM <= candidate <= MAX_LENGTH_MM:
            return f"; if the file is in {name}, pass --units {name}"
    return "; check the file's units and scale"


def _thin(pts: np.ndarray) -> np.ndarray:
    """A dense scanner trace (more than DENSE_POINTS, in mm) averaged over 0.1 mm of its length and
    thinned within SIMPLIFY_MM: jitter finer than the spacing would otherwise cross itself."""
    if len(pts) <= DENSE_POINTS:
        return pts
    from scipy.ndimage import uniform_filter1d

    coarse = pts[:: len(pts) // 2000]  # its perimeter is the curve's: jitter would inflate a point-to-point one
    step = float(np.linalg.norm(np.diff(coarse, axis=0), axis=1).sum()) / len(pts)
    window = int(np.clip(round(SMOOTH_MM / max(step, 1e-12)), 1, len(pts) // 100))
    smooth = uniform_filter1d(pts, window, axis=0, mode="wrap")[:: max(1, window // 2)]
    line = shapely.LineString(np.vstack([smooth, smooth[:1]])).simplify(SIMPLIFY_MM, preserve_topology=False)
    return np.asarray(line.coords)[:-1]


def check_proportions(length_mm: float, width_mm: float, what: str, fix: str) -> None:
    """Raise :class:`InputError` when ``what`` (e.g. "foot.csv: the outline"), length by width mm, is
    not shaped like a foot (WIDTH_SHARE); ``fix`` says what to give instead."""
    if not WIDTH_SHARE[0] <= width_mm / length_mm <= WIDTH_SHARE[1]:
        raise InputError(f"{what} is {length_mm:.0f} x {width_mm:.0f} mm, {width_mm / length_mm:.2f} times as wide as long: not the "
                         f"shape of a foot ({WIDTH_SHARE[0]:g}-{WIDTH_SHARE[1]:g}; a foot is about 0.38); {fix}")


def from_points(
    points: np.ndarray, units: str = "mm", side: str = "right", source: str = "outline", sha256: str = "", kind: str = "outline",
    notes: tuple[str, ...] = (),
) -> Outline:
    """Validate an input outline and place it in the output frame.

    points: (n, 2) float in ``units`` (mm, cm, in, m or ft), any position and rotation, open or
    closed ring. Raises :class:`InputError` naming ``source`` when the outline is unusable.
    """
    units = unit_name(units, source)
    if side not in ("left", "right"):
        raise InputError(f"side '{side}' is not known; use left or right")
    raw = _clean(points, source)
    _check_closed(raw, source)
    scale = UNIT_MM[units]
    pts = _ccw(_thin(raw * scale))
    poly = Polygon(pts)
    if not poly.is_valid:
        reason = shapely.is_valid_reason(poly)
        hint = "" if kind == "footprint" else "; if it is a traced footprint, pass --outline-kind footprint"
        raise InputError(f"{source}: the outline is not a simple polygon ({reason}); give an outline that does not cross itself{hint}")
    if poly.area <= 0:
        raise InputError(f"{source}: the outline encloses no area; give a closed foot outline")
    centre, axis = _long_axis(poly)
    rot = np.array([[axis[0], axis[1]], [-axis[1], axis[0]]])
    local = (pts - centre) @ rot.T
    length = float(np.ptp(local[:, 0]))
    if not MIN_LENGTH_MM <= length <= MAX_LENGTH_MM:
        raise InputError(
            f"{source}: the outline is {length:.4g} mm long in {units}, not a plausible foot "
            f"({MIN_LENGTH_MM:g}-{MAX_LENGTH_MM:g} mm){_suggest_units(length, units)}"
        )
    check_proportions(length, float(np.ptp(local[:, 1])), f"{source}: the outline", "give the outline of one foot or insole")
    xmin = local[:, 0].min()
    rear = _slab_width(local, xmin + 0.15 * length, xmin + 0.35 * length)
    fore = _slab_width(local, xmin + 0.60 * length, xmin + 0.80 * length)
    if rear > fore:  # the forefoot is the wider end: turn so the heel comes first
        rot = -rot
        local = -local
        xmin = local[:, 0].min()
    local = local - [xmin, 0.0]
    tf2 = np.eye(3)
    tf2[:2, :2] = rot * scale
    tf2[:2, 2] = -rot @ centre - [xmin, 0.0]
    transform = np.eye(4)
    transform[:2, :2] = tf2[:2, :2]
    transform[:2, 3] = tf2[:2, 2]
    transform[2, 2] = scale
    simple = Polygon(local).simplify(SIMPLIFY_MM, preserve_topology=True)
    ring = _ccw(np.asarray(simple.exterior.coords)[:-1])
    return Outline(ring, transform, side, source, sha256, kind, tuple(notes))
