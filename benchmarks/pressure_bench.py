"""Pressure: each shared recording read and analysed (SPEC: a 100-frame recording in under 0.5 s);
best of 5 runs, frames per recording shown."""

import sys
import time
from pathlib import Path

from insolegen import pressure

DATA = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pressure")
for name in ("emed_test.lst", "pliance_test.asc", "fscan_testL.asf", "xsensor_data.csv"):
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        rec = pressure.read(DATA / name)
        pressure.analyse(rec)
        best = min(best, time.perf_counter() - start)
    print(f"{name:18s} {rec.system:8s} {rec.frames.shape[0]:4d} frames of {rec.frames.shape[1]}x{rec.frames.shape[2]}: "
          f"read + analysed in {best:.3f} s ({best / rec.frames.shape[0] * 100:.3f} s per 100 frames)")
