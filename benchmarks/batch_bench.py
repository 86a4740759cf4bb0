"""Batch throughput as a user gets it: `insolegen batch MANIFEST` run from the command line on a
120-row manifest (1.0 mm, built-in outline, varied arch and side), wall clock from starting the
command to its exit: process start, imports, worker start, every row's mesh and report, the summary.

    python benchmarks/batch_bench.py [--runs 5] [--rows 120] [--jobs N]

Prints each run's inserts/s and CPU seconds (the command and its workers), then the best and
median: on a machine shared with other work the best is the nearest to an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def command() -> list[str]:
    """The `insolegen` console script of this Python's environment."""
    script = Path(sys.executable).with_name("insolegen")
    return [str(script)] if script.is_file() else [shutil.which("insolegen") or "insolegen"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=120)
    parser.add_argument("--jobs", type=int, help="--jobs of the command [default: its own, one per core]")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="insolegen-batch-bench-"))
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"id": f"b{i}", "arch.height_mm": 6 + i % 9, "side": "left" if i % 2 else "right"}) + "\n"
                                for i in range(args.rows)))
    rates, cpus = [], []
    try:
        for run in range(args.runs):
            out = folder / f"out{run}"  # a fresh folder: every row is built, none skipped
            cmd = [*command(), "batch", str(manifest), "-o", str(out)] + (["--jobs", str(args.jobs)] if args.jobs else [])
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            built = len(list(out.glob("*.report.json")))
            if built != args.rows:
                sys.exit(f"run {run + 1}: {built} of {args.rows} rows built")
            rates.append(args.rows / seconds)
            cpus.append(cpu)
            print(f"run {run + 1}: {args.rows} inserts in {seconds:.2f} s = {rates[-1]:.1f} inserts/s; "
                  f"CPU {cpu:.2f} s ({1000 * cpu / args.rows:.0f} ms an insert)", flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"insolegen batch, {args.rows} rows at 1.0 mm on {os.cpu_count()} cores: best {max(rates):.1f} inserts/s, "
          f"median {statistics.median(rates):.1f} (target >= 25); CPU median {statistics.median(cpus):.2f} s, "
          f"best {min(cpus):.2f} s")


if __name__ == "__main__":
    main()
