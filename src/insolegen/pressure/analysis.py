"""A recording's load as pressure software reports it: peak and PTI images, footprint, regions,
arch index, landmarks, the transform from sensor-grid millimetres to the output frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import ndimage
from shapely.geometry.base import BaseGeometry

from ..errors import InputError
from ..outline import check_proportions
from . import orient
from .recording import Recording

REGIONS = ("heel", "midfoot", "mth1", "mth2_3", "mth4_5", "hallux", "lesser_toes")
LANDMARKS = ("heel_centre", "mth1", "mth5", "hallux")
# Masks as pressure software draws them (novel's percentage masks): shares of the foot's length
# from the heel, the toes' line set by the load between them, and shares of the local width
# from the medial border.
HEEL_END, MIDFOOT_END = 0.30, 0.55
# the toes' line: the least loaded slice between the heads and the toes, found on the medial and
# the lateral half apart (the lateral toes begin further back) and drawn between the two
TOES_SEARCH = {"medial": (0.70, 0.90), "lateral": (0.65, 0.88)}
TOES_DEFAULT = 0.78
MTH1_WIDTH, MTH2_3_WIDTH = 0.30, 0.65  # medial share of the forefoot's width up to the 1st, 3rd head
HALLUX_WIDTH = 0.40
MIN_FOOT_MM = 150.0  # a whole sole, a small child's included; heel or forefoot alone are shorter
THRESHOLD_KPA = 200.0  # CLINICAL.md: the diabetic-foot threshold; its area is reported


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
        """SPEC's report keys (system, side, frames, sensor_pitch_mm, peak_kpa, contact_area_cm2,
        arch_index, regions, landmarks_mm, transform_sensor_to_output) and the file, step and
        frame time."""
        rec = self.recording
        return {
            "system": rec.system,
            "side": rec.side,
            "source": rec.source,
            "sha256": rec.sha256,
            "frames": int(rec.frames.shape[0]),
            "frame_s": round(rec.frame_s, 6),
            "step": rec.step,
            "steps": rec.steps,
            "sensor_pitch_mm": [round(float(v), 4) for v in rec.pitch_mm],
            "peak_kpa": round(float(np.nanmax(self.peak)), 3),
            "contact_area_cm2": round(float(self.contact.sum()) * rec.cell_area_mm2 / 100.0, 3),
            "area_over_200_kpa_cm2": round(float((np.nan_to_num(self.peak) > THRESHOLD_KPA).sum()) * rec.cell_area_mm2 / 100.0, 3),
            "foot_length_mm": round(float(self.footprint.bounds[2] - self.footprint.bounds[0]), 2),
            "arch_index": _number(self.arch_index, 4),
            "regions": {name: {k: round(v, 3) for k, v in stats.items()} for name, stats in self.region_stats.items()},
            "landmarks_mm": {name: [_number(v, 2) for v in xy] for name, xy in self.landmarks_mm.items()},
            "transform_sensor_to_output": [[round(float(v), 6) for v in row] for row in self.transform],
        }


def _number(value: float, digits: int) -> float | None:
    """A rounded number for JSON; None where there is none (an empty region's landmark)."""
    return round(float(value), digits) if np.isfinite(value) else None


def _cells(centres: np.ndarray, pitch: tuple[float, float]) -> BaseGeometry:
    """The union of the squares of sensors at centres (n, 2), mm."""
    hx, hy = pitch[0] / 2, pitch[1] / 2
    return shapely.union_all(shapely.box(centres[:, 0] - hx, centres[:, 1] - hy, centres[:, 0] + hx, centres[:, 1] + hy))


def _transform(axes: orient.Axes, side: str, outline_sensor: BaseGeometry) -> np.ndarray:
    """4x4 sensor-grid mm -> output frame: x along the axis from the rearmost contact, y to the
    wearer's left (medially on a right foot) through the footprint's centroid."""
    left = axes.medial if side == "right" else -axes.medial
    rot = np.array([axes.u, left])
    pts = shapely.get_coordinates(outline_sensor) @ rot.T
    centroid = np.asarray(outline_sensor.centroid.coords[0]) @ rot.T
    tf = np.eye(4)
    tf[:2, :2] = rot
    tf[:2, 3] = [-pts[:, 0].min(), -centroid[1]]
    return tf


def _toes_line(x: np.ndarray, load: np.ndarray, length: float, step: float, search: tuple[float, float]) -> float:
    """The x (mm) of the least loaded slice between the heads and the toes (the sulcus)."""
    lo, hi = search[0] * length, search[1] * length
    edges = np.arange(lo, hi + step, step)
    if len(edges) < 3 or not len(x):
        return TOES_DEFAULT * length
    profile = np.array([load[(x >= a) & (x < b)].max(initial=0.0) for a, b in zip(edges[:-1], edges[1:])])
    low = np.flatnonzero(profile == profile.min())
    runs = np.split(low, np.flatnonzero(np.diff(low) > 1) + 1)
    run = max(runs, key=len)  # the widest gap; its middle
    return float((edges[run[0]] + edges[run[-1] + 1]) / 2)


def _toes_boundary(x: np.ndarray, m: np.ndarray, contact: np.ndarray, load: np.ndarray, length: float, step: float) -> np.ndarray:
    """(rows, cols) float, mm: the x where the toes begin, at each cell's medial offset m: the
    line through the medial half's and the lateral half's sulcus."""
    fore = contact & (x >= MIDFOOT_END * length)
    if not fore.any():
        return np.full(x.shape, TOES_DEFAULT * length)
    halves = {"medial": fore & (m >= np.median(m[fore])), "lateral": fore & (m < np.median(m[fore]))}
    at = {k: _toes_line(x[h], load[h], length, step, TOES_SEARCH[k]) for k, h in halves.items()}
    if not (halves["medial"].any() and halves["lateral"].any()):
        return np.full(x.shape, min(at.values()))
    m_med, m_lat = m[halves["medial"]].mean(), m[halves["lateral"]].mean()
    w = np.clip((m - m_lat) / max(m_med - m_lat, 1e-9), 0.0, 1.0)
    return at["lateral"] + w * (at["medial"] - at["lateral"])


def _share(m: np.ndarray, band: np.ndarray) -> np.ndarray:
    """Each cell's share of the band's width from its medial border (0 medial .. 1 lateral)."""
    if not band.any():
        return np.zeros_like(m)
    hi, lo = m[band].max(), m[band].min()
    return (hi - m) / max(hi - lo, 1e-9)


def _masks(x: np.ndarray, m: np.ndarray, contact: np.ndarray, length: float, toes: np.ndarray) -> dict[str, np.ndarray]:
    """Region masks from output-frame x (mm from the heel) and m (mm medially) of every cell and
    the toes' boundary (rows, cols) mm."""
    fore = contact & (x >= MIDFOOT_END * length) & (x < toes)
    front = contact & (x >= toes)
    f, t = _share(m, fore), _share(m, front)
    return {
        "heel": contact & (x < HEEL_END * length),
        "midfoot": contact & (x >= HEEL_END * length) & (x < MIDFOOT_END * length),
        "mth1": fore & (f < MTH1_WIDTH),
        "mth2_3": fore & (f >= MTH1_WIDTH) & (f < MTH2_3_WIDTH),
        "mth4_5": fore & (f >= MTH2_3_WIDTH),
        "hallux": front & (t < HALLUX_WIDTH),
        "lesser_toes": front & (t >= HALLUX_WIDTH),
    }


def _peak_at(xy: np.ndarray, m: np.ndarray, load: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The centre (2,) mm of the highest pressure peak in the mask (a sensor no neighbour exceeds);
    where the mask holds no peak of its own (only the flank of a neighbour's), its centre of
    pressure; NaN when the mask is empty. Equal peaks: the rearmost, then the most medial (m, mm
    medially), so that the choice does not depend on how the grid lies."""
    peaks = mask & (load > 0) & (load >= ndimage.maximum_filter(load, size=3, mode="constant"))
    if not peaks.any():
        return _centre_of_pressure(xy, load, mask)
    top = peaks & (load == load[peaks].max())
    order = np.lexsort((-np.round(m[top], 6), np.round(xy[top][:, 0], 6)))
    return xy[top][order[0]]


def _centre_of_pressure(xy: np.ndarray, load: np.ndarray, mask: np.ndarray) -> np.ndarray:
    if not mask.any() or load[mask].sum() <= 0:
        return np.full(2, np.nan)
    return (xy[mask] * load[mask, None]).sum(axis=0) / load[mask].sum()


def analyse(recording: Recording) -> Analysis:
    """The analysis of one foot's recording."""
    rec = recording
    values = np.nan_to_num(rec.frames)
    off = np.isnan(rec.frames).all(axis=0)
    peak_raw = values.max(axis=0)
    contact = peak_raw > 0
    peak = np.where(off, np.nan, peak_raw)
    pti = np.where(off, np.nan, values.sum(axis=0) * rec.frame_s)
    centres = rec.centres_mm()
    axes = orient.with_side(orient.find(centres[contact], peak_raw[contact]), rec.side, rec.seen_from_above)
    footprint_sensor = _cells(centres[contact], rec.pitch_mm)
    tf = _transform(axes, rec.side, footprint_sensor)
    xy = centres @ tf[:2, :2].T + tf[:2, 3]
    footprint = shapely.affinity.affine_transform(footprint_sensor, [*tf[:2, :2].ravel(), *tf[:2, 3]])
    length = footprint.bounds[2] - footprint.bounds[0]
    if length < MIN_FOOT_MM:
        raise InputError(
            f"{rec.source}: the load covers {length:.0f} mm along the foot, not a whole sole ({MIN_FOOT_MM:g} mm or more); "
            f"heel or forefoot alone cannot be mapped: give a step that loads the whole foot")
    check_proportions(length, footprint.bounds[3] - footprint.bounds[1], f"{rec.source}: the loaded area",
                      "give a step that loads one whole foot")
    x, m = xy[..., 0], xy[..., 1] * (1.0 if rec.side == "right" else -1.0)
    toes = _toes_boundary(x, m, contact, peak_raw, length, max(rec.pitch_mm))  # slices no thinner than a row
    regions = _masks(x, m, contact, length, toes)
    cell_cm2 = rec.cell_area_mm2 / 100.0
    stats = {
        name: {
            "peak_kpa": float(peak_raw[mask].max(initial=0.0)),
            "pti_kpa_s": float(np.nan_to_num(pti)[mask].max(initial=0.0)),
            "area_cm2": float(mask.sum() * cell_cm2),
            "force_n": float((values[:, mask].sum(axis=1) * rec.cell_area_mm2 * 1e-3).max(initial=0.0)),
        }
        for name, mask in regions.items()
    }
    landmarks = {
        "heel_centre": _centre_of_pressure(xy, peak_raw, regions["heel"]),
        "mth1": _peak_at(xy, m, peak_raw, regions["mth1"]),
        "mth5": _peak_at(xy, m, peak_raw, regions["mth4_5"]),  # the 4th-5th heads' peak: the lateral head that bears
        "hallux": _peak_at(xy, m, peak_raw, regions["hallux"]),
    }
    return Analysis(rec, peak, pti, contact, regions, tf, footprint, landmarks, _arch_index(x, contact, toes, max(rec.pitch_mm) / 2), stats)


def _arch_index(x: np.ndarray, contact: np.ndarray, toes: np.ndarray, half_cell: float) -> float:
    """Cavanagh & Rodgers (1987): the footprint without the toes, its length in thirds; the
    middle third's contact area over the whole."""
    body = contact & (x < toes)
    if not body.any():
        return float("nan")
    third = (x[body].max() + half_cell) / 3.0
    middle = body & (x >= third) & (x < 2 * third)
    return float(middle.sum() / body.sum())
