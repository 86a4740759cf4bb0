"""Speed of `insolegen cam` on this machine; prints a table (no assertions).

    python benchmarks/cam_bench.py

For a full-length insert (the built-in outline, 265 mm) meshed at 1 mm and 0.5 mm: the finishing
toolpath alone (a 6 mm ball, 1 mm stepover: drop-cutter, half-way rows, adaptive sampling), the
roughing toolpath, and the whole program (both passes, G-code text and report with its least
clearance check). Each figure is the best of a few runs.
"""

from __future__ import annotations

import time

import numpy as np

from insolegen import api
from insolegen.fabrication import mill
from insolegen.fabrication.dropcutter import Cutter, DropCutter

REPEATS = 2


def best(work) -> tuple[float, object]:
    times, out = [], None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        out = work()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    print(f"{'mesh':>8} {'faces':>8} {'finish s':>9} {'rows':>6} {'samples':>8} {'rough s':>8} {'program s':>10} {'G-code lines':>13}")
    for resolution in (1.0, 0.5):
        insert = api.build(resolution=resolution)
        v, f = insert.vertices, insert.faces
        opt = mill.MillOptions().checked(float(v[:, 2].max()))
        low, high = v.min(axis=0), v.max(axis=0)
        d = opt.tool_diameter_mm
        stock = np.array([[low[0] - d, low[1] - d, 0.0], [high[0] + d, high[1] + d, opt.stock_top_mm]])

        def finish():
            return mill._finishing(DropCutter(v, f, Cutter("ball", d)), opt, stock, low, high, 2)

        def rough():
            return mill._roughing(DropCutter(v, f, Cutter(opt.tool, d)), opt, stock)

        t_finish, path = best(finish)
        t_rough, _ = best(rough)
        t_program, (text, _) = best(lambda: mill.mill_program(v, f))
        rows = len({round(float(p[0, 1]), 3) for kind, p in path.moves if kind == "cut"})
        samples = sum(len(p) for kind, p in path.moves if kind == "cut")
        print(f"{resolution:>6g}mm {len(f):>8d} {t_finish:>9.2f} {rows:>6d} {samples:>8d} {t_rough:>8.2f} {t_program:>10.2f} "
              f"{text.count(chr(10)):>13d}")


if __name__ == "__main__":
    main()
