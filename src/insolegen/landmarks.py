"""Landmarks placed on an outline by published foot proportions (CLINICAL.md).

All positions are (2,) float, mm, in the output frame. Percentages come from the
prescription's ``landmarks`` section so that each can be overridden per patient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .outline import Outline
from .prescription import Prescription


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
            "sulcus_x_mm": round(self.sulcus_x_mm, 3),
            "heel_width_mm": round(self.heel_width_mm, 3),
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

    lm = rx.landmarks
    lat, med = outline.borders(np.array([lm.heel_centre_pct / 100 * length]))
    heel_centre = np.array([lm.heel_centre_pct / 100 * length, sign * 0.5 * (lat[0] + med[0])])
    mtpj1, mtpj5 = on_border(lm.mtpj1_pct, +1), on_border(lm.mtpj5_pct, -1)
    on_line = mtpj1 + rx.met_pad.across_pct / 100 * (mtpj5 - mtpj1)
    marks = Landmarks(
        length_mm=length,
        heel_centre=heel_centre,
        heel_width_mm=float(med[0] - lat[0]),
        arch_apex=on_border(rx.arch.apex_pct, +1),
        mtpj1=mtpj1,
        mtpj5=mtpj5,
        sulcus_x_mm=lm.sulcus_pct / 100 * length,
        met_pad_apex=on_line,
    )
    apex = on_line - rx.met_pad.offset_mm * marks.met_line_normal
    return Landmarks(**{**marks.__dict__, "met_pad_apex": apex})
