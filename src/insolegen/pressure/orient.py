"""The foot's axis and medial side from where it bore load, in sensor-grid millimetres.

The long axis is the contact's principal axis; the toes end is the wider one (the forefoot is
wider than the heel); the medial side is the one away from the midfoot's contact (the arch
leaves the medial midfoot off the ground), or, where the midfoot bore nothing, the side of the
highest toe load (the hallux).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Axes:
    """u: (2,) unit vector heel -> toes; medial: (2,) unit vector perpendicular to u, medially;
    centre: (2,) contact centroid, mm; s_min, length: the contact's extent along u from centre."""

    u: np.ndarray
    medial: np.ndarray
    centre: np.ndarray
    s_min: float
    length: float

    def local(self, points: np.ndarray) -> np.ndarray:
        """(n, 2) sensor mm -> (n, 2): [share of length from the heel end (0..1), mm medially]."""
        d = np.asarray(points, dtype=float) - self.centre
        return np.stack([(d @ self.u - self.s_min) / self.length, d @ self.medial], axis=-1)


def _band(s: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (s >= lo) & (s <= hi)


def find(points: np.ndarray, load: np.ndarray) -> Axes:
    """points: (n, 2) float, mm, centres of the loaded sensors; load: (n,) float, their peak kPa."""
    centre = points.mean(axis=0)
    d = points - centre
    w, v = np.linalg.eigh(d.T @ d)
    u = v[:, np.argmax(w)]
    perp = np.array([-u[1], u[0]])
    s, t = d @ u, d @ perp
    s_min, length = s.min(), max(float(np.ptp(s)), 1e-9)
    q = (s - s_min) / length
    rear, front = _band(q, 0.1, 0.3), _band(q, 0.6, 0.8)
    if rear.any() and front.any() and np.ptp(t[rear]) > np.ptp(t[front]):
        u, perp, s, t, q = -u, -perp, -s, -t, 1.0 - q
        s_min = s.min()
    heel, fore, mid = _band(q, 0.0, 0.25), _band(q, 0.6, 0.8), _band(q, 0.35, 0.6)
    score = 0.0
    if heel.any() and fore.any() and mid.any():
        # the midfoot's contact against the heel-forefoot line: it lies laterally
        qh, qf = q[heel].mean(), q[fore].mean()
        th, tf = t[heel].mean(), t[fore].mean()
        line = th + (q[mid] - qh) * (tf - th) / max(qf - qh, 1e-9)
        score = -float(np.mean(t[mid] - line))
    toes = q > 0.8
    if abs(score) < 2.0 and toes.any():  # under 2 mm: the midfoot does not tell; the hallux does
        score = float(t[toes][np.argmax(load[toes])] - t[toes].mean()) or score
    medial = perp if score >= 0 else -perp
    return Axes(u, medial, centre, float(s_min), length)


def side_of(axes: Axes, seen_from_above: bool) -> str:
    """The foot's side: seen from above with the toes ahead, a right foot's medial side is left."""
    turn = axes.u[0] * axes.medial[1] - axes.u[1] * axes.medial[0]
    return "right" if (turn > 0) == seen_from_above else "left"


def with_side(axes: Axes, side: str, seen_from_above: bool) -> Axes:
    """The axes with the medial direction that the given side implies."""
    if side_of(axes, seen_from_above) == side:
        return axes
    return Axes(axes.u, -axes.medial, axes.centre, axes.s_min, axes.length)
