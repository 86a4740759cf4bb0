"""Recognising a shell in any mesh, and measuring it as a lab measures a shell: along the normal.

A shell is a sheet: over much of its footprint its underside stands clear of the ground (a
solid insert fills down to its flat bottom), and the two surfaces run parallel (the normal
thickness is about the same everywhere, where a solid's grows under the arch and the cup).
The thickness is measured from the top surface (the topmost up-facing faces: not a post's top
under the sheet) along the inward normal (:func:`~insolegen.construct.measure.normal_thickness`),
3 mm or more from the rim and from where the body comes down to the ground (a post), and where
the underside the ray meets is parallel to the top (not an intrinsic post's bevel under the sheet).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from . import rays
from .construct.measure import normal_thickness

CLEAR_MM = 1.0  # an underside this far above the mesh's lowest point stands clear of the ground
CLEAR_SHARE = 0.2  # a sheet stands clear over at least this share of its footprint
EDGE_MM = 3.0  # samples this far or more from the rim and the ground contact (SPEC)
SPREAD = 0.1  # a sheet's P5 of normal thickness is within this share of its P50
SAMPLES = 3000  # normal rays (about 0.6 s)
MIN_SAMPLES = 100
PARALLEL_DEG = 20.0  # a sheet's underside is parallel to its top: its normal within this of the top's


def measure(vertices: np.ndarray, faces: np.ndarray, spacing: float = 1.0) -> dict | None:
    """The sheet's normal thickness {samples, min_mm, p5_mm, p50_mm, p95_mm, clear_share} if the
    mesh (vertices (n, 3) float, mm; faces (f, 3) int, wound outward) is a shell, else None.
    spacing: mm, the grid of vertical rays that finds the top, the rim and the ground contact."""
    vertices, faces = np.asarray(vertices, float), np.asarray(faces)
    hits = rays.grid_hits(vertices, faces, spacing)
    if not len(hits.xy):
        return None
    clear = hits.bottom > vertices[:, 2].min() + CLEAR_MM
    share = float(clear.mean())
    if share < CLEAR_SHARE:
        return None
    corner = hits.xy.min(axis=0)
    cell = np.round((hits.xy - corner) / spacing).astype(int)
    shape = tuple(cell.max(axis=0) + 1)
    footprint, standing = np.zeros(shape, bool), np.zeros(shape, bool)
    top, bottom = np.full(shape, -np.inf), np.full(shape, np.nan)
    footprint[tuple(cell.T)], standing[tuple(cell.T)] = True, clear
    top[tuple(cell.T)], bottom[tuple(cell.T)] = hits.top, hits.bottom
    reach = int(np.ceil(EDGE_MM / spacing))
    i, j = np.mgrid[-reach: reach + 1, -reach: reach + 1]
    disk = i * i + j * j <= reach * reach
    inner = ndimage.binary_erosion(footprint & standing, disk)
    nt = normal_thickness(vertices, faces, SAMPLES)
    at = np.round((nt.points[:, :2] - corner) / spacing).astype(int)
    valid = (at >= 0).all(axis=1) & (at < shape).all(axis=1)
    at = np.where(valid[:, None], at, 0)
    # The top surface: no higher surface over the sample's cell (its slope allowed for across
    # the cell), so a post's top under the sheet is left out.
    nz = np.clip(nt.normals[:, 2], 1e-3, 1.0)
    slack = 0.1 + spacing * np.sqrt(1.0 - nz * nz) / nz
    keep = valid & inner[tuple(at.T)] & (nt.points[:, 2] >= top[tuple(at.T)] - slack)
    keep &= _parallel(nt, bottom, corner, spacing)
    figures = nt.summary(keep)
    if figures["samples"] < MIN_SAMPLES or figures["p50_mm"] - figures["p5_mm"] > SPREAD * figures["p50_mm"]:
        return None
    return {**figures, "clear_share": round(share, 3), "measured_along": "normal"}


def _parallel(nt, bottom: np.ndarray, corner: np.ndarray, spacing: float) -> np.ndarray:
    """(k,) bool: where the normal ray from the top meets an underside parallel to the top there
    (within PARALLEL_DEG), as a sheet's is; not an intrinsic post's flat or bevel under the sheet.
    bottom: the lowest vertical hits on the grid (nx, ny), mm, NaN outside; corner (2,): its origin."""
    gx, gy = np.gradient(bottom, spacing)
    foot = nt.points - nt.normals * np.where(np.isfinite(nt.thickness), nt.thickness, 0.0)[:, None]
    at = np.round((foot[:, :2] - corner) / spacing).astype(int)
    at = np.clip(at, 0, np.array(bottom.shape) - 1)
    sx, sy = gx[tuple(at.T)], gy[tuple(at.T)]
    up = np.c_[-sx, -sy, np.ones(len(sx))] / np.sqrt(1.0 + sx * sx + sy * sy)[:, None]  # the underside's normal, turned up
    with np.errstate(invalid="ignore"):
        return np.einsum("ij,ij->i", up, nt.normals) > np.cos(np.radians(PARALLEL_DEG))
