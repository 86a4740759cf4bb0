"""Landmarks placed on an outline by published foot proportions (CLINICAL.md), or where the load
puts them when a pressure recording is laid on the outline (``Outline.load``: the heel centre,
the 1st and 5th metatarsal heads and the hallux; the points placed from those follow them).

All positions are (2,) float, mm, in the output frame. Percentages come from the
prescription's ``landmarks`` section so that each can be overridden per patient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .outline import Outline
from .prescription import Prescription

# The 2nd-4th heads from the 5th (CLINICAL.md, parabola studies): mm ahead of the 5th on a
# 265 mm foot, and their place across, as a share of the way from the 1st head to the 5th.
LESSER_HEADS_AHEAD_MM = {2: 20.2, 3: 15.8, 4: 9.0}
LESSER_HEADS_ACROSS = {2: 0.30, 3: 0.53, 4: 0.76}
REFERENCE_LENGTH_MM = 265.0
# Landmark -> its name in a pressure analysis (insolegen.pressure.analysis.LANDMARKS)
FROM_LOAD = {"heel_centre": "heel_centre", "mtpj1": "mth1", "mtpj5": "mth5", "hallux": "hallux"}


@dataclass(frozen=True)
class Landmarks:
    length_mm: float
    heel_centre: np.ndarray
    heel_width_mm: float
    arch_apex: np.ndarray
    mtpj1: np.ndarray
    mtpj5: np.ndarray
    sulcus_x_mm: float
    met_pad_apex: np.ndarray
    mtpj2: np.ndarray
    mtpj3: np.ndarray
    mtpj4: np.ndarray
    navicular: np.ndarray
    cuboid: np.ndarray
    calcaneal_tubercle: np.ndarray
    hallux: np.ndarray
    from_load: tuple[str, ...] = ()  # the landmarks the pressure recording placed

    @property
    def met_line_normal(self) -> np.ndarray:
        """(2,) unit vector across the metatarsal-head line, pointing to the toes."""
        d = self.mtpj5 - self.mtpj1
        n = np.array([d[1], -d[0]]) / np.linalg.norm(d)
        return n if n[0] > 0 else -n

    def behind_met_line_mm(self, xy: np.ndarray) -> np.ndarray:
        """(n,) float: how far each point of xy (n, 2) lies behind (proximal to) the head line."""
        return (self.mtpj1 - xy) @ self.met_line_normal

    def as_dict(self) -> dict:
        """Report form: points as [x, y] in mm, plus their % of foot length."""
        def point(p: np.ndarray) -> dict:
            return {"xy_mm": [round(float(p[0]), 3), round(float(p[1]), 3)], "pct_length": round(100 * float(p[0]) / self.length_mm, 2)}

        return {
            "heel_centre": point(self.heel_centre),
            "arch_apex": point(self.arch_apex),
            "mtpj1": point(self.mtpj1),
            "mtpj5": point(self.mtpj5),
            "met_head_line": [point(self.mtpj1)["xy_mm"], point(self.mtpj5)["xy_mm"]],
            "met_pad_apex": point(self.met_pad_apex),
            **{name: point(getattr(self, name)) for name in (
                "mtpj2", "mtpj3", "mtpj4", "navicular", "cuboid", "calcaneal_tubercle", "hallux")},
            "sulcus_x_mm": round(self.sulcus_x_mm, 3),
            "heel_width_mm": round(self.heel_width_mm, 3),
            "sources": {name: "pressure" if name in self.from_load else "proportions" for name in FROM_LOAD},
        }


def place(outline: Outline, rx: Prescription) -> Landmarks:
    """Landmarks of ``outline`` for prescription ``rx`` (its landmark and feature positions)."""
    length = outline.length_mm
    sign = outline.medial_sign

    def on_border(pct: float, which: int, inset_mm: float = 0.0) -> np.ndarray:
        x = np.array([pct / 100 * length])
        lat, med = outline.borders(x)
        ym = (med[0] - inset_mm) if which > 0 else (lat[0] + inset_mm)
        return np.array([x[0], sign * ym])

    def inside(pct: float, share: float) -> np.ndarray:
        """The point at pct of the length, share of the width in from the lateral border."""
        x = np.array([pct / 100 * length])
        lat, med = outline.borders(x)
        return np.array([x[0], sign * (lat[0] + share * (med[0] - lat[0]))])

    lm = rx.landmarks
    lat, med = outline.borders(np.array([lm.heel_centre_pct / 100 * length]))
    heel_centre = np.array([lm.heel_centre_pct / 100 * length, sign * 0.5 * (lat[0] + med[0])])
    mtpj1, mtpj5 = on_border(lm.mtpj1_pct, +1), on_border(lm.mtpj5_pct, -1)
    hallux = inside(lm.hallux_pct, 0.8)
    measured = {} if outline.load is None else outline.load.landmarks()
    found = {name: measured[key] for name, key in FROM_LOAD.items() if key in measured}
    heel_centre, mtpj1, mtpj5, hallux = (found.get(name, p) for name, p in zip(FROM_LOAD, (heel_centre, mtpj1, mtpj5, hallux)))
    on_line = mtpj1 + rx.met_pad.across_pct / 100 * (mtpj5 - mtpj1)
    scale = length / REFERENCE_LENGTH_MM
    lesser = {
        k: np.array([mtpj5[0] + ahead * scale, (mtpj1 + LESSER_HEADS_ACROSS[k] * (mtpj5 - mtpj1))[1]])
        for k, ahead in LESSER_HEADS_AHEAD_MM.items()
    }
    heel_width = float(med[0] - lat[0])
    marks = Landmarks(
        length_mm=length,
        heel_centre=heel_centre,
        heel_width_mm=float(med[0] - lat[0]),
        arch_apex=on_border(rx.arch.apex_pct, +1),
        mtpj1=mtpj1,
        mtpj5=mtpj5,
        sulcus_x_mm=lm.sulcus_pct / 100 * length,
        met_pad_apex=on_line,
        mtpj2=lesser[2],
        mtpj3=lesser[3],
        mtpj4=lesser[4],
        navicular=inside(lm.navicular_pct, 0.85),
        cuboid=inside(lm.cuboid_pct, 0.2),
        # the tubercle sits a sixth of the heel's width medial of its centre
        calcaneal_tubercle=np.array([lm.calcaneal_tubercle_pct / 100 * length, heel_centre[1] + sign * heel_width / 6]),
        hallux=hallux,
        from_load=tuple(found),
    )
    apex = on_line - rx.met_pad.offset_mm * marks.met_line_normal
    return Landmarks(**{**marks.__dict__, "met_pad_apex": apex})
