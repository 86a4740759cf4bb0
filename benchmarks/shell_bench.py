"""Functional shells (`device.type=shell`): build seconds, printed (no timed tests).

1. The built-in outline at 1 mm: a full-length shell, and the usual device (the bundled
   polypropylene_shell_4_4: a 3/4 shell on a 4/4 extrinsic post). Target: under 0.3 s.
2. A 100k-vertex scan (the techmed plantar sheet subdivided) to a shell at 1 mm, from reading the
   file to the mesh (the same steps as scan_build_bench.py's). Target: under 1 s.
Each: the best and the median of WARM_RUNS warm runs (wall clock), after a cold one.

Run: .venv/bin/python benchmarks/shell_bench.py   (part 2 needs ../shared/data/scans)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from scan_build_bench import SCAN, subdivided

WARM_RUNS = 7


def timed(label: str, work) -> None:
    walls = []
    for _ in range(1 + WARM_RUNS):
        start = time.perf_counter()
        work()
        walls.append(time.perf_counter() - start)
    print(f"{label}: cold {walls[0]:.3f} s; warm best / median {min(walls[1:]):.3f} / {np.median(walls[1:]):.3f} s")


def main() -> None:
    from insolegen import api, build, prescription, template

    outline = template.builtin()
    full = prescription.validate({"device": {"type": "shell"}})
    usual = prescription.resolve("polypropylene_shell_4_4")
    timed("full-length shell, built-in outline, 1 mm", lambda: build.build_insert(outline, full, 1.0))
    timed("3/4 shell on a 4/4 extrinsic post, 1 mm", lambda: build.build_insert(outline, usual, 1.0))
    if not SCAN.is_file():
        print("no ../shared/data/scans: the scan figure is skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        small = subdivided(190_000)
        path = Path(tmp) / "scan-100k.ply"
        small.export(path)
        label = f"{len(small.vertices):,}-vertex scan to a full shell at 1 mm (read, pose, cast, shell)"
        timed(label, lambda: api.build(api.load_scan(path), full, resolution=1.0))


if __name__ == "__main__":
    main()
