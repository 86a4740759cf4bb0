"""Where a plane should cut the gyroid sheet: for each height in one cell, the steepest slope
(largest |n_z|) of the sheet's faces crossing it, for the walls the densities allowed give
(wall / cell 0.04-0.2). construct.lattice extrudes the sheet's section down over an open bottom
from the best height; this is the derivation of BOTTOM_BAND_MM's comment. Measured: z = 0 (and
every quarter cell) is best or near it, |n_z| <= 0.59, 0.61, 0.65, 0.69, 0.75 at wall / cell 0.04, 0.08,
0.12, 0.16, 0.2 (the worst heights reach 1: a face lying flat, whose section is a blob or a pin).
Run: python benchmarks/gyroid_bottom_phase.py"""

import numpy as np

from insolegen.construct import gyroid

N = 160  # samples per cell side


def steepest(ratio: float, d: np.ndarray) -> np.ndarray:
    """(N,) float: per height (k / N of the cell), the largest |n_z| of the faces |d| = ratio / 2."""
    face = d - ratio / 2
    grad = [(np.roll(face, -1, a) - np.roll(face, 1, a)) * N / 2 for a in range(3)]
    nz = np.abs(grad[2]) / np.sqrt(sum(g * g for g in grad) + 1e-12)
    on = np.abs(face) < 0.75 / N
    return np.array([nz[:, :, k][on[:, :, k]].max() for k in range(N)])


if __name__ == "__main__":
    s = np.arange(N) / N
    d = gyroid.distance(s[:, None, None], s[None, :, None], s[None, None, :], 1.0).astype(float)
    for ratio in (0.04, 0.08, 0.12, 0.16, 0.2):
        per = steepest(ratio, d)
        print(f"wall / cell {ratio}: at z = 0 |n_z| <= {per[0]:.2f}; best {per.min():.2f} at z = "
              f"{np.argmin(per) / N:.3f} cell; worst {per.max():.2f} at {np.argmax(per) / N:.3f}")
