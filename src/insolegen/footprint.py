"""A pressure-plate or ink footprint -> an insole outline.

A footprint shows only where the foot touched: no contact under a high medial arch, toe prints
apart from the ball, and the stair-steps of a sensor grid. An insole covers the whole plantar
surface, whose outline is convex but for a shallow medial arch and the toe notches; the convex
hull of the contact area is therefore the insole outline, with its corners rounded.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

from .errors import InputError

ROUND_MM = 3.0  # corner radius of the hull: softens sensor-grid corners, never cuts a heel or toe curve


def insole_ring(rings: list[np.ndarray], mm_per_unit: float, source: str) -> np.ndarray:
    """The insole outline of a footprint.

    rings: closed or open (n, 2) float rings in file units, any position: every contact patch
    (heel, ball, separate toe prints); they may overlap, touch or cross themselves.
    Returns (m, 2) float in the same units and position: the rounded convex hull of all patches.
    """
    patches = [shapely.make_valid(Polygon(r)) for r in rings if len(np.unique(r, axis=0)) >= 3]
    area = sum(p.area for p in patches)
    if not patches or area <= 0:
        raise InputError(f"{source}: the footprint encloses no area; give the contact outline(s) of a footprint")
    hull = shapely.union_all(patches).convex_hull
    radius = ROUND_MM / mm_per_unit
    rounded = hull.buffer(-radius, quad_segs=16).buffer(radius, quad_segs=16)
    if not isinstance(rounded, Polygon) or rounded.is_empty:
        raise InputError(f"{source}: the footprint is narrower than {2 * ROUND_MM:g} mm; check the units (--units)")
    return np.asarray(rounded.exterior.coords)[:-1]
