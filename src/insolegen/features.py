"""Corrective features, one small function each: a smooth height field over the outline.

Every function takes xy (n, 2) float, mm, in the output frame, the outline, its landmarks and
the prescription, and returns (n,) float, mm, added to the top surface:
``top = shell + heel_lift + arch + met_pad + heel_cup + posting + ... + top_cover`` (the lab's
form: skives, forefoot post, bar, Morton's, pads, recesses, flanges, taper; see FEATURES).
Switching a feature off changes the top by exactly its field. Transitions use the C2
smootherstep (or cos^2 domes) so no field has a crease. Recesses are negative fields.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .errors import InputError
from .landmarks import Landmarks
from .outline import Outline
from .prescription import PAD_FRONT_SHARE as FRONT_SHARE
from .prescription import Prescription
from .triangulate import PARALLEL_QUERY

Field = Callable[[np.ndarray, Outline, Landmarks, Prescription], np.ndarray]


def smootherstep(t: np.ndarray) -> np.ndarray:
    """0 below t = 0, 1 above t = 1, C2 in between (6t^5 - 15t^4 + 10t^3)."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * t * (t * (6.0 * t - 15.0) + 10.0)


def fade_out(x: np.ndarray, start: float, end: float) -> np.ndarray:
    """1 before ``start``, smoothly down to 0 at ``end`` (x in mm)."""
    return 1.0 - smootherstep((x - start) / (end - start))


def shell(xy, outline, marks, rx):
    """The plain insert: constant base thickness."""
    return np.full(len(xy), rx.shell.thickness_mm)


def heel_lift(xy, outline, marks, rx):
    """Full height under the heel; tapers to the forefoot share before the metatarsal heads."""
    length = marks.length_mm
    start = marks.heel_centre[0] + 0.17 * length
    end = max(marks.mtpj5[0] - 0.05 * length, start + 20.0)
    keep = 0.5 if rx.heel_lift.profile == "full_length" else rx.heel_lift.forefoot_fraction
    return rx.heel_lift.height_mm * (keep + (1.0 - keep) * fade_out(xy[:, 0], start, end))


def arch(xy, outline, marks, rx):
    """Medial arch: crest on the medial border at the apex, fading laterally and along x."""
    start, apex = marks.heel_centre[0], marks.arch_apex[0]
    end = max(marks.mtpj1[0] - 0.04 * marks.length_mm, apex + 15.0)
    out = np.zeros(len(xy))
    rows = np.flatnonzero((xy[:, 0] > start) & (xy[:, 0] < end))  # zero elsewhere: only these are worked out
    x, y = xy[rows, 0], xy[rows, 1]
    along = np.where(x <= apex, smootherstep((x - start) / (apex - start)), smootherstep((end - x) / (end - apex)))
    lateral, medial = outline.borders(x)
    across = (y * outline.medial_sign - lateral) / np.maximum(medial - lateral, 1.0)
    out[rows] = rx.arch.height_mm * along * smootherstep((across - 0.15) / 0.6)
    return out


def met_pad(xy, outline, marks, rx):
    """Teardrop behind the metatarsal heads: wide end forward, apex at the pad landmark."""
    pad = rx.met_pad
    if not pad.enabled:
        return np.zeros(len(xy))
    forward = marks.met_line_normal
    out = np.zeros(len(xy))
    reach = max(pad.length_mm, pad.width_mm)  # beyond this from the apex the dome is zero: skip those points
    ax, ay = marks.met_pad_apex
    rows = np.flatnonzero((np.abs(xy[:, 0] - ax) < reach) & (np.abs(xy[:, 1] - ay) < reach))
    rel = xy.take(rows, axis=0) - marks.met_pad_apex
    du = rel @ forward
    dv = rel @ np.array([-forward[1], forward[0]])
    half_len = np.where(du > 0, FRONT_SHARE * pad.length_mm, (1.0 - FRONT_SHARE) * pad.length_mm)
    half_wid = 0.5 * pad.width_mm * (1.0 - 0.15 * smootherstep(-du / ((1.0 - FRONT_SHARE) * pad.length_mm)))
    # cos^2 in r: the least peak curvature of the usual dome profiles, slope 0 at apex and rim
    r = np.minimum(np.hypot(du / half_len, dv / half_wid), 1.0)
    out[rows] = pad.height_mm * 0.5 * (1.0 + np.cos(np.pi * r))
    return out


