"""How closely an insert's top follows a scan's sole: the scan carried into the output frame by
a build report's transform, its lower envelope compared with the insert's top seen from above."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError

INSET_MM = 4.0  # the top is compared this far inside the rim and more (SPEC.md: the rim's wall and cup aside)
GRID_MM = 0.5  # the insert's top is sampled this finely and interpolated at the scan's points
CLOUD_CELL_MM = 1.0  # a point cloud's lower envelope: its lowest point in each cell this wide


def scan_in_output(scan_path: str | Path, mesh_path: str | Path):
    """The plantar surface of the scan at ``scan_path`` (as its pose finds it) carried into the
    output frame of the insert at ``mesh_path`` by the transform in the report beside it: points
    (n, 3) float, mm, and the sole's faces (f, 3) int into them, or None for a cloud (then the
    points are the sole's)."""
    from .cast import one_blas_thread
    from .pose import find_pose
    from .read import read_scan

    mesh_path = Path(mesh_path)
    report_path = mesh_path.with_name(f"{mesh_path.stem}.report.json")
    try:
        report = json.loads(report_path.read_text())
        scan = report["scan"]
        transform = np.array(scan["transform_scan_to_output"], float)
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{report_path}: no scan build report beside the mesh; --scan needs the report that "
                         "`insolegen build --scan` wrote beside it (its scan-to-output transform)") from None
    raw = read_scan(scan_path, scan.get("units", "auto"))
    if raw.sha256 != scan.get("sha256", raw.sha256):
        raise InputError(f"{scan_path}: not the scan this insert was built from (the report names {scan.get('file')})")
    with one_blas_thread():
        pose = find_pose(raw, scan.get("side", "auto"))
    points = raw.points @ transform[:3, :3].T + transform[:3, 3]
    if raw.faces is None:
        return points[pose.sole_index], None
    return points, raw.faces[pose.sole_faces]


def envelope(points: np.ndarray, faces: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The scan seen from below: xy (k, 2) and the lowest z (k,) there, mm. A mesh is cut by
    vertical rays every GRID_MM; a cloud gives its lowest point in each CLOUD_CELL_MM cell."""
    from ..rays import grid_hits

    if faces is not None:
        hits = grid_hits(points, np.asarray(faces), GRID_MM)
        return hits.xy, hits.bottom
    cell = np.floor(points[:, :2] / CLOUD_CELL_MM).astype(np.int64)
    order = np.lexsort((points[:, 2], cell[:, 1], cell[:, 0]))
    first = np.r_[True, np.any(np.diff(cell[order], axis=0) != 0, axis=1)]
    low = points[order[first]]
    return low[:, :2], low[:, 2]


def top_fit(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray, scan_faces: np.ndarray | None = None) -> dict:
    """|insert top - scan sole| over the scan's lower envelope, INSET_MM or more inside the rim:
    P50, P95, max (mm), the signed mean (top above the sole: positive) and how many points."""
    from scipy.interpolate import RegularGridInterpolator
    from scipy.ndimage import distance_transform_edt

    from ..rays import grid_hits

    hits = grid_hits(vertices, faces, GRID_MM)
    origin = hits.xy.min(axis=0)
    ij = np.round((hits.xy - origin) / GRID_MM).astype(int)
    top = np.full(ij.max(axis=0) + 1, np.nan)
    solid = hits.count == 2
    top[ij[solid, 0], ij[solid, 1]] = hits.top[solid]
    inside = ~np.isnan(top)
    depth = distance_transform_edt(np.pad(inside, 1))[1:-1, 1:-1] * GRID_MM
    axes = (origin[0] + GRID_MM * np.arange(top.shape[0]), origin[1] + GRID_MM * np.arange(top.shape[1]))
    xy, z = envelope(points, scan_faces)
    near = RegularGridInterpolator(axes, depth, method="nearest", bounds_error=False, fill_value=0.0)(xy)
    keep = near >= INSET_MM + GRID_MM  # the nearest sample's depth: half a cell of doubt
    gap = RegularGridInterpolator(axes, np.nan_to_num(top), bounds_error=False, fill_value=np.nan)(xy[keep]) - z[keep]
    if not len(gap):
        raise InputError("the scan does not lie over the insert: check that the scan and the mesh belong together")
    p50, p95 = np.percentile(np.abs(gap), [50, 95])
    return {"p50_mm": round(float(p50), 4), "p95_mm": round(float(p95), 4), "max_mm": round(float(np.abs(gap).max()), 4),
            "mean_signed_mm": round(float(gap.mean()), 4), "points": int(len(gap)), "inset_mm": INSET_MM}
