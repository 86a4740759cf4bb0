"""The peak-pressure map as a clinician reads it: the sole seen from above, toes up, each sensor
coloured by its peak (kPa colour bar), the regions outlined and named, the landmarks marked."""

from __future__ import annotations

import io

import numpy as np
import shapely

from ..errors import InputError
from .analysis import Analysis

MARKERS = {"heel_centre": "o", "mth1": "^", "mth5": "v", "hallux": "s"}
CMAP = "turbo"  # the rainbow of pressure software: blue unloaded .. red the highest


def _matplotlib():
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise InputError("a pressure map picture needs matplotlib: pip install 'insolegen[preview]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _upright(xy: np.ndarray) -> np.ndarray:
    """Output frame (x heel->toe, y wearer's left) -> seen from above, toes up: (-y, x)."""
    return np.stack([-xy[..., 1], xy[..., 0]], axis=-1)


def draw_peak_map(ax, analysis: Analysis, upright: bool = True, vmax: float | None = None):
    """Draw the sensors (coloured by peak kPa, unloaded ones pale), the region outlines and the
    landmarks on a matplotlib Axes, in output-frame mm (upright: toes up, as seen from above;
    else x, y of the output frame as they are). Returns the colour-mapped collection (for a bar)."""
    from matplotlib.collections import PolyCollection

    place = _upright if upright else (lambda p: p)
    on = ~np.isnan(analysis.peak)
    squares = place(squares_out(analysis, on))
    values = np.where(analysis.contact[on], analysis.peak[on], np.nan)
    import matplotlib

    cmap = matplotlib.colormaps[CMAP].with_extremes(bad="#eeeeee")  # sensors that saw no load: pale
    cells = PolyCollection(squares, array=np.ma.masked_invalid(values), cmap=cmap, edgecolors="none")
    cells.set_clim(0, vmax or float(np.nanmax(analysis.peak)))
    ax.add_collection(cells)
    for name, mask in analysis.regions.items():
        if not mask.any():
            continue
        shape = shapely.union_all(shapely.polygons(squares_out(analysis, mask))).buffer(0.01).buffer(-0.01)
        for poly in getattr(shape, "geoms", [shape]):
            ring = place(np.asarray(poly.exterior.coords))
            ax.plot(ring[:, 0], ring[:, 1], color="black", lw=0.8)
        label = place(np.asarray(shape.representative_point().coords[0]))
        ax.annotate(name.replace("_", "-"), label, xytext=(0, -9), textcoords="offset points", fontsize=6, ha="center",
                    va="center", color="white", bbox={"boxstyle": "round,pad=0.15", "fc": "black", "alpha": 0.45, "lw": 0})
    for name, point in analysis.landmarks_mm.items():
        if np.isfinite(point).all():
            ax.plot(*place(np.asarray(point)), linestyle="none", marker=MARKERS[name], ms=7, mfc="white", mec="black", label=name.replace("_", " "))
    ax.legend(loc="lower right", fontsize=7, title="landmarks", title_fontsize=7, framealpha=0.8)
    ax.set_aspect("equal")
    ax.autoscale_view()
    return cells


def squares_out(analysis: Analysis, mask: np.ndarray) -> np.ndarray:
    """(n, 4, 2) float, mm: the squares of the mask's sensors in the output frame."""
    rec = analysis.recording
    hx, hy = rec.pitch_mm[0] / 2, rec.pitch_mm[1] / 2
    squares = rec.centres_mm()[mask][:, None, :] + np.array([[-hx, -hy], [hx, -hy], [hx, hy], [-hx, hy]])[None]
    return analysis.to_output(squares.reshape(-1, 2)).reshape(squares.shape)


def png(analysis: Analysis) -> bytes:
    """The picture: the peak map with a kPa colour bar, regions, landmarks and the key figures."""
    plt = _matplotlib()
    rep = analysis.report()
    fig, ax = plt.subplots(figsize=(5.2, 8.0), dpi=120)
    cells = draw_peak_map(ax, analysis)
    bar = fig.colorbar(cells, ax=ax, shrink=0.7)
    bar.set_label("peak pressure, kPa")
    ax.set_xlabel("mm (wearer's right ->)")
    ax.set_ylabel("mm from the heel")
    ax.set_title(f"{rep['system']} {rep['side']} foot{'' if rep['step'] is None else ', step ' + str(rep['step'])}\n"
                 f"peak {rep['peak_kpa']:.0f} kPa, contact {rep['contact_area_cm2']:.1f} cm2, "
                 f"arch index {rep['arch_index']:.2f}, >200 kPa {rep['area_over_200_kpa_cm2']:.1f} cm2", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
