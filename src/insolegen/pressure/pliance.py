"""novel pliance ASCII export (.asc): a header (``time per frame [secs]``, ``pressure values in
kPa``), a table of frames (``time[secs]`` then one column per sensor number), the MPP/MVP lines,
a force table (time, force [N], centre of pressure) and each sensor's corners and centre in cm.

Sensors are placed on the grid their centres span (x: columns, y: rows, mat coordinates, seen
from above); grid cells without a sensor are NaN.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import InputError
from .recording import Recording, check_grid, kpa_per

_FRAME_TIME = re.compile(r"time per frame \[secs\]:\s*([0-9.]+)")
_UNITS = re.compile(r"pressure values in\s+(\S+)")


def _floats(path, cells: list[str], what: str) -> np.ndarray:
    try:
        return np.array(cells, dtype=float)
    except ValueError:
        raise InputError(f"{path}: {what} holds a value that is not a number") from None


def parse(path, text: str, sha256: str) -> list[Recording]:
    frame_time, units = _FRAME_TIME.search(text), _UNITS.search(text)
    if frame_time is None or units is None:
        raise InputError(f"{path}: no 'time per frame [secs]' or 'pressure values in' line; not a novel pliance export")
    kpa = kpa_per(units.group(1), str(path))
    lines = [ln.split() for ln in text.splitlines()]
    start = next((i for i, c in enumerate(lines) if len(c) > 1 and c[0] == "time[secs]" and c[1].isdigit()), None)
    if start is None:
        raise InputError(f"{path}: no frame table ('time[secs]' followed by sensor numbers); export the pressure frames")
    numbers = lines[start][1:]
    times, values = [], []
    i = start + 1
    while i < len(lines) and lines[i] and lines[i][0][0].isdigit():
        if len(lines[i]) != len(numbers) + 1:
            raise InputError(f"{path}: line {i + 1}: a frame of {len(lines[i]) - 1} sensors, not {len(numbers)}; the frame is truncated")
        row = _floats(path, lines[i], f"line {i + 1}")
        times.append(row[0])
        values.append(row[1:])
        i += 1
    if not values:
        raise InputError(f"{path}: the frame table holds no frames")
    geometry = {c[0]: c[1:] for c in lines[i:] if c and c[0] in ("sensor", "x[0]", "x[2]", "y[0]", "y[1]", "x[c]", "y[c]", "area")}
    if any(key not in geometry for key in ("sensor", "x[c]", "y[c]", "x[0]", "x[2]", "y[0]", "y[1]", "area")):
        raise InputError(f"{path}: the sensor table (sensor, corner[cm], x[c], y[c], area) is missing or cut short; the file is truncated")
    if geometry["sensor"] != numbers or any(len(v) != len(numbers) for v in geometry.values()):
        raise InputError(f"{path}: the sensor table does not list the frame table's {len(numbers)} sensors; the file is truncated or inconsistent")
    xc, yc = (_floats(path, geometry[k], k) * 10.0 for k in ("x[c]", "y[c]"))
    px = float(np.median(np.abs(_floats(path, geometry["x[2]"], "x[2]") - _floats(path, geometry["x[0]"], "x[0]")))) * 10.0
    py = float(np.median(np.abs(_floats(path, geometry["y[0]"], "y[0]") - _floats(path, geometry["y[1]"], "y[1]")))) * 10.0
    area = _floats(path, geometry["area"], "area") * 100.0
    if px <= 0 or py <= 0 or np.any(np.abs(area - px * py) > 0.01 * px * py):
        raise InputError(f"{path}: sensor areas are not width x height ({px:.3g} x {py:.3g} mm); the sensor table is inconsistent")
    cols, rows = np.rint((xc - xc.min()) / px).astype(int), np.rint((yc - yc.min()) / py).astype(int)
    if np.abs(cols * px + xc.min() - xc).max() > 0.1 * px or np.abs(rows * py + yc.min() - yc).max() > 0.1 * py:
        raise InputError(f"{path}: the sensors do not lie on a regular grid of {px:.3g} x {py:.3g} mm; this mat layout is not supported")
    check_grid(str(path), len(values), int(rows.max()) + 1, int(cols.max()) + 1)
    grid = np.full((len(values), rows.max() + 1, cols.max() + 1), np.nan)
    grid[:, rows, cols] = np.asarray(values) * kpa
    _check_forces(path, lines, np.asarray(times), grid, px * py)
    frame_s = float(frame_time.group(1))
    return [Recording("pliance", "", grid, frame_s, (px, py), (0, 0), True, None, 1, str(path), sha256)]


def _check_forces(path, lines: list[list[str]], times: np.ndarray, grid: np.ndarray, cell_mm2: float) -> None:
    """The force table (N), where present, must be the frames' pressure times sensor area."""
    table = {}
    for c in lines:
        if len(c) == 4 and c[0][0].isdigit():
            try:
                table[round(float(c[0]), 3)] = float(c[1])
            except ValueError:
                continue
    force = np.nansum(grid, axis=(1, 2)) * cell_mm2 * 1e-3
    listed = np.array([table.get(round(float(t), 3), np.nan) for t in times])
    known = ~np.isnan(listed)
    if known.any() and np.max(np.abs(force[known] - listed[known])) > 0.01 * max(listed.max(), 1.0):
        raise InputError(f"{path}: the force table disagrees with the frames' pressure x sensor area; the units or the sensor table are wrong")
