"""Scan builds (read, pose, cast, mesh, STL): seconds and peak memory, printed (no timed tests).
benchmarks/scan_bench.py times reading and posing alone.

1. A 100k-vertex scan (the techmed plantar sheet subdivided) to STL at 1 mm: cold (first run), then
   warm (the best and the median of WARM_RUNS more, wall clock; and the least CPU time).
2. A scan of over 2 million faces (the same, subdivided further: 3.3 million) to STL at 1 mm, in
   a fresh process: seconds and peak resident memory (VmHWM).

Run: .venv/bin/python benchmarks/scan_build_bench.py   (needs ../shared/data/scans)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh

WARM_RUNS = 5  # a busy machine slows single runs: the best of several is the machine's own figure
SCAN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scans" / "techmed3d_right_plantar.obj"


def subdivided(faces_wanted: int) -> trimesh.Trimesh:
    mesh = trimesh.load(SCAN, process=False, force="mesh")
    vertices, faces = mesh.vertices, mesh.faces
    while len(faces) < faces_wanted:
        vertices, faces = trimesh.remesh.subdivide(vertices, faces)
    return trimesh.Trimesh(vertices, faces, process=False)


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_build(scan: str, out: str) -> None:
    """Child process: build once, print seconds and peak MB."""
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts here
    from insolegen.cli import main

    start = time.perf_counter()
    code = main(["build", "-q", "--scan", scan, "--resolution", "1", "-o", out])
    print(f"{time.perf_counter() - start:.2f} s, peak {peak_mb():.0f} MB, exit {code}")


def main() -> None:
    from insolegen import api, prescription

    with tempfile.TemporaryDirectory() as tmp:
        small = subdivided(190_000)
        path = Path(tmp) / "scan-100k.ply"
        small.export(path)
        rx = prescription.Prescription()
        walls, cpus = [], []
        for _ in range(1 + WARM_RUNS):  # the first run is cold (imports, caches)
            start, cpu = time.perf_counter(), time.process_time()
            insert = api.build(api.load_scan(path), rx, resolution=1.0)
            api.write(insert, Path(tmp) / "insert.stl")
            walls.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        print(f"{len(small.vertices):,} vertices, {len(small.faces):,} faces -> STL at 1 mm, cold: {walls[0]:.2f} s; "
              f"warm (best / median of {WARM_RUNS}): {min(walls[1:]):.2f} / {np.median(walls[1:]):.2f} s, "
              f"CPU {min(cpus[1:]):.2f} s")
        big = subdivided(2_000_000)
        path = Path(tmp) / "scan-2m.stl"
        big.export(path)
        print(f"{len(big.vertices):,} vertices, {len(big.faces):,} faces (binary STL, {path.stat().st_size / 2**20:.0f} MB) -> STL at 1 mm: ",
              end="", flush=True)
        subprocess.run([sys.executable, __file__, "--child", str(path), str(Path(tmp) / "big.stl")], check=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        one_build(sys.argv[2], sys.argv[3])
    else:
        main()