def heel_cup(xy, outline, marks, rx):
    """Rim rising around the back and sides of the heel, fading out by the midfoot."""
    depth = rx.heel_cup.depth_mm
    out = np.zeros(len(xy))
    length = marks.length_mm
    near = xy[:, 0] < 0.42 * length  # where fade_out below ends
    if depth <= 0 or not near.any():
        return out
    wall = float(np.clip(0.3 * marks.heel_width_mm, 12.0, 25.0))
    # take() by row number: faster than a mask on (n, 2)
    dist = rim_distance(outline.polygon, xy.take(np.flatnonzero(near), axis=0), wall)
    out[near] = depth * smootherstep(1.0 - dist / wall) * fade_out(xy[near, 0], 0.22 * length, 0.42 * length)
    return out


def rim_distance(polygon, pts: np.ndarray, wall: float, quad_segs: int = 64) -> np.ndarray:
    """(n,) float, mm: distance of pts (n, 2) from the rim of ``polygon`` with its corners
    rounded, for points within ``wall`` of it (0 in the corners outside the rounded rim, inf
    farther in than ``wall``). quad_segs: segments a quarter circle of the rounding gets.

    Opening the outline by the wall width rounds its corners, so the distance to the rim is
    smooth wherever a wall rises (a polygonal outline would otherwise crease it).
    """
    import shapely
    from scipy.spatial import cKDTree

    rounded = polygon.buffer(-wall, quad_segs=quad_segs).buffer(wall, quad_segs=quad_segs)
    if rounded.is_empty:  # narrower than two walls everywhere: measure from the outline itself
        rounded = polygon
    rim = shapely.get_coordinates(shapely.segmentize(rounded.boundary, 0.25))
    # Only points within a wall of the rim need a distance (inf: no wall).
    band = np.flatnonzero(~shapely.contains_xy(rounded.buffer(-wall), pts[:, 0], pts[:, 1]))
    in_band = pts.take(band, axis=0)
    dist = np.full(len(pts), np.inf)
    dist[band] = cKDTree(rim).query(in_band, distance_upper_bound=wall, workers=-1 if len(band) > PARALLEL_QUERY else 1)[0]
    outside = band[~shapely.contains_xy(rounded, in_band[:, 0], in_band[:, 1])]
    dist[outside] = 0.0  # beyond the rounded rim (in the outline's corners): full height
    return dist


def _tilt_rise(xy, outline, angle: float, x_lo: float, x_hi: float) -> np.ndarray:
    """(n,) float, mm: how far each point lies from the border a post of ``angle`` pivots on
    (the lateral border for a varus post, angle > 0; the medial for valgus), taking the
    outermost outline point between x_lo and x_hi, so the rise is never negative there."""
    part = outline.points[(outline.points[:, 0] >= x_lo) & (outline.points[:, 0] <= x_hi), 1] * outline.medial_sign
    ym = xy[:, 1] * outline.medial_sign
    rise = ym - part.min() if angle > 0 else part.max() - ym
    return np.maximum(rise, 0.0)


def posting(xy, outline, marks, rx):
    """Rearfoot post: tilts the heel seat up medially (positive, varus) or laterally."""
    angle = rx.posting.rearfoot_deg
    if angle == 0:
        return np.zeros(len(xy))
    length = marks.length_mm
    rise = _tilt_rise(xy, outline, angle, 0.0, 0.45 * length)
    return np.tan(np.radians(abs(angle))) * rise * fade_out(xy[:, 0], 0.25 * length, 0.45 * length)


