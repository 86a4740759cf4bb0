"""A picture of a milling program over the insert it cuts (the [preview] extra: matplotlib)."""

from __future__ import annotations

import io

import numpy as np

from ..errors import InputError
from . import gcode


def check_available() -> None:
    """An InputError before anything is written when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError("--preview needs matplotlib: pip install 'insolegen[preview]'") from None


def png(vertices: np.ndarray, faces: np.ndarray, program: str, report: dict) -> bytes:
    """Top view: the insert's height under the finishing rows (dark) and roughing rows (light),
    rapids dashed; below, the middle finishing row: designed top vs the programmed tool tip."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import trimesh
    from matplotlib.collections import LineCollection

    from ..preview import height_grid

    xs, ys, z = height_grid(trimesh.Trimesh(vertices, faces, process=False), 0.5)
    points, kinds, names = gcode.read(program)
    finishing = np.array([n == "finishing" for n in names])
    fig = plt.figure(figsize=(14, 9), dpi=100)
    top = fig.add_axes([0.05, 0.38, 0.9, 0.56])
    image = top.pcolormesh(xs, ys, z, shading="nearest", cmap="viridis")
    fig.colorbar(image, ax=top, label="designed top, mm", fraction=0.02)
    segments = np.stack([points[:-1, :2], points[1:, :2]], axis=1)
    feed = kinds[1:] == 1
    for mask, colour, width, style in ((feed & ~finishing[1:], "0.8", 0.3, "solid"), (feed & finishing[1:], "black", 0.6, "solid"),
                                       (~feed, "red", 0.3, "dashed")):
        top.add_collection(LineCollection(segments[mask], colors=colour, linewidths=width, linestyles=style))
    top.set_aspect("equal")
    top.autoscale()
    top.set_title(f"toolpath: roughing (grey), finishing (black), rapids (red dashed); {report['machining_time_min']:.0f} min, "
                  f"scallop {report['scallop_mm']:.3f} mm, least clearance {report['least_clearance_mm']:.3f} mm")
    side = fig.add_axes([0.05, 0.06, 0.9, 0.24])
    rows = np.unique(points[finishing & (kinds == 1), 1])
    if len(rows):
        y = rows[len(rows) // 2]
        on_row = finishing & (kinds == 1) & (np.abs(points[:, 1] - y) < 1e-6)
        j = int(np.argmin(np.abs(ys - y)))
        side.plot(xs, z[j], color="tab:green", label=f"designed top at y = {ys[j]:.1f} mm")
        order = np.argsort(points[on_row, 0], kind="stable")
        side.plot(points[on_row, 0][order], points[on_row, 2][order], color="black", lw=0.8, label=f"tool tip, finishing row y = {y:.3f} mm")
        side.legend(fontsize=8)
    side.set_xlabel("x, mm")
    side.set_ylabel("z, mm")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()
