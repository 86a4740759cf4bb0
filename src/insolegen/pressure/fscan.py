"""Tekscan F-Scan ASCII movie (.asf): ``KEY value`` header lines, ``ASCII_DATA @@``, then
``Frame n`` blocks of ROWS lines of COLS comma-separated values, ``B`` for cells outside the
sensor, and a closing ``@@``.

The table, row 1 at the top, shows the insole as seen from above (MIRROR_ROW / MIRROR_COL say
when the software flipped it), so in sensor-grid mm (x = column, y = row) it is its mirror image.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import InputError
from .recording import Recording, kpa_per

_MM = re.compile(r"^\s*([0-9.]+)\s*(mm|cm|in)?", re.I)
_MM_PER = {"mm": 1.0, "cm": 10.0, "in": 25.4}


def _length_mm(path, header: dict, key: str) -> float:
    m = _MM.match(header.get(key, ""))
    if m is None:
        raise InputError(f"{path}: header {key} is missing or not a length; export the movie with its full header")
    return float(m.group(1)) * _MM_PER[(m.group(2) or "mm").lower()]


def _int(path, header: dict, key: str) -> int:
    try:
        return int(header[key].split()[0])
    except (KeyError, ValueError, IndexError):
        raise InputError(f"{path}: header {key} is missing or not a whole number; export the movie with its full header") from None


def parse(path, text: str, sha256: str) -> list[Recording]:
    head, sep, body = text.partition("ASCII_DATA @@")
    if not sep:
        raise InputError(f"{path}: no 'ASCII_DATA @@' line; not a Tekscan ASCII movie (export it as ASCII .asf)")
    header = {}
    for line in head.splitlines():
        key, _, value = line.strip().partition(" ")
        if key.isupper():
            header[key] = value.strip()
    nrows, ncols = _int(path, header, "ROWS"), _int(path, header, "COLS")
    py, px = _length_mm(path, header, "ROW_SPACING"), _length_mm(path, header, "COL_SPACING")
    area = _MM.match(header.get("SENSEL_AREA", ""))
    if area and abs(float(area.group(1)) - px * py) > 0.01 * px * py:
        raise InputError(f"{path}: SENSEL_AREA {header['SENSEL_AREA']} is not ROW_SPACING x COL_SPACING ({px * py:.4g} mm2); the header is inconsistent")
    try:
        frame_s = float(header["SECONDS_PER_FRAME"].split()[0])
    except (KeyError, ValueError, IndexError):
        raise InputError(f"{path}: header SECONDS_PER_FRAME is missing or not a number") from None
    if not header.get("UNITS"):
        raise InputError(f"{path}: header UNITS is missing; export the movie in kPa")
    kpa = kpa_per(header["UNITS"], str(path))
    blocks = re.split(r"^\s*Frame\s+(\d+)\s*$", body, flags=re.M)
    ended = blocks[-1].rstrip().endswith("@@")
    frames = []
    for k, (number, block) in enumerate(zip(blocks[1::2], blocks[2::2])):
        lines = [ln for ln in block.strip().splitlines() if ln.strip() and ln.strip() != "@@"]
        if len(lines) != nrows or any(ln.count(",") != ncols - 1 for ln in lines):
            raise InputError(f"{path}: frame {number} is not {nrows} rows of {ncols} values (ROWS, COLS); the frame is truncated or the header is wrong")
        cells = np.array([ln.strip().split(",") for ln in lines])
        off = cells == "B"
        try:
            grid = np.where(off, "nan", cells).astype(float)
        except ValueError:
            raise InputError(f"{path}: frame {number} holds a value that is neither a number nor B") from None
        frames.append(grid)
    if not frames:
        raise InputError(f"{path}: no 'Frame n' blocks after ASCII_DATA; the movie holds no frames")
    if not ended:
        raise InputError(f"{path}: the movie does not end with '@@' after frame {len(frames)}; the file is truncated")
    if "START_FRAME" in header and "END_FRAME" in header:
        due = _int(path, header, "END_FRAME") - _int(path, header, "START_FRAME") + 1
        if due != len(frames):
            raise InputError(f"{path}: {len(frames)} frames where START_FRAME..END_FRAME promise {due}; the file is truncated or the header is wrong")
    flips = [header.get(key, "0").strip() not in ("0", "") for key in ("MIRROR_ROW", "MIRROR_COL")]
    mirrored = flips[0] != flips[1]  # one flip changes the handedness, two make a half turn
    return [Recording("fscan", "", np.stack(frames) * kpa, frame_s, (px, py), (0, 0), mirrored, None, 1, str(path), sha256)]