def rearfoot_motion(xy, outline, marks, rx):
    """Motion left in the rearfoot post ('4/4'): the post's tilt eased by that many degrees under
    the back of the heel, fully at the rear edge, not at all from the heel centre on."""
    motion, angle = rx.posting.rearfoot_motion_deg, rx.posting.rearfoot_deg
    if motion == 0 or angle == 0:
        return np.zeros(len(xy))
    length = marks.length_mm
    rise = _tilt_rise(xy, outline, angle, 0.0, 0.45 * length)
    return -np.tan(np.radians(motion)) * rise * fade_out(xy[:, 0], 0.03 * length, marks.heel_centre[0])


def forefoot_post(xy, outline, marks, rx):
    """Forefoot post: the forefoot seat tilted about the long axis (positive: medial side up),
    rising in behind the 5th head, to the sulcus or on to the toes."""
    angle = rx.posting.forefoot_deg
    if angle == 0:
        return np.zeros(len(xy))
    length = marks.length_mm
    start = marks.mtpj5[0] - 0.12 * length
    x = xy[:, 0]
    along = smootherstep((x - start) / (0.08 * length))
    if rx.posting.forefoot_extent == "sulcus":
        along = along * fade_out(x, marks.sulcus_x_mm, marks.sulcus_x_mm + 0.06 * length)
    return np.tan(np.radians(abs(angle))) * _tilt_rise(xy, outline, angle, start, np.inf) * along


def _side_y(xy, outline, medial: bool) -> np.ndarray:
    """(n,) y toward the chosen side: medial-positive for medial, lateral-positive otherwise."""
    return xy[:, 1] * (outline.medial_sign if medial else -outline.medial_sign)


def skive(xy, outline, marks, rx):
    """Kirby heel skive: a wedge over a disc under the plantar heel, rising across the disc to
    the full depth at its medial (or lateral) edge, fading radially outside the disc."""
    sk = rx.skive
    depth, medial = (sk.medial_mm, True) if sk.medial_mm > 0 else (sk.lateral_mm, False)
    if depth == 0:
        return np.zeros(len(xy))
    radius = sk.diameter_mm / 2
    fade = max(15.0, radius)  # wide enough that even 8 mm over a 2 cm disc stays crease-free
    toward = 1.0 if medial else -1.0
    centre = marks.heel_centre + np.array([0.0, toward * outline.medial_sign * 0.15 * marks.heel_width_mm])
    out = np.zeros(len(xy))
    rows = np.flatnonzero(np.hypot(*(xy - centre).T) < radius + fade)
    part = xy.take(rows, axis=0)
    r = np.hypot(*(part - centre).T)
    side = _side_y(part, outline, medial) - _side_y(centre[None], outline, medial)[0]
    out[rows] = depth * smootherstep((side + radius) / (2 * radius)) * fade_out(r, radius, radius + fade)
    return out


def _head_frame(xy, marks) -> tuple[np.ndarray, np.ndarray]:
    """(behind, along): mm behind the metatarsal-head line, and the share of the way from the 1st
    head (0) to the 5th (1) across it, for each point of xy (n, 2)."""
    d = marks.mtpj5 - marks.mtpj1
    return marks.behind_met_line_mm(xy), (xy - marks.mtpj1) @ d / (d @ d)


def met_bar(xy, outline, marks, rx):
    """Metatarsal bar: a ridge across the foot behind the 2nd-5th heads, a short steep front
    (12 mm) ending 3 mm behind the head line and a long back bevel (25 mm)."""
    bar = rx.met_bar
    if not bar.enabled or bar.height_mm == 0:
        return np.zeros(len(xy))
    front, back, gap = 12.0, 25.0, 3.0
    behind, along = _head_frame(xy, marks)
    crest = gap + front
    t = np.where(behind < crest, (crest - behind) / front, (behind - crest) / back)
    profile = 0.5 * (1.0 + np.cos(np.pi * np.minimum(t, 1.0)))  # cos^2 bevels: slope 0 at crest and foot
    across = smootherstep((along - 0.05) / 0.2)  # from the 1st-2nd gap, full under the 2nd
    return bar.height_mm * profile * across


