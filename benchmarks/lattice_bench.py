"""Lattice inserts: seconds, peak memory and file sizes of a build to STL (and 3MF) on the built-in
265 mm foot. Cases: the defaults (3 mm base) and a 10 mm base with 20 mm cells, as the issue asks;
then what finer settings cost (10 mm cells on a 10 mm base). Each case in a fresh process, so its
peak memory (ru_maxrss) is its own. Run: python benchmarks/lattice_bench.py"""

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "defaults (3 mm base, 10 mm cells, 25 %)": [],
    "10 mm base, 20 mm cells": ["shell.thickness_mm=10", "lattice.cell_mm=20"],
    "10 mm base, 10 mm cells (finer)": ["shell.thickness_mm=10"],
}


def one(settings: list[str], out: Path) -> None:
    from insolegen import api, build, prescription

    pairs = [s.split("=") for s in ["lattice.type=gyroid", *settings]]
    rx = prescription.resolve(None, {k: prescription.parse_value(v) for k, v in pairs})
    start = time.perf_counter()
    insert = build.build_insert(api.load_outline(None), rx, 1.0)
    built = time.perf_counter() - start
    stl = insert.export(out / "b.stl")
    written = time.perf_counter() - start
    threemf = insert.export(out / "b.3mf")
    print(json.dumps({"build_s": round(built, 1), "build_and_stl_s": round(written, 1),
                      "triangles": len(insert.lattice.faces), "stl_mb": round(stl.stat().st_size / 1e6, 1),
                      "3mf_mb": round(threemf.stat().st_size / 1e6, 1),
                      "peak_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)}))


if __name__ == "__main__":
    if len(sys.argv) > 1:
        one(json.loads(sys.argv[1]), Path(sys.argv[2]))
        sys.exit()
    with tempfile.TemporaryDirectory() as folder:
        for name, settings in CASES.items():
            result = subprocess.run([sys.executable, __file__, json.dumps(settings), folder], capture_output=True, text=True)
            print(f"{name}: {result.stdout.strip() or result.stderr.strip()[-300:]}")
