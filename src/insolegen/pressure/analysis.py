"""A recording's load as pressure software reports it: peak and PTI images, footprint, regions,
arch index, landmarks, the transform from sensor-grid millimetres to the output frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from shapely.geometry.base import BaseGeometry

from .recording import Recording

REGIONS = ("heel", "midfoot", "mth1", "mth2_3", "mth4_5", "hallux", "lesser_toes")
LANDMARKS = ("heel_centre", "mth1", "mth5", "hallux")


@dataclass(frozen=True)
class Analysis:
    """recording: what was analysed.
    peak: (rows, cols) float, kPa: each sensor's maximum over the frames (NaN off the sensor).
    pti: (rows, cols) float, kPa s: each sensor's pressure-time integral.
    contact: (rows, cols) bool: sensors that saw load (peak > 0).
    regions: {name: (rows, cols) bool} for every name in REGIONS, disjoint, within ``contact``.
    transform: (4, 4) float, sensor-grid mm -> output frame (x heel->toe from the rearmost contact
        at 0, y to the wearer's left); may mirror (det < 0) when the grid is seen from below.
    footprint: shapely (Multi)Polygon, output-frame mm: the union of the loaded sensors' cells.
    landmarks_mm: {name: (2,) float} in the output frame for every name in LANDMARKS.
    arch_index: Cavanagh & Rodgers 1987 (midfoot third's area over the toeless footprint's).
    region_stats: {name: {"peak_kpa", "pti_kpa_s", "area_cm2", "force_n"}}.
    """

    recording: Recording
    peak: np.ndarray
    pti: np.ndarray
    contact: np.ndarray
    regions: dict[str, np.ndarray]
    transform: np.ndarray
    footprint: BaseGeometry
    landmarks_mm: dict[str, np.ndarray]
    arch_index: float
    region_stats: dict[str, dict[str, float]]

    def to_output(self, points_mm: np.ndarray) -> np.ndarray:
        """(n, 2) sensor-grid mm -> (n, 2) output-frame mm."""
        pts = np.asarray(points_mm, dtype=float)
        return pts @ self.transform[:2, :2].T + self.transform[:2, 3]

    def centres_out(self) -> np.ndarray:
        """(rows, cols, 2) float, mm: each sensor's centre in the output frame."""
        c = self.recording.centres_mm()
        return self.to_output(c.reshape(-1, 2)).reshape(c.shape)

    def report(self) -> dict:
        """SPEC's report: system, side, frames, sensor_pitch_mm, peak_kpa, contact_area_cm2,
        arch_index, regions, landmarks_mm, transform_sensor_to_output (and a few more)."""
        raise NotImplementedError


def analyse(recording: Recording) -> Analysis:
    """The analysis of one foot's recording."""
    raise NotImplementedError