# The 1st ray across the ball, as shares of the ball's width (the head line's span across the
# foot, from MTPJ1 on the medial border to MTPJ5 on the lateral: CLINICAL.md). The 2nd head's
# centre sits at 0.30 of it (landmarks.LESSER_HEADS_ACROSS); the 1st, the widest head, takes
# about the medial quarter, its centre a tenth in. So the 1st ray is whole to 0.19 and gone at
# 0.31, the 1st-2nd gap (0.25) half way: the narrowest change that keeps a 6 mm field under 10
# degrees of crease at 0.5 mm on the narrowest OpenFO outline (W8.5: 8.7). One definition serves
# the Morton's extension (raised over it), the reverse Morton's (free over it) and the cut-out.
FIRST_RAY_SHARES = (0.19, 0.31)
FIRST_HEAD_CENTRE_SHARE = 0.10


def _ball_width(marks) -> float:
    """mm across the foot from the 1st head to the 5th."""
    return abs(float(marks.mtpj1[1] - marks.mtpj5[1]))


def _first_head(outline, marks) -> np.ndarray:
    """(2,) the 1st metatarsal head's centre: FIRST_HEAD_CENTRE_SHARE of the ball in from MTPJ1."""
    return marks.mtpj1 - np.array([0.0, outline.medial_sign * FIRST_HEAD_CENTRE_SHARE * _ball_width(marks)])


def _first_ray_share(xy, outline, marks) -> np.ndarray:
    """(n,) 1 over the 1st ray, 0 from the 2nd head's centre on, smooth in between
    (FIRST_RAY_SHARES), measured across the ray's axis (the 1st head's centre to the hallux):
    a straight coordinate keeps the border's own curves out of the field, and the axis follows
    the ray to the toe. Past the sulcus the ray widens by 0.09 of the ball: the hallux is wider
    than its head."""
    ball, head = _ball_width(marks), _first_head(outline, marks)
    axis = (marks.hallux - head) / np.linalg.norm(marks.hallux - head)
    across = np.array([axis[1], -axis[0]])
    across = across if across[1] * outline.medial_sign < 0 else -across  # pointing lateral
    lateral = (xy - head) @ across + FIRST_HEAD_CENTRE_SHARE * ball
    widen = 0.09 * ball * smootherstep((xy[:, 0] - marks.sulcus_x_mm) / (0.2 * marks.length_mm))
    start, end = (share * ball + widen for share in FIRST_RAY_SHARES)
    return fade_out(lateral, start, end)


def _forefoot_reach(xy, marks) -> np.ndarray:
    """(n,) 0 from 30 mm behind the head line back, 1 from 10 mm behind it to the toe."""
    return smootherstep((30.0 - marks.behind_met_line_mm(xy)) / 20.0)


def morton_extension(xy, outline, marks, rx):
    """Morton's extension: raised under the 1st metatarsal head and the hallux to the toe."""
    height = rx.morton_extension.height_mm
    if height == 0:
        return np.zeros(len(xy))
    return height * _forefoot_reach(xy, marks) * _first_ray_share(xy, outline, marks)


def reverse_morton(xy, outline, marks, rx):
    """Reverse Morton's (dancer's pad): the 2nd-5th heads and toes raised, the 1st ray left free."""
    height = rx.reverse_morton.height_mm
    if height == 0:
        return np.zeros(len(xy))
    return height * _forefoot_reach(xy, marks) * (1.0 - _first_ray_share(xy, outline, marks))


def _dome(xy, centre: np.ndarray, half_x: float, half_y: float, height: float) -> np.ndarray:
    """(n,) a cos^2 dome of ``height`` (negative: a recess) on an ellipse of half-axes
    half_x, half_y (mm) about centre (2,); slope 0 at its apex and rim."""
    out = np.zeros(len(xy))
    if height == 0:
        return out
    rows = np.flatnonzero((np.abs(xy[:, 0] - centre[0]) < half_x) & (np.abs(xy[:, 1] - centre[1]) < half_y))
    rel = xy.take(rows, axis=0) - centre
    r = np.minimum(np.hypot(rel[:, 0] / half_x, rel[:, 1] / half_y), 1.0)
    out[rows] = height * 0.5 * (1.0 + np.cos(np.pi * r))
    return out


