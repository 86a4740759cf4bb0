"""The pressure map laid on the insert's frame (SPEC.md "Registration"), and the load the design reads.

Exact when the outline came from the same emed plate file (the outline reader and the pressure
reader number the same sensors); otherwise the recording's footprint is matched to the outline's
(or scan's) at true size: a rigid turn and shift, mirrored when the recording is of the other foot,
by trimmed ICP of the footprint's insole outline (its rounded hull) onto the outline's rim (the
trimming leaves out where a true insole outline's arch and toes depart from a hull).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import shapely
import shapely.affinity

from .analysis import LANDMARKS, Analysis

RIM_STEP_MM = 1.0  # spacing of the rim samples the fit uses
KEEP_SHARE = 0.8  # the fit's best share of the contact rim (the rest: the arch's and the toes' gaps)
SEED_TURNS_DEG = (-10.0, 0.0, 10.0)
ICP_ROUNDS = 60
NEAR_MM = 15.0  # SPEC: the top unchanged from this far from every sensor above the threshold
# The recess ends this far inside NEAR_MM: a mesh's facet spans a few mm, and a ray at NEAR_MM on
# a facet whose far corner is still in the wall would see it.
NEAR_SLACK_MM = 1.5
FALL_MM = (2.0, 6.0)  # the recess wall's run, least and most (the most: a gentle wall where there is room)


@dataclass(frozen=True)
class Load:
    """A recording's analysis placed on an insert's outline.

    analysis: the recording's :class:`~insolegen.pressure.analysis.Analysis`.
    transform: (4, 4) float, sensor-grid mm -> the insert's output frame (mm).
    method: ``"exact"`` (outline from the same plate file) or ``"matched"``.
    residual_mm: RMS distance of the best KEEP_SHARE of the footprint's insole rim from the outline's rim
        after the match (0 when exact).
    mirrored: whether the placement mirrors the analysis' own frame (a recording of the other foot).
    """

    analysis: Analysis
    transform: np.ndarray
    method: str
    residual_mm: float
    mirrored: bool

    @cached_property
    def centres(self) -> np.ndarray:
        """(rows, cols, 2) float, mm: each sensor's centre in the insert's frame."""
        c = self.analysis.recording.centres_mm()
        return (c.reshape(-1, 2) @ self.transform[:2, :2].T + self.transform[:2, 3]).reshape(c.shape)

    @property
    def peak(self) -> np.ndarray:
        """(rows, cols) float, kPa: the peak-pressure image (NaN off the sensor)."""
        return self.analysis.peak

    @cached_property
    def digest(self) -> str:
        """sha256 over the recording and its placement: part of the build key."""
        rec = self.analysis.recording
        text = f"{rec.sha256}|{rec.side}|{rec.step}|{np.round(self.transform, 9).tobytes().hex()}"
        return hashlib.sha256(text.encode()).hexdigest()

    def to_insert(self, xy: np.ndarray) -> np.ndarray:
        """(n, 2) points of the analysis' own output frame -> (n, 2) in the insert's frame."""
        onto = self.transform @ np.linalg.inv(self.analysis.transform)
        return np.asarray(xy, float) @ onto[:2, :2].T + onto[:2, 3]

    def landmarks(self) -> dict[str, np.ndarray]:
        """{heel_centre, mth1, mth5, hallux: (2,) float, mm} in the insert's frame; only those the
        load located (a region with no contact has none)."""
        found = {name: self.analysis.landmarks_mm[name] for name in LANDMARKS}
        return {name: self.to_insert(xy[None])[0] for name, xy in found.items() if np.isfinite(xy).all()}

    def hot(self, threshold_kpa: float) -> np.ndarray:
        """(k, 2) float, mm: centres of the sensors whose peak is above ``threshold_kpa``."""
        return self.centres[np.nan_to_num(self.peak) > threshold_kpa]

    def reach_mm(self, margin_mm: float) -> tuple[float, float]:
        """(full, fall): the recess is at full depth within ``full`` of a hot sensor's centre (the
        margin past half the coarser pitch: the sensor's own cell and the margin), and rises to the
        top over ``fall`` more, ending NEAR_SLACK_MM inside NEAR_MM."""
        full = margin_mm + 0.5 * max(self.analysis.recording.pitch_mm)
        return full, float(np.clip(NEAR_MM - NEAR_SLACK_MM - full, *FALL_MM))

    def offload_share(self, xy: np.ndarray, threshold_kpa: float, margin_mm: float) -> np.ndarray:
        """(n,) float in [0, 1]: the share of the recess's depth at xy (n, 2) mm, insert frame.

        1 within ``full`` (see :meth:`reach_mm`) of any sensor above the threshold, 0 beyond
        ``full + fall`` of all of them; each sensor's disk falls off by the C2 smootherstep and the
        disks join as 1 - prod(1 - s_i), which is as smooth as its factors (no crease where two
        disks meet, as a distance to their union would have).
        """
        from scipy.spatial import cKDTree

        from ..features import smootherstep

        hot = self.hot(threshold_kpa)
        keep = np.ones(len(xy))
        if not len(hot) or not len(xy):
            return 1.0 - keep
        full, fall = self.reach_mm(margin_mm)
        for centre, near in zip(hot, cKDTree(xy).query_ball_point(hot, full + fall)):
            if near:
                r = np.hypot(*(xy[near] - centre).T)
                keep[near] *= 1.0 - smootherstep((full + fall - r) / fall)
        return 1.0 - keep

    def laid(self) -> Analysis:
        """The analysis as laid on the insert: its transform, footprint and landmarks in the insert's
        frame (for :func:`insolegen.pressure.picture.draw_peak_map` under the insert)."""
        from dataclasses import replace

        onto = self.transform @ np.linalg.inv(self.analysis.transform)
        footprint = shapely.affinity.affine_transform(self.analysis.footprint, [*onto[:2, :2].ravel(), *onto[:2, 3]])
        marks = {name: self.to_insert(xy[None])[0] for name, xy in self.analysis.landmarks_mm.items()}
        return replace(self.analysis, transform=self.transform, footprint=footprint, landmarks_mm=marks)

    def report(self) -> dict:
        """The build report's ``pressure`` section: the analysis' report in the insert's frame
        (landmarks, transform) and how it was laid there."""
        doc = self.analysis.report()
        doc["landmarks_mm"] = {name: [round(float(v), 2) for v in xy] for name, xy in self.landmarks().items()}
        doc["transform_sensor_to_output"] = [[round(float(v), 9) for v in row] for row in self.transform]
        doc["registration"] = {"method": self.method, "residual_mm": round(self.residual_mm, 3), "mirrored": self.mirrored}
        return doc


def register(analysis: Analysis, outline) -> Load:
    """The load of ``analysis`` laid on ``outline`` (an :class:`~insolegen.outline.Outline`)."""
    rec = analysis.recording
    if rec.system == "emed" and outline.sha256 == rec.sha256 and Path(outline.source).suffix.lower() == ".lst":
        return Load(analysis, outline.transform @ _emed_outline_frame(rec.pitch_mm), "exact", 0.0, False)
    mirror = rec.side != outline.side
    flip = np.diag([1.0, -1.0 if mirror else 1.0, 1.0, 1.0])
    rim = _rim(analysis) * [1.0, -1.0 if mirror else 1.0]
    fit, residual = _match(rim, outline.polygon)
    return Load(analysis, fit @ flip @ analysis.transform, "matched", residual, mirror)


def from_report(doc: dict) -> Load | None:
    """The load a build report's ``pressure`` section describes, its recording read again; None
    when that file is gone or no longer the one the build read (its sha256 differs)."""
    from .. import pressure
    from ..errors import InputError

    try:
        rec = pressure.read(doc["source"], side=doc["side"], step=doc["step"])
    except (InputError, OSError, KeyError):
        return None
    if rec.sha256 != doc.get("sha256"):
        return None
    reg = doc.get("registration", {})
    return Load(pressure.analyse(rec), np.array(doc["transform_sensor_to_output"], float), reg.get("method", "matched"),
                float(reg.get("residual_mm", 0.0)), bool(reg.get("mirrored", False)))


def _emed_outline_frame(pitch_mm) -> np.ndarray:
    """(4, 4): sensor-grid mm -> the frame :func:`insolegen.readers.read_emed` draws the plate in
    (cell (row r, column c) the square [c, c+1] x [-(r+1), -r] pitches: rows printed downward);
    the sensor-grid centre (c px, r py) is that square's centre."""
    px, py = pitch_mm
    return np.array([[1.0, 0.0, 0.0, px / 2], [0.0, -1.0, 0.0, -py / 2], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])


