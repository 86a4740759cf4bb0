"""Shared helpers: run the command line, load exported meshes, cast vertical rays with trimesh."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import trimesh

from insolegen.cli import main

FEET = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "feet"


def run(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``insolegen ARGS`` in-process: (exit status, stdout, stderr)."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def manifest_of(path: Path, rows: list[dict]) -> Path:
    """``rows`` written as a JSON-lines batch manifest at ``path``."""
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run_batch(manifest: Path, out: Path, capsys, *options) -> tuple[int, dict[str, dict]]:
    """``insolegen batch MANIFEST -o OUT OPTIONS``: (exit status, the summary's rows by id). A batch
    with a failed row still builds the others and then exits 3 (SystemExit), returned here alike."""
    try:
        code = run(["batch", manifest, "-o", out, *options], capsys)[0]
    except SystemExit as exc:
        code = exc.code
    return code, {r["id"]: r for r in csv.DictReader((out / "batch-summary.csv").open())}


def load(path: Path) -> trimesh.Trimesh:
    """An exported mesh with STL's unshared vertices merged, as a CAM engineer loads it."""
    mesh = trimesh.load(path, force="mesh")
    mesh.merge_vertices()
    return mesh


def top_at(mesh: trimesh.Trimesh, xy: np.ndarray) -> np.ndarray:
    """(n,) z of the highest hit of a downward ray at each xy (n, 2); NaN where nothing is hit."""
    origins = np.c_[xy, np.full(len(xy), mesh.bounds[1, 2] + 10.0)]
    directions = np.tile([0.0, 0.0, -1.0], (len(xy), 1))
    loc, ray, _ = mesh.ray.intersects_location(origins, directions, multiple_hits=True)
    top = np.full(len(xy), np.nan)
    np.fmax.at(top, ray, loc[:, 2])
    return top


def top_change(on, off, xy: np.ndarray) -> np.ndarray:
    """(n,) how far the top of the insert in file ``on`` stands above that in file ``off`` at xy (n, 2)."""
    return top_at(load(on), xy) - top_at(load(off), xy)


def hit_counts(mesh: trimesh.Trimesh, xy: np.ndarray) -> np.ndarray:
    """(n,) how many distinct surfaces a vertical ray at each xy meets."""
    origins = np.c_[xy, np.full(len(xy), mesh.bounds[1, 2] + 10.0)]
    directions = np.tile([0.0, 0.0, -1.0], (len(xy), 1))
    loc, ray, _ = mesh.ray.intersects_location(origins, directions, multiple_hits=True)
    keys = np.unique(np.c_[ray, np.round(loc[:, 2], 5)], axis=0)
    return np.bincount(keys[:, 0].astype(int), minlength=len(xy))


def grid_inside(mesh: trimesh.Trimesh, spacing: float, margin: float = 0.5) -> np.ndarray:
    """(n, 2) grid points inside the mesh footprint, at least ``margin`` mm from its rim."""
    import shapely
    from shapely.geometry import Polygon

    rim = footprint(mesh)
    x0, y0, x1, y1 = rim.bounds
    gx, gy = np.meshgrid(np.arange(x0 + 0.137, x1, spacing), np.arange(y0 + 0.291, y1, spacing))
    pts = np.c_[gx.ravel(), gy.ravel()]
    inner = Polygon(rim).buffer(-margin)
    return pts[shapely.contains_xy(inner, pts[:, 0], pts[:, 1])]


def footprint(mesh: trimesh.Trimesh):
    """The footprint polygon: the outline of the bottom, seen from above (the faces facing down:
    those on z = 0, or on the bent bottom of a shoe fit)."""
    from shapely.geometry import Polygon

    bottom = mesh.faces[mesh.face_normals[:, 2] < -0.5]
    edges = np.sort(np.vstack([bottom[:, [0, 1]], bottom[:, [1, 2]], bottom[:, [2, 0]]]), axis=1)
    uniq, count = np.unique(edges, axis=0, return_counts=True)
    rim = uniq[count == 1]
    nxt = {a: b for a, b in rim}
    nxt.update({b: a for a, b in rim if b not in nxt})
    adj: dict[int, list[int]] = {}
    for a, b in rim:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    start = rim[0, 0]
    ring, prev, cur = [start], None, start
    while True:
        a, b = adj[cur]
        nxt_v = b if a == prev else a
        if nxt_v == start:
            break
        ring.append(nxt_v)
        prev, cur = cur, nxt_v
    return Polygon(mesh.vertices[ring, :2])


def report_of(mesh_path: Path) -> dict:
    return json.loads(mesh_path.with_name(f"{mesh_path.stem}.report.json").read_text())


def to_output_frame(points: np.ndarray, report: dict) -> np.ndarray:
    """Input outline points (n, 2) mapped by the report's 4x4 transform."""
    t = np.array(report["transform_input_to_output"])
    return points @ t[:2, :2].T + t[:2, 3]


def real_outlines() -> dict[str, np.ndarray]:
    """name -> (n, 2) mm outline from ../shared/data/feet (FIND, pressure plate, OpenFO sizes)."""
    out: dict[str, np.ndarray] = {}
    if not FEET.is_dir():
        return out
    for name in ("find/template_sole_outline_mm.csv", "find/template_silhouette_outline_mm.csv",
                 "emed/emed_test_footprint_outline_mm.csv"):
        rows = [r for r in csv.reader(line for line in (FEET / name).open() if not line.startswith("#"))][1:]
        out[Path(name).stem] = np.array(rows, dtype=float)
    for name in ("openfo/outlines_polygons_mm.csv", "openfo/outlines2_polygons_mm.csv"):
        rows = list(csv.DictReader(line for line in (FEET / name).open() if not line.startswith("#")))
        for size in dict.fromkeys(r["size"] for r in rows):
            pts = np.array([[float(r["x_mm"]), float(r["y_mm"])] for r in rows if r["size"] == size])
            out[f"{Path(name).stem}_{size}"] = pts
    return out


needs_feet = pytest.mark.skipif(not FEET.is_dir(), reason="../shared/data/feet is absent")


def write_csv(path: Path, points: np.ndarray) -> Path:
    path.write_text("x,y\n" + "".join(f"{x!r},{y!r}\n" for x, y in np.asarray(points, float).tolist()))
    return path


def top_crease_deg(mesh: trimesh.Trimesh, inset_mm: float = 4.0, cup_wall_mm: float | None = None) -> float:
    """The largest angle (degrees) between adjacent top faces (normal z > 0.1) whose centres lie
    ``inset_mm`` inside the footprint; with ``cup_wall_mm``, the heel cup's wall (behind 45 % of
    the length, within that many mm of the rim) is left out."""
    import shapely

    normals, centre = mesh.face_normals, mesh.triangles_center
    rim = footprint(mesh)
    top = (normals[:, 2] > 0.1) & shapely.contains_xy(rim.buffer(-inset_mm), centre[:, 0], centre[:, 1])
    if cup_wall_mm is not None:
        wall = (centre[:, 0] < 0.45 * mesh.bounds[1, 0]) & ~shapely.contains_xy(rim.buffer(-cup_wall_mm), centre[:, 0], centre[:, 1])
        top &= ~wall
    pairs = mesh.face_adjacency
    keep = top[pairs[:, 0]] & top[pairs[:, 1]]
    return float(np.degrees(mesh.face_adjacency_angles[keep]).max())


class Builds:
    """One input built from the command line with ``args`` (side, outline, ...) and extra arguments
    per call, each set built once into ``root`` as ``{stem}-{n}.stl`` (the files' paths cached)."""

    def __init__(self, root: Path, stem: str, args: list):
        self.root, self.stem, self.args = root, stem, [str(a) for a in args]
        self.cache: dict[tuple, Path] = {}

    def build(self, *extra: str, resolution: float = 1.0) -> Path:
        import io
        from contextlib import redirect_stderr

        key = (*extra, resolution)
        if key not in self.cache:
            path = self.root / f"{self.stem}-{len(self.cache)}.stl"
            with redirect_stderr(io.StringIO()) as err:
                code = main(["build", *self.args, *extra, "--resolution", str(resolution), "-q", "-o", str(path)])
            assert code == 0, err.getvalue()
            self.cache[key] = path
        return self.cache[key]
