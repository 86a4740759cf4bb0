"""Steps in a recording: on a plate or mat, each foot placed once (loaded sensors connected in
space and time); in a shoe, each stance phase (the insole's load above 5 % of its highest)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from ..errors import InputError
from .recording import Recording

PLATES = ("emed", "pliance")
REACH_MM = 20.0  # load patches nearer than this (toes to forefoot) belong to the same foot
MIN_FOOT_CM2 = 20.0  # a step loads more than this at its peak (a child's heel alone is ~15 cm2)
STANCE_SHARE = 0.05  # in a shoe, a frame is in stance when the load is above this share of the highest
FOOT_MM = (360.0, 150.0)  # no foot is longer or its print wider: patches beyond are two feet
SIMULTANEOUS = 0.5  # two steps sharing more than this share of the shorter one's frames: two feet at once


@dataclass(frozen=True)
class Step:
    """frames: slice of the recording's frames; cells: (rows, cols) bool, the sensors it loaded."""

    frames: slice
    cells: np.ndarray
    area_cm2: float
    complete: bool


def find(rec: Recording) -> list[Step]:
    """The steps, in the order they began."""
    loaded = np.nan_to_num(rec.frames) > 0
    cell_cm2 = rec.cell_area_mm2 / 100.0
    k, nr, nc = loaded.shape
    if rec.system not in PLATES:
        force = np.nansum(rec.frames, axis=(1, 2))
        labels, _ = ndimage.label(force > STANCE_SHARE * force.max())
        spans = ndimage.find_objects(labels)
        return [Step(s[0], loaded[s[0]].any(axis=0), loaded[s[0]].any(axis=0).sum() * cell_cm2, s[0].start > 0 and s[0].stop < k) for s in spans]
    reach = REACH_MM / 2  # each patch grown by half the reach: those within it touch
    ri, rj = int(np.ceil(reach / rec.pitch_mm[1])), int(np.ceil(reach / rec.pitch_mm[0]))
    y, x = np.ogrid[-ri:ri + 1, -rj:rj + 1]
    disc = ((y * rec.pitch_mm[1]) ** 2 + (x * rec.pitch_mm[0]) ** 2 <= reach**2)[None]
    labels, _ = ndimage.label(ndimage.binary_dilation(loaded, structure=disc), structure=np.ones((3, 3, 3)))
    labels[~loaded] = 0
    parts = []  # (frame slice, cells) of each connected patch
    for lab, box in enumerate(ndimage.find_objects(labels), 1):
        if box is not None:
            cells = np.zeros((nr, nc), bool)
            cells[box[1:]] = (labels[box] == lab).any(axis=0)
            parts.append((box[0], cells))
    parts = _one_foot_each(rec, parts)
    steps = []
    for frames, cells in parts:
        area = (loaded[frames] & cells).sum(axis=(1, 2)).max() * cell_cm2
        rows, cols = np.nonzero(cells)
        # a mat's edge cuts a step short; the emed export holds only loaded rows, so no edge there
        inside = rec.system == "emed" or (rows.min() > 0 and cols.min() > 0 and rows.max() < nr - 1 and cols.max() < nc - 1)
        steps.append(Step(frames, cells, float(area), bool(frames.start > 0 and frames.stop < k and inside)))
    return sorted((s for s in steps if s.area_cm2 >= MIN_FOOT_CM2), key=lambda s: s.frames.start)


def _together(a: slice, b: slice) -> bool:
    shared = min(a.stop, b.stop) - max(a.start, b.start)
    return shared > SIMULTANEOUS * min(a.stop - a.start, b.stop - b.start)


def _fits_one_foot(rec: Recording, cells: np.ndarray) -> bool:
    """Whether the loaded cells fit inside one foot (heel and forefoot of a high arch, apart)."""
    pts = rec.centres_mm()[cells]
    d = pts - pts.mean(axis=0)
    w, v = np.linalg.eigh(d.T @ d)
    extent = np.ptp(d @ v, axis=0)
    return extent.max() <= FOOT_MM[0] and extent.min() <= FOOT_MM[1]


def _one_foot_each(rec: Recording, parts: list) -> list:
    """Patches loaded together that fit one foot merged into one step."""
    merged = True
    while merged:
        merged = False
        for i, (fa, ca) in enumerate(parts):
            for j in range(i + 1, len(parts)):
                fb, cb = parts[j]
                if _together(fa, fb) and _fits_one_foot(rec, ca | cb):
                    parts[i] = (slice(min(fa.start, fb.start), max(fa.stop, fb.stop)), ca | cb)
                    del parts[j]
                    merged = True
                    break
            if merged:
                break
    return parts


def pick(rec: Recording, number: int | None) -> Recording:
    """The recording of one step: the number asked for (1-based), else on a plate the most complete
    one (whole, the largest), in a shoe all of it. InputError when nothing foot-sized touched the
    sensor, when the step asked for is not there, when two feet stood on a plate at once."""
    steps = find(rec)
    if not steps:
        peak = np.nan_to_num(rec.frames).max(axis=0)
        area = (peak > 0).sum() * rec.cell_area_mm2 / 100.0
        raise InputError(f"{rec.source}: no foot-sized contact (the loaded sensors cover {area:.1f} cm2 at most, a step covers {MIN_FOOT_CM2:g}+); give a recording with a step on the sensor")
    if number is not None and not 1 <= number <= len(steps):
        raise InputError(f"{rec.source}: --step {number} asked for, the recording holds {len(steps)} step{'s' * (len(steps) != 1)}; give 1-{len(steps)}")
    if rec.system not in PLATES:
        if number is None:
            return replace(rec, steps=len(steps))
        chosen = steps[number - 1]
        return replace(rec, frames=rec.frames[chosen.frames], step=number, steps=len(steps))
    if number is None:
        _refuse_two_feet(rec, steps)
        number = 1 + max(range(len(steps)), key=lambda i: (steps[i].complete, steps[i].area_cm2))
    chosen = steps[number - 1]
    rows, cols = np.nonzero(chosen.cells)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    frames = np.where(chosen.cells[None], rec.frames[chosen.frames], np.where(np.isnan(rec.frames[chosen.frames]), np.nan, 0.0))
    frames = frames[:, box[0], box[1]]
    origin = (rec.origin[0] + int(cols.min()), rec.origin[1] + int(rows.min()))
    return replace(rec, frames=frames, origin=origin, step=number, steps=len(steps))


def _refuse_two_feet(rec: Recording, steps: list[Step]) -> None:
    for i, a in enumerate(steps):
        for j, b in enumerate(steps[i + 1:], i + 2):
            if _together(a.frames, b.frames):
                raise InputError(
                    f"{rec.source}: two feet on the plate at once (steps {i + 1} and {j} load it together); "
                    f"record one foot per step, or pick one with --step {i + 1} or --step {j}")
