"""The gyroid sheet: its field, and the sheet thickness that gives a relative density (numpy only).

The gyroid g = sin x cos y + sin y cos z + sin z cos x (x, y, z scaled by 2 pi / cell) is 0 on
a triply periodic minimal surface. ``g / |grad g|`` is the distance to it to first order, so the
sheet ``|g| / |grad g| <= w / 2`` is about ``w`` mm thick everywhere. Its relative density is a
function of ``w / cell`` alone; :func:`density_of` gives it as measured on a fine sampling of one
cell, and :func:`wall_for` inverts it: what is asked is what is built.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

CALIBRATION_SAMPLES = 96  # per cell side: the measured density is good to ~0.1 percentage point


def distance(x: np.ndarray, y: np.ndarray, z: np.ndarray, cell: float) -> np.ndarray:
    """First-order distance (mm) to the gyroid's mid-surface at points x, y, z (any one shape, mm;
    broadcast), for a cell of ``cell`` mm; float32 (the meshing grids are large)."""
    k = np.float32(2 * np.pi / cell)
    sx, cx = np.sin(k * x, dtype=np.float32), np.cos(k * x, dtype=np.float32)
    sy, cy = np.sin(k * y, dtype=np.float32), np.cos(k * y, dtype=np.float32)
    sz, cz = np.sin(k * z, dtype=np.float32), np.cos(k * z, dtype=np.float32)
    g = sx * cy + sy * cz + sz * cx
    # grad g / k; |grad g| >= 0.5 k near the surface (g = 0), so the floor only touches far points.
    gx, gy, gz = cx * cy - sz * sx, cy * cz - sx * sy, cz * cx - sy * sz
    norm = np.sqrt(gx * gx + gy * gy + gz * gz)
    return np.abs(g) / (k * np.maximum(norm, np.float32(0.05)))


@lru_cache(maxsize=1)
def _table() -> tuple[np.ndarray, np.ndarray]:
    """(wall / cell, relative density) measured on one cell sampled at cell-centred points."""
    s = (np.arange(CALIBRATION_SAMPLES) + 0.5) / CALIBRATION_SAMPLES
    d = np.sort(distance(s[:, None, None], s[None, :, None], s[None, None, :], 1.0).ravel())
    ratio = np.linspace(0.0, 0.6, 241)
    return ratio, np.searchsorted(d, ratio / 2.0) / d.size


def density_of(wall_mm, cell_mm) -> np.ndarray:
    """Relative density (0-1) of a sheet ``wall_mm`` thick in cells of ``cell_mm``."""
    ratio, density = _table()
    return np.interp(np.asarray(wall_mm) / cell_mm, ratio, density)


def wall_for(density, cell_mm) -> np.ndarray:
    """Sheet thickness (mm) that gives relative ``density`` (0-1, array or scalar) in cells of ``cell_mm``."""
    ratio, measured = _table()
    return np.interp(np.asarray(density, float), measured, ratio) * cell_mm
