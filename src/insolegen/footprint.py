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
STRAY_MM = 25.0  # a small patch farther than this from the rest of the print is not the foot (toe gaps: 2-15 mm)
SMALL_SHARE = 0.1  # small: under this share of the largest patch's area (toe prints 1-5 %, a separate heel 30 %+)


def insole_ring(rings: list[np.ndarray], mm_per_unit: float, source: str) -> tuple[np.ndarray, list[str]]:
    """The insole outline of a footprint, and notes on what was left out of it.

    rings: closed or open (n, 2) float rings in file units, any position: every contact patch
    (heel, ball, separate toe prints); they may overlap, touch or cross themselves.
    Returns (m, 2) float in the same units and position: the rounded convex hull of the patches
    that belong to the foot (a small patch far from all the others, a stray sensor, is left out).
    """
    patches = [shapely.make_valid(Polygon(r)) for r in rings if len(np.unique(r, axis=0)) >= 3]
    area = sum(p.area for p in patches)
    if not patches or area <= 0:
        raise InputError(f"{source}: the footprint encloses no area; give the contact outline(s) of a footprint")
    foot, strays = _foot_patches(patches, STRAY_MM / mm_per_unit)
    hull = shapely.union_all(foot).convex_hull
    radius = ROUND_MM / mm_per_unit
    rounded = hull.buffer(-radius, quad_segs=16).buffer(radius, quad_segs=16)
    if not isinstance(rounded, Polygon) or rounded.is_empty:
        raise InputError(f"{source}: the footprint is narrower than {2 * ROUND_MM:g} mm; check the units (--units)")
    notes = [f"{source}: {strays} small contact patch{'es' if strays > 1 else ''} more than {STRAY_MM:g} mm from the "
             "rest of the footprint left out (stray sensors?); check the print"] if strays else []
    return np.asarray(rounded.exterior.coords)[:-1], notes


def _foot_patches(patches: list, reach: float) -> tuple[list, int]:
    """The patches of the foot: every large one, then every small one within ``reach`` (file
    units) of those kept so far; and how many were left out."""
    largest = max(p.area for p in patches)
    kept = [p for p in patches if p.area >= SMALL_SHARE * largest]
    rest = [p for p in patches if p.area < SMALL_SHARE * largest]
    while rest:
        body = shapely.union_all(kept)
        near = [p.distance(body) <= reach for p in rest]
        if not any(near):
            break
        kept += [p for p, close in zip(rest, near) if close]
        rest = [p for p, close in zip(rest, near) if not close]
    return kept, len(rest)