def first_ray_cutout(xy, outline, marks, rx):
    """A recess under the 1st metatarsal head, 32 mm long, centred on the head (a tenth of the
    ball's width in from the border) and reaching across to the 1st-2nd gap, half way through
    the 1st ray's edge (FIRST_RAY_SHARES): nothing of it under the 2nd head."""
    half_across = (0.5 * sum(FIRST_RAY_SHARES) - FIRST_HEAD_CENTRE_SHARE) * _ball_width(marks)
    return _dome(xy, _first_head(outline, marks), 16.0, half_across, -rx.first_ray_cutout.depth_mm)


def cuboid_pad(xy, outline, marks, rx):
    """A pad under the cuboid (lateral midfoot), 36 x 26 mm."""
    return _dome(xy, marks.cuboid, 18.0, 13.0, rx.cuboid_pad.height_mm)


def navicular_pad(xy, outline, marks, rx):
    """A pad under the navicular tuberosity (medial, just behind the arch apex), 36 x 26 mm."""
    return _dome(xy, marks.navicular, 18.0, 13.0, rx.navicular_pad.height_mm)


def heel_spur(xy, outline, marks, rx):
    """A round recess under the medial calcaneal tubercle (heel spur relief)."""
    radius = rx.heel_spur.diameter_mm / 2
    return _dome(xy, marks.calcaneal_tubercle, radius, radius, -rx.heel_spur.depth_mm)


# A flange's wall: 25 mm on a foot of usual width, never more than 0.42 of the narrowest midfoot
# width under the flange, so the half of the width away from it is never raised (a narrow
# footprint: the emed plate's, read as a plain outline, 32 mm). One wall for the whole flange, and
# the widest share that keeps 8 mm on that footprint under 10 degrees of crease at 0.5 mm (9.4).
FLANGE_WALL_MM, FLANGE_WALL_SHARE = 25.0, 0.42


def pressure_offload(xy, outline, marks, rx):
    """A recess ``pressure.offload_depth_mm`` deep under every region of the laid-on peak-pressure
    map above ``pressure.offload_kpa``, grown by ``pressure.offload_margin_mm`` (see
    :meth:`insolegen.pressure.register.Load.offload_share`)."""
    p = rx.pressure
    if outline.load is None or p.offload_kpa is None:
        return np.zeros(len(xy))
    return -p.offload_depth_mm * outline.load.offload_share(xy, p.offload_kpa, p.offload_margin_mm)


def flange(xy, outline, marks, rx):
    """The rim of the midfoot raised on the medial and/or lateral side: full height at the
    border, down to nothing over the wall (FLANGE_WALL_MM, at most
    FLANGE_WALL_SHARE of the narrowest width from 20 to 65 % of the length, by a smooth
    minimum), rising in from 20 % of the length and gone by 65 %."""
    medial_mm, lateral_mm = rx.flange.medial_mm, rx.flange.lateral_mm
    out = np.zeros(len(xy))
    length = marks.length_mm
    rows = np.flatnonzero((xy[:, 0] > 0.2 * length) & (xy[:, 0] < 0.65 * length))
    if medial_mm == 0 and lateral_mm == 0:
        return out
    sides = outline.borders(np.linspace(0.2, 0.65, 91) * length)
    narrowest = float((sides[1] - sides[0]).min())
    # p-norm smooth minimum (p = 4): below both, so a usual foot keeps about its 25 mm
    wall = ((FLANGE_WALL_SHARE * narrowest) ** -4 + FLANGE_WALL_MM ** -4) ** -0.25
    part = xy.take(rows, axis=0)
    x, ym = part[:, 0], part[:, 1] * outline.medial_sign
    lateral, medial = outline.borders(x)
    along = smootherstep((x - 0.2 * length) / (0.08 * length)) * fade_out(x, 0.55 * length, 0.65 * length)
    # Distance along the rim's normal, not across the foot: where a footprint's border turns
    # across the foot (the arch's notch) a distance across would crease the field. Each half of
    # the width takes its own side's flange: the wall ends before the middle, so no seam.
    dist = rim_distance(outline.polygon, part, wall)
    height = np.where(ym > 0.5 * (lateral + medial), medial_mm, lateral_mm)
    out[rows] = along * height * smootherstep(1.0 - dist / wall)
    return out


