"""Scan builds: seconds and peak memory, printed (no timed tests).

1. A 100k-vertex scan (the techmed plantar sheet subdivided) to STL at 1 mm, warm (second run).
2. A 2-million-face scan (the same, subdivided further) to STL at 1 mm, in a fresh process:
   seconds and peak resident memory (VmHWM).

Run: .venv/bin/python benchmarks/scan_bench.py   (needs ../shared/data/scans)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh

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
        for label in ("cold", "warm"):
            start = time.perf_counter()
            insert = api.build(api.load_scan(path), rx, resolution=1.0)
            api.write(insert, Path(tmp) / "insert.stl")
            print(f"{len(small.vertices):,} vertices, {len(small.faces):,} faces -> STL at 1 mm, {label}: "
                  f"{time.perf_counter() - start:.2f} s")
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
