"""novel emed plate ASCII export (.lst): one page per frame ("Pict-No.: n"), each holding only the
loaded rows and columns with the plate's own row and column numbers and a Force column.

The printed table, row 1 at the top, shows the sole as seen from above; in sensor-grid mm
(x = column, y = row) it is therefore the mirror image (``seen_from_above=False``).
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import InputError
from .recording import Recording, check_grid

_SIZE = re.compile(r"Sensor size:\s*([0-9.,]+)\s*x\s*([0-9.,]+)\s*(mm|cm)")
_AREA = re.compile(r"Sensor area:\s*([0-9.,]+)\s*(mm|cm)")
_MATRIX = re.compile(r"Matrix:\s*(\d+)\s*x\s*(\d+)")
_TIME = re.compile(r"Time/picture:\s*([0-9.,]+)\s*ms")
_PICT = re.compile(r"Pict-No\.:\s*(\d+)")


def _num(text: str) -> float:
    return float(text.replace(",", "."))  # German installations write decimal commas


def _header(path, text: str, rx: re.Pattern, what: str):
    m = rx.search(text)
    if m is None:
        raise InputError(f"{path}: not a complete novel emed export (no '{what}' line); export the plate as ASCII .lst")
    return m


def parse(path, text: str, sha256: str) -> list[Recording]:
    """The plate's frames as one Recording (side not yet known: '')."""
    size = _header(path, text, _SIZE, "Sensor size: AxB cm")
    unit = 10.0 if size.group(3) == "cm" else 1.0
    px, py = _num(size.group(1)) * unit, _num(size.group(2)) * unit
    area = _header(path, text, _AREA, "Sensor area: A cm2")
    area_mm2 = _num(area.group(1)) * (100.0 if area.group(2) == "cm" else 1.0)
    if abs(area_mm2 - px * py) > 0.01 * px * py:
        raise InputError(f"{path}: the header's sensor area {area_mm2:g} mm2 is not its sensor size {px:g} x {py:g} mm; the header is inconsistent")
    ncols, nrows = (int(g) for g in _header(path, text, _MATRIX, "Matrix: CxR").groups())
    frame_s = _num(_header(path, text, _TIME, "Time/picture: T ms").group(1)) / 1000.0
    pages = []  # (columns, rows, values (r, c), row forces (r,), column forces (c,), total force)
    columns, rows, values, forces = None, [], [], []
    number = 0
    for lineno, line in enumerate(text.splitlines(), 1):
        cells = line.split()
        if not cells:
            continue
        pict = _PICT.search(line)
        if pict:
            number += 1
            if int(pict.group(1)) != number:
                raise InputError(f"{path}: line {lineno}: picture {pict.group(1)} where picture {number} was due; the export is cut or shuffled")
            if columns is not None:
                raise InputError(f"{path}: line {lineno}: picture {number - 1} ends without its Force row; the export is truncated")
            columns = []
        elif columns == [] and cells[-1] == "Force" and all(c.isdigit() for c in cells[:-1]):
            columns = [int(c) for c in cells[:-1]]
        elif columns and cells[0].isdigit():
            if len(cells) != len(columns) + 2:
                raise InputError(f"{path}: line {lineno}: row {cells[0]} of picture {number} holds {len(cells) - 1} numbers, not {len(columns) + 1}; the frame is truncated")
            try:
                numbers = [_num(c) for c in cells[1:]]
            except ValueError:
                raise InputError(f"{path}: line {lineno}: row {cells[0]} of picture {number} holds a value that is not a number") from None
            rows.append(int(cells[0]))
            values.append(numbers[:-1])
            forces.append(numbers[-1])
        elif columns and cells[0] == "Force":
            if len(cells) != len(columns) + 2 or not rows:
                raise InputError(f"{path}: line {lineno}: the Force row of picture {number} is incomplete; the frame is truncated")
            pages.append((columns, rows, np.array(values, dtype=float), np.array(forces), _num(cells[-1])))
            columns, rows, values, forces = None, [], [], []
    if columns is not None:
        raise InputError(f"{path}: picture {number} ends without its Force row; the export is truncated")
    if not pages:
        raise InputError(f"{path}: no pictures ('Pict-No.' pages) in this emed export; export the measurement's pictures as ASCII")
    all_cols = sorted({c for p in pages for c in p[0]})
    all_rows = sorted({r for p in pages for r in p[1]})
    if all_cols[0] < 1 or all_cols[-1] > ncols or all_rows[0] < 1 or all_rows[-1] > nrows:
        raise InputError(f"{path}: sensors at columns {all_cols[0]}-{all_cols[-1]}, rows {all_rows[0]}-{all_rows[-1]} lie outside the header's {ncols}x{nrows} matrix; the header is inconsistent")
    c0, r0 = all_cols[0], all_rows[0]
    check_grid(str(path), len(pages), all_rows[-1] - r0 + 1, all_cols[-1] - c0 + 1)
    frames = np.zeros((len(pages), all_rows[-1] - r0 + 1, all_cols[-1] - c0 + 1))
    total_sum = total_force = 0.0
    for k, (cols, rws, vals, _, total) in enumerate(pages):
        frames[k][np.ix_(np.asarray(rws) - r0, np.asarray(cols) - c0)] = vals
        total_sum, total_force = total_sum + vals.sum(), total_force + total
    kpa = _pressure_unit(path, total_sum * area_mm2, total_force)
    return [Recording("emed", "", frames * kpa, frame_s, (px, py), (c0, r0), False, None, 1, str(path), sha256)]


def _pressure_unit(path, sum_times_area_mm2: float, force_n: float) -> float:
    """kPa per printed unit, from the Force column (sum x sensor area): the export prints kPa
    (force = sum x area x 0.001 N per kPa mm2) or N/cm2 (x 0.01); anything else means the header's
    sensor size is not the one the forces were computed with."""
    if force_n <= 0:
        raise InputError(f"{path}: no sensor saw pressure in any picture; give the export of a step on the plate")
    for kpa, n_per_unit_mm2 in ((1.0, 1e-3), (10.0, 1e-2)):
        if abs(sum_times_area_mm2 * n_per_unit_mm2 - force_n) <= 0.005 * force_n:
            return kpa
    raise InputError(f"{path}: the Force column ({force_n:.1f} N in all) is not the pressures' sum times the header's sensor area; the header is inconsistent")
