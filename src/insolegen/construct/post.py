"""The rearfoot post under a shell: flat on the ground, the shell standing on it.

The shell's heel is raised by ``post.thickness_mm`` (a lift that fades out ahead of the post)
so the post has substance under the heel seat; the heel seat itself is turned by the
``posting`` field of the top (``posting.rearfoot_deg`` about the long axis), which the sheet
follows. The post fills from the shell's underside down to its bottom: flat at z = 0, with
``posting.rearfoot_motion_deg`` ground off the medial half (lateral for a valgus post) as one
plane meeting the ground along the post's midline ("4/4"), the flat ending at
``post.length_pct`` of the foot length, then a bevel up to the post's front face.
"""

from __future__ import annotations

import numpy as np

from ..features import fade_out
from ..landmarks import Landmarks
from ..outline import Outline
from ..prescription import Prescription

BEVEL_DEG = 30.0  # the front bevel's slope, from the end of the flat up to the front face
FRONT_MM = 1.0  # the post's front face at its thinnest
LIFT_FADE_SHARE = 0.15  # of the foot length: the lift fades out over this much ahead of the post


def flat_end_mm(marks: Landmarks, rx: Prescription) -> float:
    """x (mm) where the post's flat bottom ends."""
    return rx.post.length_pct / 100.0 * marks.length_mm


def front_mm(marks: Landmarks, rx: Prescription) -> float:
    """x (mm) of the post's front face: the bevel rises to FRONT_MM under the lifted heel there."""
    return flat_end_mm(marks, rx) + (rx.post.thickness_mm - FRONT_MM) / np.tan(np.radians(BEVEL_DEG))


def lift(xy: np.ndarray, marks: Landmarks, rx: Prescription) -> np.ndarray:
    """(n,) float, mm: how far the shell is raised onto its post: the post's thickness up to the
    front face, fading smoothly (C2) to nothing over the next 15 % of the foot length."""
    front = front_mm(marks, rx)
    return rx.post.thickness_mm * fade_out(xy[:, 0], front, front + LIFT_FADE_SHARE * marks.length_mm)


def motion_side(outline: Outline, rx: Prescription) -> float:
    """+1 or -1: the sign of y on the side the motion is ground off (medial for varus)."""
    return outline.medial_sign * (1.0 if rx.posting.rearfoot_deg >= 0 else -1.0)


def bottom(xy: np.ndarray, outline: Outline, marks: Landmarks, rx: Prescription) -> np.ndarray:
    """(n,) float, mm: the post's bottom: 0 on the flat, the motion facet (one plane through the
    midline y = heel centre's y) on its side, the bevel ahead of the flat; the larger of them."""
    ramp = np.tan(np.radians(BEVEL_DEG)) * np.maximum(xy[:, 0] - flat_end_mm(marks, rx), 0.0)
    across = np.maximum(motion_side(outline, rx) * (xy[:, 1] - marks.heel_centre[1]), 0.0)
    return np.maximum(ramp, np.tan(np.radians(rx.posting.rearfoot_motion_deg)) * across)
