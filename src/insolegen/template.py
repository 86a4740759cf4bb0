"""The built-in outline: a right or left foot from its length and width alone.

A closed periodic spline through control points given as fractions of length (x) and width
(y, medial positive). The proportions follow CLINICAL.md (heel width 0.27 L, ball of the foot
at 0.72 L medially and 0.64 L laterally, big toe the most distal point) and were held against
the FIND template and the OpenFO insole outlines (tests/test_inputs.py measures the overlap).
"""

from __future__ import annotations

import hashlib

import numpy as np

from .errors import InputError
from .outline import MAX_LENGTH_MM, MIN_LENGTH_MM, WIDTH_SHARE, Outline

# (x / L, y / W) counter-clockwise for a right foot (medial = +y), starting at the heel.
_CONTROL = np.array([
    [0.000, 0.000],
    [0.015, -0.150], [0.050, -0.240], [0.100, -0.290], [0.200, -0.320], [0.300, -0.345],
    [0.400, -0.385], [0.500, -0.430], [0.600, -0.475], [0.680, -0.500], [0.760, -0.485],
    [0.840, -0.440], [0.900, -0.370], [0.950, -0.260], [0.985, -0.110],
    [1.000, 0.040], [0.990, 0.170], [0.960, 0.300], [0.900, 0.410], [0.800, 0.460],
    [0.700, 0.440], [0.600, 0.400], [0.500, 0.370], [0.400, 0.355], [0.300, 0.350],
    [0.200, 0.345], [0.100, 0.310], [0.050, 0.250], [0.015, 0.150],
])


def builtin_points(length_mm: float = 265.0, width_mm: float = 100.0, n: int = 240) -> np.ndarray:
    """(n, 2) float, mm: a right-foot outline exactly length_mm long and width_mm wide."""
    from scipy.interpolate import CubicSpline

    ring = np.vstack([_CONTROL, _CONTROL[:1]])
    t = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(ring * [2.65, 1.0], axis=0), axis=1))]
    spline = CubicSpline(t, ring, bc_type="periodic")
    pts = spline(np.linspace(0.0, t[-1], n, endpoint=False))
    pts = (pts - pts.min(axis=0)) / np.ptp(pts, axis=0)
    return np.c_[pts[:, 0] * length_mm, (pts[:, 1] - 0.5) * width_mm]


def builtin(length_mm: float = 265.0, width_mm: float = 100.0, side: str = "right") -> Outline:
    """The built-in outline in the output frame (identity transform), for ``side``."""
    if not MIN_LENGTH_MM <= length_mm <= MAX_LENGTH_MM:
        raise InputError(f"--foot-length {length_mm:g} mm is not a plausible foot; give {MIN_LENGTH_MM:g}-{MAX_LENGTH_MM:g} mm")
    if not WIDTH_SHARE[0] <= width_mm / length_mm <= WIDTH_SHARE[1]:
        raise InputError(
            f"--foot-width {width_mm:g} mm for a {length_mm:g} mm foot is implausible; "
            "a foot is about 0.35-0.40 times as wide as it is long"
        )
    if side not in ("left", "right"):
        raise InputError(f"side '{side}' is not known; use left or right")
    points = builtin_points(length_mm, width_mm)
    if side == "left":
        points = points[::-1] * [1.0, -1.0]
    sha = hashlib.sha256(f"builtin {length_mm!r} {width_mm!r}".encode()).hexdigest()
    return Outline(points, np.eye(4), side, "builtin", sha)


# Shoe sizes (CLINICAL.md): last length from the size, the foot about 12 mm shorter than its
# last, and as wide as ANSUR II's mean ratio. UK adult = 3 x last (in) - 25; US men = UK + 1,
# US women = UK + 2.5; EU (Paris points) = 1.5 x last (cm).
FOOT_SHORTER_THAN_LAST_MM = 12.0
WIDTH_PER_LENGTH = 0.376
SIZE_SYSTEMS = {  # name -> (UK size from this system's size, or None for EU; usual adult range)
    "eu": (None, (30.0, 52.0)),
    "uk": (0.0, (0.0, 16.0)),
    "us-men": (-1.0, (1.0, 17.0)),
    "us-women": (-2.5, (2.5, 18.5)),
}


def last_length_mm(size: float, system: str) -> float:
    """The shoe last's length, mm, for an adult ``size`` in ``system`` (eu, uk, us-men, us-women)."""
    if system not in SIZE_SYSTEMS:
        raise InputError(f"--size-system '{system}' is not known; use {', '.join(SIZE_SYSTEMS)}")
    to_uk, (lo, hi) = SIZE_SYSTEMS[system]
    if not lo <= size <= hi:
        raise InputError(f"--shoe-size {size:g} is not an adult {system} size; give {lo:g} to {hi:g}")
    if to_uk is None:
        return size / 1.5 * 10.0
    return (size + to_uk + 25.0) / 3.0 * 25.4


def foot_for_shoe(size: float, system: str) -> tuple[float, float]:
    """(length, width) of the foot, mm, that fits an adult shoe ``size`` in ``system``."""
    length = last_length_mm(size, system) - FOOT_SHORTER_THAN_LAST_MM
    return length, WIDTH_PER_LENGTH * length