def _rim(analysis: Analysis) -> np.ndarray:
    """(n, 2) float, mm: points every RIM_STEP_MM along the insole outline of the recording's
    footprint (its contact patches' rounded hull, as ``--outline-kind footprint`` makes it): the
    contact's own rim runs into the arch and between the toes, where no outline goes."""
    from shapely.geometry import LinearRing

    from ..footprint import insole_ring

    rings = [np.asarray(part.exterior.coords) for part in shapely.get_parts(analysis.footprint)]
    ring, _ = insole_ring(rings, 1.0, analysis.recording.source)
    return shapely.get_coordinates(shapely.segmentize(LinearRing(ring), RIM_STEP_MM))


def _match(rim: np.ndarray, polygon) -> tuple[np.ndarray, float]:
    """(4, 4) rigid transform taking ``rim`` (n, 2) onto the hull of ``polygon``, and its residual:
    trimmed ICP (each round, the closest KEEP_SHARE of the points paired with their nearest rim
    points and the best turn and shift solved in closed form), from a few seed turns about the
    centroid, the best kept."""
    from scipy.spatial import cKDTree

    # the outline's hull: a contact outline's arch and toe gaps, or an insole's shallow arch, are not on the rim's hull
    target = shapely.get_coordinates(shapely.segmentize(polygon.convex_hull.exterior, RIM_STEP_MM / 2))
    tree = cKDTree(target)
    keep = max(3, int(KEEP_SHARE * len(rim)))
    centre = rim.mean(axis=0)
    best = (np.inf, np.eye(3))
    for turn in np.radians(SEED_TURNS_DEG):
        c, s = np.cos(turn), np.sin(turn)
        m = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        m[:2, 2] = centre - m[:2, :2] @ centre + (np.asarray(polygon.centroid.coords[0]) - centre) * [0.0, 1.0]
        for _ in range(ICP_ROUNDS):
            moved = rim @ m[:2, :2].T + m[:2, 2]
            dist, idx = tree.query(moved)
            near = np.argsort(dist)[:keep]
            step = _kabsch(moved[near], target[idx[near]])
            m = step @ m
            if np.abs(step - np.eye(3)).max() < 1e-7:
                break
        dist = np.sort(tree.query(rim @ m[:2, :2].T + m[:2, 2])[0])[:keep]
        rms = float(np.sqrt(np.mean(dist**2)))
        if rms < best[0]:
            best = (rms, m)
    out = np.eye(4)
    out[:2, :2], out[:2, 3] = best[1][:2, :2], best[1][:2, 2]
    return out, best[0]


def _kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(3, 3) the proper rigid 2D transform minimising |R a + t - b|^2 over paired points (n, 2)."""
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1.0, d]) @ u.T
    out = np.eye(3)
    out[:2, :2], out[:2, 2] = r, cb - r @ ca
    return out
