"""A shell device as built, measured on its mesh: the sheet's normal thickness, the trim edge
behind each metatarsal head, and the rearfoot post (bottom plane, angle, motion, length)."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

from . import post, shell
from .measure import normal_thickness

REPORT_SAMPLES = 4000  # normal rays in a build's report (about a second); check and tests choose their own
EDGE_CLEAR_MM = 3.0  # thickness counts 3 mm or more inside the rim (SPEC), a sheet's thickness for thicker sheets
FLAT_Z_MM = 1e-3  # bottom faces this close to z = 0 are the post's flat
SEAT_SHARE = 0.35  # of the heel's width: the heel seat's radius about the heel centre


def plane(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares plane z = a x + b y + c through points (k, 3): ((a, b, c), max |residual|, mm)."""
    design = np.c_[points[:, :2], np.ones(len(points))]
    coef = np.linalg.lstsq(design, points[:, 2], rcond=None)[0]
    return coef, float(np.abs(design @ coef - points[:, 2]).max())


def thickness(insert) -> dict:
    """The sheet's normal thickness (min, P5, P50, P95), 3 mm or more inside the rim and away
    from a post fused under it; under its top cover (the cover is its own layer)."""
    _, vertices, faces = insert.parts[0] if insert.parts else ("", insert.vertices, insert.faces)
    vertices = vertices.copy()
    vertices[: len(insert.points), 2] -= insert.fields["top_cover"]  # the sheet's top comes first (construct.solid)
    nt = normal_thickness(vertices, faces, REPORT_SAMPLES)
    rx = insert.prescription
    # A normal ray runs up to t across before it meets the underside: nearer the rim it may leave through the side wall.
    clear = max(EDGE_CLEAR_MM, rx.shell.thickness_mm)
    keep = shapely.contains_xy(Polygon(insert.points[: insert.rim]).buffer(-clear), nt.points[:, 0], nt.points[:, 1])
    if rx.post.rearfoot == "intrinsic":
        keep &= nt.points[:, 0] > reach_mm(insert) + rx.shell.thickness_mm
    return {**nt.summary(keep), "prescribed_mm": rx.shell.thickness_mm, "measured_along": "normal"}


def reach_mm(insert) -> float:
    """x (mm) of the post's foremost point: its front face (extrinsic), or where its bevel meets
    the shell's underside (intrinsic: the one body's bottom is the post's there)."""
    rx, marks = insert.prescription, insert.marks
    if rx.post.rearfoot == "extrinsic":
        return post.front_mm(marks, rx)
    under = post.bottom(insert.points, insert.outline, marks, rx) <= insert.bottom + 1e-9
    return float(insert.points[under, 0].max())


def trim_edge(insert) -> dict | None:
    """A three-quarter shell's distal edge: its rim points on the cut, a line fitted through
    them, and how far behind each head (along x) the line passes."""
    if insert.prescription.shell.length != "three_quarter":
        return None
    marks = insert.marks
    first, normal = shell.trim_line(marks)
    rim = insert.points[: insert.rim]
    off = np.abs((rim - first) @ normal)
    edge = rim[off < 0.05]
    slope, cross = np.polyfit(edge[:, 1], edge[:, 0], 1)  # x along the edge as a function of y
    behind = {name: round(float(head[0] - (slope * head[1] + cross)), 3) for name, head in (("mtpj1", marks.mtpj1), ("mtpj5", marks.mtpj5))}
    return {"behind_mtpj1_mm": behind["mtpj1"], "behind_mtpj5_mm": behind["mtpj5"], "edge_points": int(len(edge)),
            "prescribed_mm": [shell.TRIM_BEHIND_MTPJ1_MM, shell.TRIM_BEHIND_MTPJ5_MM]}


def heel_seat_roll_deg(insert, top: np.ndarray) -> float:
    """The heel seat's roll (degrees, + = medial side up): a plane fitted to ``top`` (n,) over the
    top points within SEAT_SHARE of the heel's width of the heel centre."""
    marks, pts = insert.marks, insert.points
    seat = np.linalg.norm(pts - marks.heel_centre, axis=1) < SEAT_SHARE * marks.heel_width_mm
    (_, b, _), _ = plane(np.c_[pts[seat], top[seat]])
    return float(np.degrees(np.arctan(b * insert.outline.medial_sign)))


def post_figures(insert) -> dict | None:
    """The post as built: its flat bottom's plane residual, the heel seat's roll against the same
    shell unposted (the top without the posting field and the lift), the motion facet's angle,
    and where the flat ends."""
    rx, marks = insert.prescription, insert.marks
    if rx.post.rearfoot == "none":
        return None
    parts = dict((name, (v, f)) for name, v, f in insert.parts)
    vertices, faces = parts.get("post", (insert.vertices, insert.faces))
    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    front = post.front_mm(marks, rx)
    down = (normal[:, 2] < -0.5) & (tri[:, :, 0].max(axis=1) <= front + 1e-6)
    flat = down & (np.abs(tri[:, :, 2]).max(axis=1) < FLAT_Z_MM)
    flat_pts = tri[flat].reshape(-1, 3)
    _, residual = plane(flat_pts)
    top = insert.vertices[: len(insert.points), 2]
    unposted = top - insert.fields["posting"] - insert.fields["post_lift"]
    side = post.motion_side(insert.outline, rx)
    facet = down & ~flat & (normal[:, 1] * side > 1e-3) & (tri[:, :, 0].max(axis=1) < post.flat_end_mm(marks, rx) - 1.0)
    motion = 0.0
    if facet.any():
        (_, b, _), _ = plane(tri[facet].reshape(-1, 3))
        motion = float(np.degrees(np.arctan(abs(b))))
    flat_end = float(flat_pts[:, 0].max())
    return {
        "kind": rx.post.rearfoot,
        "bottom_plane_residual_mm": round(residual, 5),
        "rearfoot_deg": round(heel_seat_roll_deg(insert, top) - heel_seat_roll_deg(insert, unposted), 3),
        "motion_deg": round(motion, 3),
        "flat_end_mm": round(flat_end, 3),
        "flat_end_pct": round(100 * flat_end / marks.length_mm, 2),
        "front_mm": round(front, 3),
        "reach_mm": round(reach_mm(insert), 3),
    }


def shell_as_built(insert) -> dict:
    """The report's ``shell`` section."""
    return {"device": insert.prescription.device.type, "material": insert.prescription.device.material,
            "parts": [name for name, _, _ in insert.parts],
            "normal_thickness": thickness(insert), "trim_edge": trim_edge(insert), "post": post_figures(insert)}
