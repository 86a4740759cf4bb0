"""Print zones graded from the load (``pressure.grade_zones``): the most loaded zone softest.

Each zone of :mod:`insolegen.fabrication.zones` gets the highest peak pressure of the sensors
laid inside it; infill runs linearly from FIRMEST_PCT (the least loaded zone) to SOFTEST_PCT
(the most loaded). Zones the prescription already sets keep their infill.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import shapely

SOFTEST_PCT, FIRMEST_PCT = 10.0, 40.0


def zone_loads(insert) -> dict[str, float]:
    """Zone name -> the highest peak pressure (kPa) laid inside it (0 where no sensor lies)."""
    from ..fabrication import zones

    load = insert.outline.load
    centres, peak = load.centres.reshape(-1, 2), np.nan_to_num(load.peak).ravel()
    out = {}
    for name, region in zones.regions(insert).items():
        inside = shapely.contains_xy(region, centres[:, 0], centres[:, 1])
        out[name] = float(peak[inside].max(initial=0.0))
    return out


def infill(loads: dict[str, float]) -> dict[str, float]:
    """Zone name -> infill %, from SOFTEST_PCT at the highest load to FIRMEST_PCT at the lowest."""
    lo, hi = min(loads.values()), max(loads.values())
    share = {name: (v - lo) / (hi - lo) if hi > lo else 0.5 for name, v in loads.items()}
    return {name: round(FIRMEST_PCT - (FIRMEST_PCT - SOFTEST_PCT) * s, 1) for name, s in share.items()}


def graded(insert):
    """``insert`` with its prescription's unset ``zones.*.infill_pct`` graded from its load."""
    rx = insert.prescription
    wanted = infill(zone_loads(insert))
    zones = rx.zones.model_copy(update={
        name: getattr(rx.zones, name).model_copy(update={"infill_pct": pct})
        for name, pct in wanted.items() if getattr(rx.zones, name).infill_pct is None
    })
    return replace(insert, prescription=rx.model_copy(update={"zones": zones}))