def distal_taper(xy, outline, marks, rx):
    """The base shell over the last ``shell.distal_taper_mm`` of the distal edge brought down to
    the minimum thickness: -(thickness - min) * w, w rising smoothly to 1 at the distal rim.
    Independent of the other fields (so each still adds exactly itself): a feature prescribed to
    the toe (a full-length lift, a forefoot post or Morton's to the toes) stays on top of it.
    The distal edge, along the head line's normal: the toes of a full insert (the rim within
    0.22 L of its front, fading in over 0.1 L behind that), or the cut of a trimmed one (the
    rim within the taper of the cut, fading in over one more taper length)."""
    taper = rx.shell.distal_taper_mm
    out = np.zeros(len(xy))
    if taper == 0:
        return out
    from shapely.geometry import Polygon

    from .construct import shell
    from .mesh import trim

    length, normal = marks.length_mm, marks.met_line_normal
    ring = (shell.trim if rx.device.type == "shell" else trim)(outline.points, marks, rx.shell.length)
    front = float((ring @ normal).max())
    full, fading = (0.22 * length, 0.1 * length) if rx.shell.length == "full" else (taper, taper)
    gate = smootherstep((xy @ normal - (front - full - fading)) / fading)
    rows = np.flatnonzero(gate > 0)
    # 16 segments a quarter: the rounded toe within 0.03 mm of a true arc, at a fifth of the cost
    dist = rim_distance(Polygon(ring), xy.take(rows, axis=0), taper, quad_segs=16)
    out[rows] = (rx.shell.min_thickness_mm - rx.shell.thickness_mm) * gate[rows] * smootherstep(1.0 - dist / taper)
    return out


def top_cover(xy, outline, marks, rx):
    """A uniform top cover layer, to the toes or ending at the sulcus (fading over the last 10 mm)."""
    cover = rx.top_cover
    if cover.thickness_mm == 0:
        return np.zeros(len(xy))
    if cover.extent == "toes":
        return np.full(len(xy), cover.thickness_mm)
    return cover.thickness_mm * fade_out(xy[:, 0], marks.sulcus_x_mm - 10.0, marks.sulcus_x_mm)


FEATURES: dict[str, Field] = {
    "shell": shell,
    "heel_lift": heel_lift,
    "arch": arch,
    "met_pad": met_pad,
    "heel_cup": heel_cup,
    "posting": posting,
    "rearfoot_motion": rearfoot_motion,
    "forefoot_post": forefoot_post,
    "skive": skive,
    "met_bar": met_bar,
    "morton_extension": morton_extension,
    "reverse_morton": reverse_morton,
    "first_ray_cutout": first_ray_cutout,
    "cuboid_pad": cuboid_pad,
    "navicular_pad": navicular_pad,
    "heel_spur": heel_spur,
    "pressure_offload": pressure_offload,
    "flange": flange,
    "distal_taper": distal_taper,
    "top_cover": top_cover,  # last: "top minus top_cover" is the insert under its cover
}
RECESSES = {"first_ray_cutout": "first_ray_cutout.depth_mm", "heel_spur": "heel_spur.depth_mm",
            "pressure_offload": "pressure.offload_depth_mm"}


def cast(xy, outline, marks, rx):
    """Scan builds: the balanced plantar surface of the scan, set on the base thickness (carried
    on smoothly past the scan's footprint where the outline reaches farther)."""
    return outline.cast.carried(xy)


