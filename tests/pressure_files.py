"""Pressure recordings written by tests: the shared recordings' grids as their parsers read them,
and writers of each format, for copies mirrored into the other foot, turned on the plate, cut or
given headers that lie (tests/test_pressure.py, tests/test_pressure_design.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import FEET
from insolegen.pressure import emed, fscan, pliance, xsensor

DATA = FEET.parent / "pressure"
FILES = {"emed": "emed_test.lst", "pliance": "pliance_test.asc", "fscan": "fscan_testL.asf", "xsensor": "xsensor_data.csv"}
MMHG_KPA = 0.133322


def _raw(system: str):
    """The file's full grid(s), as its parser reads them (before steps and sides)."""
    path = DATA / FILES[system]
    module = {"emed": emed, "pliance": pliance, "fscan": fscan, "xsensor": xsensor}[system]
    return module.parse(path, path.read_bytes().decode("utf-8-sig" if system == "xsensor" else "latin-1"), "")


def write_emed(path: Path, frames: np.ndarray, origin=(1, 1), matrix=(64, 95), size="0.500x0.500", area="0.25") -> Path:
    k, nr, nc = frames.shape
    out = []
    for i, f in enumerate(frames, 1):
        out += [f"\t\t\t\tPage {i}", "", f"\tFile: copy.dat \tMatrix: {matrix[0]}x{matrix[1]} ",
                f"\tSensor area: {area} cm\xb2\tTime/picture:10.0 ms", f"\tSensor size: {size} cm",
                f"\tPict-No.: {i}  Force[N]=sum*sensor_area in row/column", "",
                "\t" + "\t".join(str(origin[0] + j) for j in range(nc)) + "\tForce"]
        out += [f"{origin[1] + r}\t" + "\t".join(f"{v:.2f}" for v in f[r]) + f"\t{f[r].sum() * 0.025:.2f}" for r in range(nr)]
        out += ["Force\t" + "\t".join(f"{v:.2f}" for v in f.sum(axis=0) * 0.025) + f"\t{f.sum() * 0.025:.2f}", "\f"]
    path.write_bytes("\n".join(out).encode("latin-1"))
    return path


def write_fscan(path: Path, frames: np.ndarray, **header) -> Path:
    k, nr, nc = frames.shape
    head = {"ROWS": nr, "COLS": nc, "ROW_SPACING": "5.08 mm", "COL_SPACING": "5.08 mm", "SENSEL_AREA": "25.8064 mm2",
            "SECONDS_PER_FRAME": 0.032, "START_FRAME": 1, "END_FRAME": k, "UNITS": "KPa", "MIRROR_ROW": 0, "MIRROR_COL": 0} | header
    out = ["DATA_TYPE MOVIE", *(f"{key} {v}" for key, v in head.items()), "ASCII_DATA @@", ""]
    for i, f in enumerate(frames, 1):
        out += [f"Frame {i}", *(",".join("B" if np.isnan(v) else f"{v:g}" for v in row) for row in f), ""]
    path.write_text("\n".join(out) + "@@\n")
    return path


def write_xsensor(path: Path, insoles: dict[str, np.ndarray], pitch_cm: float = 0.86) -> Path:
    """insoles: {"LF"/"RF": (k, r, c) kPa}, written in mmHg."""
    k = len(next(iter(insoles.values())))
    out = ["File:,copy.XSN", "Units:,mmHg"]
    for i in range(k):
        out += [f"FRAME,{i + 1}", f"Time, 08:21:{17 + i * 0.013:06.3f}"]
        for name, frames in insoles.items():
            g = frames[i] / MMHG_KPA
            out += [f"SENSOR,HX210.11.31.M11-DFM-{name} S0073", f"Rows,{g.shape[0]}", f"Columns,{g.shape[1]}",
                    f"Sensel Width (cm),{pitch_cm}", f"Sensel Height (cm),{pitch_cm}", f"Peak Pressure (mmHg),{g.max():.4f}", "SENSELS",
                    *(",".join(f"{v:.4f}" for v in row) for row in g)]
    path.write_text("\n".join(out) + "\n")
    return path


def write_pliance(path: Path, frames: np.ndarray, px: float, py: float) -> Path:
    k, nr, nc = frames.shape
    cells = [(i, j) for i in range(nr) for j in range(nc) if not np.isnan(frames[0, i, j])]
    out = ["file name: copy.mat", "mat type s2160_001", "total times [secs]: 1 time per frame [secs]: 0.04167 scanning rate [Hz]: 24",
           "pressure values in kPa", "", "time[secs] " + " ".join(str(n + 1) for n in range(len(cells)))]
    out += [f"{(t + 1) * 0.04167:.5f} " + " ".join(f"{frames[t, i, j]:.3f}" for i, j in cells) for t in range(k)]
    out += ["", "sensor " + " ".join(str(n + 1) for n in range(len(cells))), "corner[cm]"]
    for key, fn in (("x[0]", lambda i, j: j * px), ("y[0]", lambda i, j: (i + 1) * py), ("x[1]", lambda i, j: j * px), ("y[1]", lambda i, j: i * py),
                    ("x[2]", lambda i, j: (j + 1) * px), ("y[2]", lambda i, j: i * py), ("x[c]", lambda i, j: (j + 0.5) * px), ("y[c]", lambda i, j: (i + 0.5) * py),
                    ("area", lambda i, j: px * py / 10)):
        out.append(key + " " + " ".join(f"{fn(i, j) / 10:.4f}" for i, j in cells))
    path.write_text("\n".join(out) + "\n")
    return path


def transformed(system: str, kind: str, folder: Path) -> Path:
    """The recording mirrored into the other foot, or turned (a quarter turn on a plate; in a shoe,
    the insole written heel first)."""
    recs = _raw(system)
    flip = (lambda f: f[:, :, ::-1]) if kind == "mirrored" else ((lambda f: np.rot90(f, axes=(1, 2))) if system in ("emed", "pliance") else (lambda f: f[:, ::-1, ::-1]))
    path = folder / f"{kind}{Path(FILES[system]).suffix}"
    if system == "emed":
        f = flip(recs[0].frames)
        return write_emed(path, f, (5, 5), (95, 95))
    if system == "fscan":
        return write_fscan(path, flip(recs[0].frames))
    if system == "pliance":
        px, py = recs[0].pitch_mm
        return write_pliance(path, flip(recs[0].frames), *((py, px) if kind == "turned" else (px, py)))
    names = {"left": "LF", "right": "RF"}
    if kind == "mirrored":
        names = {"left": "RF", "right": "LF"}
    return write_xsensor(path, {names[r.side]: flip(r.frames) for r in recs})
