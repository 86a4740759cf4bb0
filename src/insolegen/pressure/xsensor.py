"""XSENSOR Foot & Gait CSV export: a file header (``Units:``), then per frame ``FRAME,n``,
``Time, hh:mm:ss.fff`` and per sensor ``SENSOR,name`` (``...-LF`` / ``...-RF``), ``Rows``,
``Columns``, ``Sensel Width (cm)``, ``Sensel Height (cm)``, statistics, ``SENSELS`` and the rows;
then ``GROUP`` blocks (the software's region masks), which are not read.

The table, row 1 at the toes, shows the insole as seen from above, so in sensor-grid mm
(x = column, y = row) it is its mirror image. Each insole of a pair is one Recording.
"""

from __future__ import annotations

import csv
import re

import numpy as np

from ..errors import InputError
from .recording import Recording, kpa_per

_SIDE = {"LF": "left", "RF": "right"}
_SIDE_IN_NAME = re.compile(r"-(LF|RF)\b")


def _time_s(path, text: str) -> float:
    try:
        h, m, s = text.strip().split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        raise InputError(f"{path}: frame time {text.strip()!r} is not hh:mm:ss.sss") from None


def parse(path, text: str, sha256: str) -> list[Recording]:
    rows = [_cells(line) for line in text.splitlines() if line.rstrip(", \t\r")]
    units = next((r[1] for r in rows if r[0] == "Units:" and len(r) > 1), None)
    if units is None:
        raise InputError(f"{path}: no 'Units:' line; not an XSENSOR export (export the recording as CSV with its header)")
    kpa = kpa_per(units, str(path))
    sensors: dict[str, dict] = {}  # name -> {"frames": [...], "pitch": (px, py), "shape": (r, c)}
    times: list[float] = []
    i, frame_no, sensor, info = 0, None, None, {}
    starts = []  # the row where each frame begins: every frame spans as many rows
    while i < len(rows):
        key = rows[i][0]
        value = rows[i][1] if len(rows[i]) > 1 else ""
        if key == "FRAME":
            frame_no = value
            starts.append(i)
        elif key == "Time" and frame_no is not None:
            times.append(_time_s(path, value))
        elif key == "SENSOR":
            sensor, info = value, {}
        elif key == "GROUP":  # the software's own region masks, each with a sub-grid: skipped
            sensor = None
        elif sensor is not None and key in ("Rows", "Columns", "Sensel Width (cm)", "Sensel Height (cm)", "Peak Pressure (" + units + ")"):
            try:
                info[key] = float(value)
            except ValueError:
                raise InputError(f"{path}: frame {frame_no}, sensor {sensor}: {key} is {value!r}, not a number") from None
        elif key == "SENSELS" and sensor is not None:
            n, m = int(info.get("Rows", 0)), int(info.get("Columns", 0))
            block = rows[i + 1: i + 1 + n]
            if n < 1 or m < 1 or len(block) < n or any(len(r) != m or not _numeric(r) for r in block):
                raise InputError(f"{path}: frame {frame_no}, sensor {sensor}: not {n} rows of {m} numbers (Rows, Columns); the frame is truncated or the header is wrong")
            grid = np.array(block, dtype=float)
            peak = info.get("Peak Pressure (" + units + ")")
            if peak is not None and grid.size and abs(grid.max() - peak) > 0.01 + 1e-4 * peak and grid.max() > 0:
                raise InputError(f"{path}: frame {frame_no}, sensor {sensor}: Peak Pressure {peak:g} in the header, {grid.max():g} in the cells; the header is inconsistent")
            entry = sensors.setdefault(sensor, {"frames": [], "pitch": (info.get("Sensel Width (cm)", 0) * 10, info.get("Sensel Height (cm)", 0) * 10), "shape": (n, m)})
            if entry["shape"] != (n, m):
                raise InputError(f"{path}: frame {frame_no}, sensor {sensor}: {n} x {m} sensels where earlier frames had {entry['shape'][0]} x {entry['shape'][1]}")
            entry["frames"].append(grid)
            i += n
        i += 1
    if not sensors:
        raise InputError(f"{path}: no 'SENSELS' blocks; the XSENSOR export holds no frames")
    counts = {len(e["frames"]) for e in sensors.values()}
    if len(counts) != 1 or counts != {len(times)}:
        raise InputError(f"{path}: the last frame is incomplete ({len(times)} frames, {', '.join(str(len(e['frames'])) for e in sensors.values())} sensor blocks); the file is truncated")
    spans = np.diff([*starts, len(rows)])
    if len(spans) > 1 and spans[-1] < spans[:-1].min():
        raise InputError(f"{path}: frame {frame_no} stops after {spans[-1]} of its {spans[:-1].min()} lines; the file is truncated")
    steps = np.diff(times)
    frame_s = float(np.median(steps)) if len(steps) else 0.0
    recordings = []
    for name, entry in sensors.items():
        px, py = entry["pitch"]
        if px <= 0 or py <= 0:
            raise InputError(f"{path}: sensor {name} has no Sensel Width/Height; export with the sensor header")
        side = _SIDE_IN_NAME.search(name)
        recordings.append(Recording("xsensor", _SIDE[side.group(1)] if side else "", np.stack(entry["frames"]) * kpa, frame_s, (px, py), (0, 0), False, None, 1, str(path), sha256))
    return recordings


def _cells(line: str) -> list[str]:
    """A CSV line's cells without the empty ones that pad it to the widest row."""
    line = line.rstrip(", \t\r")
    cells = next(csv.reader([line])) if '"' in line else line.split(",")  # quotes only on the File: line
    return [c.strip() for c in cells]


def _numeric(row: list[str]) -> bool:
    try:
        [float(c) for c in row]
    except ValueError:
        return False
    return True
