"""Reading foot scans and finding their pose: seconds (warm) and peak memory, in a fresh process each.

Scans made from ../shared/data: the Techmed3D plantar sheet subdivided to about 100k vertices, the
FIND whole foot subdivided to 177k vertices, and the FIND foot subdivided to 2 million faces; all
written as binary STL in a random pose. Usage: python benchmarks/scan_bench.py [folder]
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MEASURE = r"""
import sys, time
from pathlib import Path
Path("/proc/self/clear_refs").write_text("5")  # the peak RSS starts here, not at the parent's (kept over exec)
from insolegen.scan.pose import find_pose
from insolegen.scan.read import read_scan
path, rounds = sys.argv[1], int(sys.argv[2])
for _ in range(rounds):  # the last round is warm: imports done, caches filled
    start, cpu = time.perf_counter(), time.process_time()
    raw = read_scan(path)
    read_s = time.perf_counter() - start
    pose = find_pose(raw)
    pose_s = time.perf_counter() - start - read_s
    cpu = time.process_time() - cpu
peak = int(next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM")).split()[1]) / 1024
print(f"{len(raw.points):>9,} vertices {len(raw.faces):>9,} faces: read {read_s:.3f} s + pose {pose_s:.3f} s = {read_s + pose_s:.3f} s ({cpu:.3f} s CPU), "
      f"peak {peak:.0f} MB; {pose.side}, sole {len(pose.sole):,} points")
"""


def posed_stl(mesh: trimesh.Trimesh, path: Path) -> Path:
    turned = mesh.copy()
    turned.apply_transform(trimesh.transformations.compose_matrix(angles=Rotation.random(random_state=1).as_euler("xyz"), translate=[120, -40, 300]))
    path.write_bytes(trimesh.exchange.stl.export_stl(turned))
    return path


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
    sheet = trimesh.load(DATA / "scans" / "techmed3d_right_plantar.obj", process=False, force="mesh")
    foot = trimesh.load(DATA / "feet" / "find" / "template.obj", process=False, force="mesh")
    foot.apply_scale(1000.0)
    v, f = sheet.vertices, sheet.faces
    for _ in range(2):
        v, f = trimesh.remesh.subdivide(v, f)
    scans = {"plantar sheet ~100k vertices": posed_stl(trimesh.Trimesh(v, f, process=False), folder / "sheet100k.stl")}
    v, f = trimesh.remesh.subdivide(foot.vertices, foot.faces)
    scans["whole foot 177k vertices"] = posed_stl(trimesh.Trimesh(v, f, process=False), folder / "foot177k.stl")
    v, f = trimesh.remesh.subdivide(v, f)
    extra = (2_000_000 - len(f)) // 3  # each subdivided face becomes four
    v, f = trimesh.remesh.subdivide(v, f, face_index=np.arange(extra))
    scans["whole foot 2M faces"] = posed_stl(trimesh.Trimesh(v, f, process=False), folder / "foot2M.stl")
    for name, path in scans.items():
        rounds = 2 if path.stat().st_size < 50e6 else 1
        out = subprocess.run([sys.executable, "-c", MEASURE, str(path), str(rounds)], capture_output=True, text=True, check=True)
        print(f"{name:30s} ({path.stat().st_size / 1e6:.0f} MB binary STL, {'warm' if rounds > 1 else 'cold'}): {out.stdout.strip()}")


if __name__ == "__main__":
    main()