def heel_expansion(xy, outline, marks, rx):
    """Scan builds: the heel seat's surface stretched out to the widened heel outline."""
    return outline.cast.expansion(xy)


def arch_fill(xy, outline, marks, rx):
    """Scan builds: the medial arch lowered by ``cast.arch_fill_mm`` at the scanned arch apex,
    by nothing from the heel centre back nor from the metatarsal heads on (the arch's shape)."""
    fill = rx.cast.arch_fill_mm
    if fill <= 0:
        return np.zeros(len(xy))
    start = marks.heel_centre[0]
    end = max(marks.mtpj1[0] - 0.04 * marks.length_mm, start + 40.0)
    apex = float(np.clip(outline.cast.arch_apex[0], start + 15.0, end - 15.0))
    x = xy[:, 0]
    along = np.where(x <= apex, smootherstep((x - start) / (apex - start)), smootherstep((end - x) / (end - apex)))
    lateral, medial = outline.borders(x)
    across = (xy[:, 1] * outline.medial_sign - lateral) / np.maximum(medial - lateral, 1.0)
    return -fill * along * smootherstep((across - 0.15) / 0.6)


def _ignored(xy, outline, marks, rx):
    return np.zeros(len(xy))


def scan_rim(xy, outline, marks, rx):
    """Scan builds: the rim levelled off at heel_cup.depth_mm and scan.rim_mm (see :mod:`insolegen.scan.rim`)."""
    from .scan import rim

    return rim.field(xy, outline, marks, rx)


def fairing(xy, outline, marks, rx):
    """Scan builds: the molded top changed as little as it can so that no two faces 0.5 mm apart
    meet at over 10 degrees (see :mod:`insolegen.scan.fair`)."""
    from .scan import fair

    return fair.for_top(outline, marks, rx).at(xy, fair.top(outline, rx))


# A scan build: the cast replaces the shell's constant thickness and the arch (the foot gives
# the arch; arch.height_mm is ignored) and its rim the heel cup (heel_cup.depth_mm caps the
# heel's sides), and the cast modifications join every other feature.
SCAN_FEATURES: dict[str, Field] = {
    **FEATURES, "shell": _ignored, "arch": _ignored, "heel_cup": _ignored, "cast": cast, "heel_expansion": heel_expansion,
    "arch_fill": arch_fill, "rim": scan_rim, "fairing": fairing,
}
SCAN_FEATURES["top_cover"] = SCAN_FEATURES.pop("top_cover")  # last here too: the cover lies on everything else


def fields(xy: np.ndarray, outline: Outline, marks: Landmarks, rx: Prescription) -> dict[str, np.ndarray]:
    """Every feature's field at xy (n, 2): name -> (n,) float, mm."""
    table = FEATURES if outline.cast is None else SCAN_FEATURES
    return {name: f(xy, outline, marks, rx) for name, f in table.items()}


def check_thickness(xy: np.ndarray, heights: dict[str, np.ndarray], marks: Landmarks, rx: Prescription) -> None:
    """Raise InputError when the recesses take the shell (every field but the top cover) below
    ``shell.min_thickness_mm``, naming the fields and the thickness available for them."""
    floor = rx.shell.min_thickness_mm
    shell_top = sum(h for name, h in heights.items() if name != "top_cover")
    i = int(np.argmin(shell_top))
    if shell_top[i] >= floor - 1e-6:
        return
    named = [field for name, field in RECESSES.items() if heights[name][i] < 0]
    if heights["distal_taper"][i] < 0:  # the taper thins the shell there: it shares the blame
        named.append("shell.distal_taper_mm")
    recess = sum(-heights[name][i] for name in RECESSES)
    available = shell_top[i] + recess - floor
    raise InputError(
        f"{' + '.join(named) or 'the prescription'} would leave the shell {shell_top[i]:.2f} mm thick at "
        f"{100 * xy[i, 0] / marks.length_mm:.0f}% of the length, below shell.min_thickness_mm {floor:g}; "
        f"the shell there allows {max(available, 0.0):.2f} mm of recess: make it shallower or raise shell.thickness_mm"
    )
