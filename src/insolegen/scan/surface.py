"""The plantar surface of a scan as a smooth (C2) height field fitted to its sole points.

A point cloud's noise must not reach the insert as bumps, so the surface is not interpolated
through the points: heights on a regular grid are fitted by penalised least squares (each point
pulls the bilinear surface under it; a thin-plate penalty on second differences keeps it smooth
and carries it over gaps), then a bicubic interpolating spline through the grid gives a C2 field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import column_max, column_min

CELL_MM = 2.0  # grid spacing: far finer than the foot's curvature (radii of 10 mm and more)
MARGIN_CELLS = 4  # the grid reaches this far past the points, so the field is defined a little beyond the rim
# Thin-plate weight per cell against one cell's worth of data (weight 1): little enough to keep
# a clean scan's toe creases (within 1 mm; where the sole turns sharper than 10 degrees between
# faces 0.5 mm apart, the build's fairing bends the top less: :mod:`.fair`); a noisy scan gets more, NOISE_GAIN * sigma^2 (sigma in mm: 0.3 mm of noise
# gives about 1, which averages it over a few cells).
SMOOTHING = 0.1
NOISE_GAIN = 10.0
# A point this far above the first fit (mm, or 4 robust sigmas of the residuals if more) is not on
# the sole seen from below: the far side of a curled toe tip or of a wall that overhangs.
ABOVE_MM = 1.0


@dataclass(frozen=True)
class Surface:
    """z(x, y) of the plantar surface, mm, in the frame of the points it was fitted to.

    xs: (nx,) float, ys: (ny,) float, grid node coordinates, mm; z: (nx, ny) float, mm, the fitted
    heights at the nodes; residuals_mm: P50, P95 and max of |fit - point| over the sole points.
    """

    xs: np.ndarray
    ys: np.ndarray
    z: np.ndarray
    residuals_mm: dict

    def __post_init__(self):
        from scipy.interpolate import RectBivariateSpline

        object.__setattr__(self, "_spline", RectBivariateSpline(self.xs, self.ys, self.z, kx=3, ky=3, s=0))

    def height(self, xy: np.ndarray, dx: int = 0, dy: int = 0) -> np.ndarray:
        """(n,) float, mm: the surface (or its derivative of order dx, dy) at xy (n, 2) float, mm;
        held at the grid's edge beyond it."""
        x = np.clip(xy[:, 0], self.xs[0], self.xs[-1])
        y = np.clip(xy[:, 1], self.ys[0], self.ys[-1])
        return self._spline.ev(x, y, dx=dx, dy=dy)

    def grid(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """(len(xs), len(ys)) float, mm: the surface on the grid of increasing xs and ys."""
        return self._spline(np.clip(xs, self.xs[0], self.xs[-1]), np.clip(ys, self.ys[0], self.ys[-1]))


def _thin_plate(nx: int, ny: int) -> dict[int, np.ndarray]:
    """D^T D, D the second differences along x, along y and across (the discrete thin-plate
    energy, node index = i * ny + j), by diagonal: {offset k: (nx * ny,) the entries (c - k, c)
    at each column c}, offsets 0 to 2 * ny. Built from the 1D operators' Gram matrices
    (D^T D = Tx (x) I + I (x) Ty + 2 Mx (x) My), so no large matrix is multiplied out."""

    def gram(n, order):
        d = np.diff(np.eye(n), order, axis=0)
        return d.T @ d

    def diagonal(m, k):  # (n,) m[c - k, c] at column c, 0 where the row is off the matrix
        out, n = np.zeros(len(m)), len(m)
        out[max(k, 0):n + min(k, 0)] = np.diagonal(m, k)
        return out

    tx, ty, mx, my = gram(nx, 2), gram(ny, 2), gram(nx, 1), gram(ny, 1)
    bands = {}
    for di, dj in [(0, 0), (0, 1), (0, 2), (1, -1), (1, 0), (1, 1), (2, 0)]:  # node (i, j) meets (i + di, j + dj)
        v = np.zeros((nx, ny))
        if dj == 0:
            v += diagonal(tx, di)[:, None]
        if di == 0:
            v += diagonal(ty, dj)[None, :]
        if di <= 1 and abs(dj) <= 1:
            v += 2.0 * np.outer(diagonal(mx, di), diagonal(my, dj))
        bands[di * ny + dj] = v.ravel()
    return bands


def fit(points: np.ndarray, cell_mm: float = CELL_MM, smoothing: float | None = None, measured: bool = True) -> Surface:
    """Fit the height field to ``points`` (m, 3) float, mm: the sole seen from below, one z per xy.

    Each grid cell's points together weigh as much as one point, so a dense cloud and a sparse
    mesh are smoothed alike. A first fit finds the points hidden from below (far above it: left
    out of the second) and the scatter of the others (the scan's noise, a robust sigma); unless
    ``smoothing`` is given, the second fit is smoothed by SMOOTHING plus NOISE_GAIN * sigma^2,
    so a clean scan keeps its detail and a noisy cloud its smoothness. ``residuals_mm`` holds
    P50, P95 and max over the points kept, their count, the hidden count, sigma and the smoothing
    (left empty when not ``measured``: a fit only looked at, never reported).
    """
    pts = np.asarray(points, float)
    grid = _Grid(pts[:, :2], cell_mm)
    z = grid.solve(pts[:, 2], np.ones(len(pts)), SMOOTHING if smoothing is None else smoothing)
    res = pts[:, 2] - Surface(grid.xs, grid.ys, z, {}).height(pts[:, :2])
    sigma = 1.4826 * float(np.median(np.abs(res)))
    above = max(ABOVE_MM, 4.0 * sigma)
    # Weight 1 up to ``above``, fading to 0 at twice that: a point's weight never jumps, so a scan
    # turned a little gives the same surface (a curled toe tip is near the line).
    weight = np.clip(2.0 - res / above, 0.0, 1.0)
    keep = weight > 0
    used = SMOOTHING + NOISE_GAIN * sigma**2 if smoothing is None else smoothing
    figures = {}
    surface = Surface(grid.xs, grid.ys, grid.solve(pts[:, 2], weight, used), figures)
    if measured:
        res = np.abs(surface.height(pts[keep, :2]) - pts[keep, 2])
        p50, p95 = np.percentile(res, [50, 95])
        figures.update({"p50": round(float(p50), 4), "p95": round(float(p95), 4), "max": round(float(res.max()), 4),
                        "points": int(keep.sum()), "hidden": int((~keep).sum()), "noise_sigma": round(sigma, 4), "smoothing": round(used, 4)})
    return surface


class _Grid:
    """The fitting grid over xy (m, 2) float, mm, and each point's bilinear weights on its nodes.
    The normal equations have their nonzeros within band = 2 * ny of the diagonal (node i * ny + j
    meets i + 1, i + 2 and j +- 1) and are assembled straight into LAPACK's band storage."""

    def __init__(self, xy: np.ndarray, cell_mm: float):
        lo = column_min(xy) - MARGIN_CELLS * cell_mm
        # Across, nodes on multiples of the cell: symmetric about y = 0, so a mirrored scan's fit is the mirror.
        lo[1] = np.floor(lo[1] / cell_mm) * cell_mm
        n = np.ceil((column_max(xy) + MARGIN_CELLS * cell_mm - lo) / cell_mm).astype(int) + 1
        self.nx, self.ny = int(n[0]), int(n[1])
        self.xs, self.ys = lo[0] + cell_mm * np.arange(self.nx), lo[1] + cell_mm * np.arange(self.ny)
        u = (xy - lo) / cell_mm
        cell = np.minimum(np.floor(u).astype(np.int64), [self.nx - 2, self.ny - 2])
        fx, fy = (u - cell).T
        self.base = cell[:, 0] * self.ny + cell[:, 1]
        # Each point's 4 nodes in increasing order (j, j + 1, then the next i) and their weights.
        self.nodes = np.stack([self.base, self.base + 1, self.base + self.ny, self.base + self.ny + 1], axis=1)
        self.vals = np.stack([(1 - fx) * (1 - fy), (1 - fx) * fy, fx * (1 - fy), fx * fy], axis=1)
        self.band = 2 * self.ny
        self.size = self.nx * self.ny
        # A point's 4 nodes meet on 5 diagonals (offsets 0, 1, ny - 1, ny, ny + 1): its upper 4 x 4
        # block summed by bincount into (5, size), diagonal by diagonal, at the upper node's column.
        self.offsets = [0, 1, self.ny - 1, self.ny, self.ny + 1]
        step = [0, 1, self.ny, self.ny + 1]  # each node past the base
        pairs = [(a, b) for a in range(4) for b in range(a, 4)]
        self.pair_at = np.concatenate([self.offsets.index(step[b] - step[a]) * self.size + self.nodes[:, b] for a, b in pairs])
        self.pair_vals = np.concatenate([self.vals[:, a] * self.vals[:, b] for a, b in pairs])
        self.penalty = _thin_plate(self.nx, self.ny)

    def solve(self, z: np.ndarray, weight: np.ndarray, smoothing: float) -> np.ndarray:
        """(nx, ny) node heights fitted to z (m,) with each point's weight (m,) float, 0-1."""
        from scipy.linalg import solveh_banded

        size = self.size
        total = np.bincount(self.base, weights=weight, minlength=size)
        w = weight / np.maximum(total[self.base], 1.0)  # each occupied cell weighs at most 1 in all
        # A^T W A + smoothing * D^T D in LAPACK's upper band storage (ab[band - k, c] = entry (c - k, c)),
        # symmetric positive definite: a banded Cholesky needs no fill-in search and is several
        # times faster than a general sparse LU.
        ab = np.zeros((self.band + 1, size))
        for k, diagonal in self.penalty.items():
            ab[self.band - k] = smoothing * diagonal
        data = np.bincount(self.pair_at, weights=self.pair_vals * np.tile(w, 10), minlength=5 * size).reshape(5, size)
        ab[[self.band - k for k in self.offsets]] += data
        rhs = np.bincount(self.nodes.ravel(), weights=(self.vals * (w * z)[:, None]).ravel(), minlength=size)
        return solveh_banded(ab, rhs, overwrite_ab=True, overwrite_b=True, check_finite=False).reshape(self.nx, self.ny)
