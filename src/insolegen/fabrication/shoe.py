"""Shoe fit: the height of the shoe's insole board, which the insert's bottom follows.

The board rises under the heel by the heel pitch (flat under the heel seat, falling along the
shank to 0 at the ball) and ahead of the toe crease by the toe spring. Both are C2, so the bent
bottom has no crease; the insert's thickness above it is unchanged.
"""

from __future__ import annotations

import numpy as np

from ..features import fade_out
from ..landmarks import Landmarks
from ..prescription import Prescription


def board(xy: np.ndarray, marks: Landmarks, rx: Prescription) -> np.ndarray:
    """(n,) float, mm: the board's height under each point of xy (n, 2) float, mm; all 0 when flat."""
    shoe = rx.shoe
    x = xy[:, 0]
    # The heel seat stays level as far forward as the heel lift's plateau; the shank curve
    # then falls to the ball, midway between the 1st and 5th heads.
    seat_end = marks.heel_centre[0] + 0.17 * marks.length_mm
    ball = max(0.5 * (marks.mtpj1[0] + marks.mtpj5[0]), seat_end + 20.0)
    pitch = shoe.heel_pitch_mm * fade_out(x, seat_end, ball)
    # t^3 from the crease to the tip: zero slope and curvature at the crease (C2), steepest at the toes.
    t = np.clip((x - marks.sulcus_x_mm) / (marks.length_mm - marks.sulcus_x_mm), 0.0, 1.0)
    return pitch + shoe.toe_spring_mm * t**3
