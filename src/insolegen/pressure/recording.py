"""One foot's pressure frames on a sensor grid, as read from a file."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

# kPa per unit, under the names the exports write (CLINICAL.md: 1 mmHg = 0.1333 kPa, 1 N/cm2 = 10 kPa)
KPA_PER_UNIT = {"kpa": 1.0, "n/cm2": 10.0, "n/cm²": 10.0, "mmhg": 0.133322, "psi": 6.894757, "kg/cm2": 98.0665, "mpa": 1000.0, "bar": 100.0}


MAX_CELLS = 250_000  # sensors on one grid: the largest plates hold ~30 000
MAX_VALUES = 300_000_000  # frames x cells: far beyond an hour of any system, short of exhausting memory


def check_grid(source: str, frames: int, rows: int, cols: int) -> None:
    """InputError when the grid a file describes is beyond any pressure system (before allocating it)."""
    if rows * cols > MAX_CELLS or frames * rows * cols > MAX_VALUES:
        raise InputError(f"{source}: a grid of {rows} x {cols} sensors over {frames} frames is beyond any pressure system; check the file's row and column numbers")


def kpa_per(unit: str, source: str) -> float:
    """kPa per one of the file's pressure units; InputError for a unit not known."""
    factor = KPA_PER_UNIT.get(unit.strip().lower().replace(" ", ""))
    if factor is None:
        raise InputError(f"{source}: pressure unit '{unit.strip()}' is not known; export in kPa, N/cm2 or mmHg")
    return factor


@dataclass(frozen=True)
class Recording:
    """One foot's pressure recording on a regular sensor grid.

    system: ``"emed"``, ``"pliance"``, ``"fscan"`` or ``"xsensor"``.
    side: ``"left"`` or ``"right"`` (from the header where it says so, else from the load's shape).
    frames: (k, rows, cols) float, kPa; NaN where there is no sensor (F-Scan ``B`` cells, cells an
        XSENSOR or pliance grid lacks), 0 where a sensor read no load.
    frame_s: time between frames, s.
    pitch_mm: (px, py), sensor spacing along columns (x) and rows (y), mm.
    origin: (column, row) numbers of cell ``[:, 0, 0]`` as the file numbers them (emed prints its
        plate's numbers; others 0). Sensor-grid millimetres (SPEC): the centre of cell ``[:, i, j]``
        is ((origin[0] + j) * px, (origin[1] + i) * py, 0).
    seen_from_above: whether the sensor-grid frame (x right, y up) shows the sole as seen from
        above; False when it is its mirror image (the emed table printed row 1 at the top).
    step: 1-based number of the step kept (a plate with several; in-shoe: the stance phase asked
        for), None when the whole recording is kept.
    steps: how many steps (stance phases) the file holds.
    source, sha256: the file and its hash.
    """

    system: str
    side: str
    frames: np.ndarray
    frame_s: float
    pitch_mm: tuple[float, float]
    origin: tuple[int, int]
    seen_from_above: bool
    step: int | None
    steps: int
    source: str
    sha256: str

    @property
    def cell_area_mm2(self) -> float:
        return float(self.pitch_mm[0] * self.pitch_mm[1])

    def centres_mm(self) -> np.ndarray:
        """(rows, cols, 2) float, mm: each cell's centre in sensor-grid millimetres."""
        rows, cols = self.frames.shape[1:]
        j, i = np.meshgrid(np.arange(cols), np.arange(rows))
        return np.stack([(self.origin[0] + j) * self.pitch_mm[0], (self.origin[1] + i) * self.pitch_mm[1]], axis=-1).astype(float)
