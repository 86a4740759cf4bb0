"""Writers of outline files in every format and unit, as drawing programs and scanners write them.

Each writer takes points (n, 2) in mm and the file's units and returns the extra command-line
arguments the file needs (``--units`` for formats that carry none).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MM = {"mm": 1.0, "cm": 10.0, "in": 25.4}
DXF_INSUNITS = {"in": 1, "mm": 4, "cm": 5}


def write_csv(path: Path, pts: np.ndarray, units: str) -> list[str]:
    rows = (pts / MM[units]).tolist()
    path.write_text("x,y\n" + "".join(f"{x!r},{y!r}\n" for x, y in rows))
    return ["--units", units]


def write_json(path: Path, pts: np.ndarray, units: str) -> list[str]:
    path.write_text(json.dumps({"units": units, "points": (pts / MM[units]).tolist()}))
    return []


def write_geojson(path: Path, pts: np.ndarray, units: str) -> list[str]:
    ring = (pts / MM[units]).tolist()
    feature = {"type": "Feature", "properties": {"name": "foot"}, "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]}}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return ["--units", units]


def write_svg(path: Path, pts: np.ndarray, units: str) -> list[str]:
    """Physical width/height in ``units``, a viewBox at 2 user units per unit, y pointing down, a group transform."""
    lo, hi = pts.min(axis=0) - 5, pts.max(axis=0) + 5
    size = ((hi - lo) / MM[units]).tolist()
    user = (pts - [lo[0], hi[1]]) * [1, -1] / MM[units] * 2 - [10, 0]  # y down; shifted back by the group transform
    d = "M " + " L ".join(f"{x!r},{y!r}" for x, y in user.tolist()) + " Z"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size[0]!r}{units}" height="{size[1]!r}{units}" '
        f'viewBox="0 0 {size[0] * 2!r} {size[1] * 2!r}">\n'
        f'<g transform="translate(10,0)"><path d="{d}" fill="none" stroke="black"/></g>\n</svg>\n'
    )
    return []


def write_dxf(path: Path, pts: np.ndarray, units: str) -> list[str]:
    import ezdxf

    doc = ezdxf.new()
    doc.header["$INSUNITS"] = DXF_INSUNITS[units]
    doc.modelspace().add_lwpolyline((pts / MM[units]).tolist(), close=True)
    doc.saveas(path)
    return []


WRITERS = {".csv": write_csv, ".json": write_json, ".geojson": write_geojson, ".svg": write_svg, ".dxf": write_dxf}
