"""Speed and memory of insolegen on this machine; prints a table (no assertions).

    python benchmarks/bench.py

Warm: per insert in one process (build = outline -> mesh; +export = binary STL bytes;
+report = QA measured on the mesh; report/build = the report's own cost over build + STL, the
issue-20 figure: at most 0.5 means the report adds at most half). Cold: the whole `insolegen build` command, import
included. Peak memory: peak resident set (VmHWM) of a `insolegen build` process at each
resolution. Stages: one warm build timed step by step.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from insolegen import api, export

RESOLUTIONS = (1.0, 0.5, 0.25)
# VmHWM (peak resident set of this process image), not ru_maxrss: after fork + exec Linux
# reports the larger of the child's peak and the parent's size at the fork.
PEAK_RSS = (
    "import sys; from insolegen.cli import main; main(sys.argv[1:]); "
    "print(next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM')))"
)


def warm(resolution: float, repeats: int) -> tuple[float, float, float, int]:
    build, export_s, qa = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        insert = api.build(resolution=resolution, settings={"met_pad.enabled": True, "heel_lift.height_mm": 6.0})
        t1 = time.perf_counter()
        export.encode(".stl", insert.vertices, insert.faces)
        t2 = time.perf_counter()
        insert.qa()
        t3 = time.perf_counter()
        build.append(t1 - t0)
        export_s.append(t2 - t0)
        qa.append(t3 - t0)
    return statistics.median(build), statistics.median(export_s), statistics.median(qa), len(insert.faces)


# Every field of the lab's form on at once (a medial skive and a Morton's extension: their
# opposites are refused beside them); the target is under 50 ms warm at 1 mm.
EVERY_FIELD = {
    "shell.thickness_mm": 6.0, "shell.distal_taper_mm": 20.0, "arch.height_mm": 18.0, "met_pad.enabled": True,
    "heel_lift.height_mm": 12.0, "heel_lift.profile": "full_length", "heel_cup.depth_mm": 20.0,
    "posting.rearfoot_deg": 6.0, "posting.rearfoot_motion_deg": 4.0, "posting.forefoot_deg": 6.0,
    "skive.medial_mm": 6.0, "met_bar.enabled": True, "morton_extension.height_mm": 4.0, "cuboid_pad.height_mm": 4.0,
    "navicular_pad.height_mm": 4.0, "heel_spur.depth_mm": 3.0, "flange.medial_mm": 10.0, "flange.lateral_mm": 8.0,
    "top_cover.thickness_mm": 2.0,
}


def every_field(repeats: int = 9) -> str:
    """Median warm seconds of a 1 mm build (outline to mesh in memory) with every field on."""
    from insolegen import prescription, template

    rx, outline = prescription.resolve(None, EVERY_FIELD), template.builtin()
    api.build(outline, rx, resolution=1.0)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        api.build(outline, rx, resolution=1.0)
        times.append(time.perf_counter() - t0)
    return f"every field on, 1.0 mm warm build: {1000 * statistics.median(times):.0f} ms median of {repeats} (target < 50 ms)"


def stages(resolution: float) -> str:
    """Where one warm build's time goes, stage by stage (ms)."""
    from insolegen import (
        construct,
        features,
        landmarks,
        prescription,
        qa,
        rays,
        template,
        triangulate,
    )

    rx = prescription.resolve(None, {"met_pad.enabled": True, "heel_lift.height_mm": 6.0})
    clock: dict[str, float] = {}

    def timed(name, fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        clock[name] = 1000 * (time.perf_counter() - t0)
        return out

    outline = timed("outline", template.builtin)
    marks = timed("landmarks", landmarks.place, outline, rx)
    points, tri, rim = timed("triangulate", triangulate.triangulate, outline.points, resolution, marks.met_pad_apex)
    heights = timed("fields", features.fields, points, outline, marks, rx)
    vertices, faces = timed("solid", construct.solid, points, tri, rim, sum(heights.values()))
    timed("stl", export.encode_stl, vertices, faces)
    timed("topology (report)", qa._topology, vertices, faces, True)
    timed("rays", rays.grid_hits, vertices, faces, qa.REPORT_RAY_SPACING_MM)
    timed("manifold3d (check)", qa.manifold_status, vertices, faces)
    return ", ".join(f"{k} {v:.0f}" for k, v in clock.items())


def command(args: list[str], code: str | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    cmd = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "insolegen.cli", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, out.stdout.strip()


def main() -> None:
    api.build(resolution=2.0)  # warm the imports
    print(f"{'resolution':>10} {'faces':>9} {'build s':>8} {'+export s':>10} {'+report s':>10} {'report/build':>13} {'peak MB':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for res in RESOLUTIONS:
            b, e, q, faces = warm(res, 5 if res >= 0.5 else 3)
            _, rss = command(["build", "-q", "--resolution", str(res), "-o", str(Path(tmp) / "m.stl")], PEAK_RSS)
            print(f"{res:>10} {faces:>9} {b:>8.3f} {e:>10.3f} {q:>10.3f} {(q - e) / e:>13.2f} {int(rss) / 1024:>8.0f}")
        for res in (1.0, 0.25):
            print(f"stages at {res} mm, ms: {stages(res)}")
        print(every_field())
        cold = [command(["build", "-q", "-o", str(Path(tmp) / "c.stl")])[0] for _ in range(3)]
        print(f"cold `insolegen build` (1.0 mm, import included, report included): {statistics.median(cold):.3f} s median of 3")
        batch = Path(__file__).with_name("batch_bench.py")
        if batch.is_file():
            print(subprocess.run([sys.executable, str(batch), tmp], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
