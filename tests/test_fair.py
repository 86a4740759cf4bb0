"""The fairing of a scan-molded top (insolegen.scan.fair) on a surface made to crease: a V fold."""

from __future__ import annotations

import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from insolegen.scan import fair


def _fold(slope: float, turn_deg: float):
    """A plate folded along a line through (20, 0) at ``turn_deg`` to x, rising ``slope`` on both
    sides: the lattice over a 40 x 40 mm square (q0, j0, xy, cover) and the heights there."""
    square = shapely.box(0.0, -20.0, 40.0, 20.0)
    anchor = np.array([10.1, 0.3])
    q0, j0, xy, cover = fair.lattice(square, anchor)
    normal = np.array([-np.sin(np.radians(turn_deg)), np.cos(np.radians(turn_deg))])
    z = 5.0 + slope * np.abs((xy - [20.0, 0.0]) @ normal)
    return q0, j0, xy, np.where(cover, z, np.nan), anchor, normal


def test_a_sharp_fold_is_bent_within_the_limit_and_nothing_else_moves():
    for slope, turn in [(0.5, 0.0), (0.3, 17.0), (1.0, 95.0)]:
        q0, j0, xy, z, anchor, normal = _fold(slope, turn)
        inner = shapely.contains_xy(shapely.box(4.0, -16.0, 36.0, 16.0), xy[..., 0], xy[..., 1])
        before = max(np.nanmax(np.where(inner, c, np.nan)) for c in fair.creases(np.where(inner, z, np.nan)))
        dz, figures = fair.fair(z, inner)
        after = max(np.nanmax(np.where(inner, c, np.nan)) for c in fair.creases(np.where(inner, z + dz, np.nan)))
        assert before > 20.0 and after <= fair.MAX_CREASE_DEG, (slope, turn, before, after)
        assert figures["crease_after_deg"] == round(after, 3)
        # The bend is spread only as far as it must be: a 10-degree turn per 0.43 mm row makes the
        # fold's turn in a few mm, so nothing moves 6 mm or more from the fold, and little near it.
        far = np.abs((xy - [20.0, 0.0]) @ normal) >= 6.0
        assert np.abs(dz[far]).max() == 0.0 and 0.0 < np.abs(dz).max() < 1.0, (slope, turn, np.abs(dz).max())


def test_the_fairing_between_lattice_points_is_the_faired_lattice():
    q0, j0, xy, z, anchor, normal = _fold(0.5, 30.0)
    inner = shapely.contains_xy(shapely.box(4.0, -16.0, 36.0, 16.0), xy[..., 0], xy[..., 1])
    dz, _ = fair.fair(z, inner)
    near = (np.abs(dz) > 0).astype(float)
    f = fair.Fairing(anchor, q0, j0, dz, z, np.ones(z.shape), {})
    surface = lambda p: 5.0 + 0.5 * np.abs((p - [20.0, 0.0]) @ normal)  # noqa: E731 (the top before the fairing)
    points = xy[near > 0]
    assert np.allclose(f.at(points, surface), dz[near > 0], atol=1e-9)  # at the lattice's points: the change itself
    # Halfway along the lattice's edges the faired top is the mean of the two ends'.
    for step in ([fair.SPACING_MM, 0.0], [fair.SPACING_MM / 2, fair.ROW_MM], [-fair.SPACING_MM / 2, fair.ROW_MM]):
        mid = points + 0.5 * np.array(step)
        ends = [points, points + step]
        faired = [surface(p) + f.at(p, surface) for p in ends]
        assert np.allclose(surface(mid) + f.at(mid, surface), 0.5 * (faired[0] + faired[1]), atol=1e-9)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 180.0), st.floats(-12.0, 12.0), st.floats(-1.2, 1.2)), min_size=1, max_size=4),
       st.floats(-0.5, 0.5), st.floats(-0.5, 0.5))
def test_any_folded_plate_is_faired_within_the_limit(folds, tilt_x, tilt_y):
    """Plates tilted any way and folded along up to four lines (any direction, either way, up to
    100 degrees): every crease 3 mm inside held to the limit, and the farthest a point moves is
    less than a millimetre."""
    square = shapely.box(0.0, -20.0, 40.0, 20.0)
    q0, j0, xy, cover = fair.lattice(square, np.array([20.0, 0.0]))
    z = 5.0 + tilt_x * xy[..., 0] + tilt_y * xy[..., 1]
    for turn, offset, bend in folds:
        normal = np.array([-np.sin(np.radians(turn)), np.cos(np.radians(turn))])
        z = z + bend * np.maximum((xy - [20.0, offset]) @ normal, 0.0)
    inner = shapely.contains_xy(square.buffer(-3.0), xy[..., 0], xy[..., 1])
    dz, figures = fair.fair(np.where(cover, z, np.nan), inner)
    after = max(np.nanmax(c) for c in fair.creases(np.where(inner, z + dz, np.nan)))
    assert after <= fair.MAX_CREASE_DEG and np.abs(dz).max() < 1.0, (after, figures)
