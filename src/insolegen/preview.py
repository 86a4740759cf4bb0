"""Pictures of an insert: a PNG an orthotist reads at a glance, a self-contained HTML viewer."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from .errors import InputError


def height_grid(mesh, spacing: float, underside: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top surface (or the underside: the lowest hits) sampled by vertical rays: xs (nx,), ys (ny,),
    z (ny, nx) with NaN outside."""
    from . import rays

    hits = rays.grid_hits(mesh.vertices, mesh.faces, spacing)
    origin = hits.xy.min(axis=0)
    ij = np.round((hits.xy - origin) / spacing).astype(int)
    z = np.full(ij.max(axis=0)[::-1] + 1, np.nan)
    z[ij[:, 1], ij[:, 0]] = hits.bottom if underside else hits.top
    return origin[0] + spacing * np.arange(z.shape[1]), origin[1] + spacing * np.arange(z.shape[0]), z


def _report_beside(mesh_path: Path) -> dict:
    path = mesh_path.with_name(f"{mesh_path.stem}.report.json")
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _flat(values: dict, prefix: str = "") -> list[str]:
    """``key=value`` of every field of a section, nested sections as dotted keys (``heel.infill_pct=20.0``)."""
    out = []
    for key, value in values.items():
        out += _flat(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}={value}"]
    return out


ALWAYS_SHOWN = ("shell", "arch", "met_pad", "heel_lift", "heel_cup", "posting")  # every insert's core figures


def _prescription_text(report: dict, width: int = 200) -> str:
    """The report's prescription and QA as short lines, each wrapped to ``width`` characters; the
    other sections left at their defaults are named on one line (the lab's form has twenty of them)."""
    import textwrap

    from .prescription import Prescription

    rx = report.get("prescription")
    if not rx:
        return "\n".join(["no report beside the mesh", *_shell_lines(report.get("shell"))])
    defaults = Prescription().model_dump(mode="json")
    lines = [f"{report.get('side', '?')} insert, {report.get('resolution_mm', '?')} mm mesh"]
    unchanged = []
    for section, values in rx.items():
        if section == "landmarks":
            continue
        if values == defaults.get(section) and section not in ALWAYS_SHOWN:
            unchanged.append(section)
        else:
            lines.append(f"{section}: " + ", ".join(_flat(values)))
    if unchanged:
        lines.append("at their defaults: " + ", ".join(unchanged))
    qa = report.get("qa", {})
    if qa:
        lines.append(f"QA: watertight={qa.get('watertight')}, manifold3d={qa.get('manifold3d')}, "
                     f"thickness {qa.get('min_thickness_mm')}-{qa.get('max_thickness_mm')} mm")
    lines += _shell_lines(report.get("shell"))
    return "\n".join(textwrap.fill(line, width, subsequent_indent="    ") for line in lines)


def _shell_lines(shell: dict | None) -> list[str]:
    """A shell's figures as built (the report's ``shell`` section), as short lines; none for a solid."""
    if not shell:
        return []
    nt = shell["normal_thickness"]
    lines = [f"shell ({shell.get('material', 'as measured')}) along the normal: min {nt['min_mm']}, P5 {nt['p5_mm']}, "
             f"P50 {nt['p50_mm']}, P95 {nt['p95_mm']} mm" + (f" (prescribed {nt['prescribed_mm']})" if "prescribed_mm" in nt else "")]
    if shell.get("trim_edge"):
        trim = shell["trim_edge"]
        lines.append(f"trim edge {trim['behind_mtpj1_mm']} / {trim['behind_mtpj5_mm']} mm behind the 1st / 5th head")
    if shell.get("post"):
        post = shell["post"]
        lines.append(f"{post['kind']} post: {post['rearfoot_deg']} deg, motion {post['motion_deg']} deg, "
                     f"flat to {post['flat_end_mm']} mm, bottom plane residual {post['bottom_plane_residual_mm']} mm")
    return lines


def section(mesh, y: float) -> list[tuple[np.ndarray, int]]:
    """The mesh cut by the plane at ``y`` (mm), seen from the side: closed (k, 2) rings of (x, z),
    each with the index of the body it cuts (bodies largest first: a shell before its post)."""
    import shapely
    import trimesh

    bodies = sorted(mesh.split(only_watertight=False), key=lambda b: -b.area)
    out = []
    for index, body in enumerate(bodies):
        lines = trimesh.intersections.mesh_plane(body, [0.0, 1.0, 0.0], [0.0, y, 0.0])
        if not len(lines):
            continue
        for ring in shapely.get_parts(shapely.polygonize(shapely.linestrings(np.round(lines[:, :, [0, 2]], 5)))):
            out.append((np.asarray(ring.exterior.coords), index))
    return out


LANDMARK_NAMES = {"heel_centre": "heel centre", "arch_apex": "arch apex", "mtpj1": "1st met head",
                  "mtpj5": "5th met head", "met_pad_apex": "pad apex"}


SEEN_MM = 0.5  # the top seen from above is sampled this finely
SEEN_SLACK_MM = 0.3  # an upward face this close under the lowest top sampled around it is the top


def top_surface(mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The faces seen from above: vertices (n, 3) float, mm; triangles (t, 3) int into them;
    rim (e, 2, 2) float, mm: the edges bounding them (the insert's outline, exact, not stepped).
    An upward face under the top (a lattice's sheet under its skin, a post under a shell) is not
    seen: its centre lies below the lowest top sampled within a sample of it (a steep face of the
    top itself lies between the samples around it)."""
    from scipy import ndimage

    up = mesh.face_normals[:, 2] > 1e-3
    xs, ys, seen = height_grid(mesh, SEEN_MM)
    lowest = ndimage.minimum_filter(np.nan_to_num(seen, nan=-np.inf), size=3, mode="nearest")
    centre = mesh.triangles_center
    i = np.clip(np.round((centre[:, 1] - ys[0]) / SEEN_MM).astype(int), 0, len(ys) - 1)
    j = np.clip(np.round((centre[:, 0] - xs[0]) / SEEN_MM).astype(int), 0, len(xs) - 1)
    up &= centre[:, 2] >= lowest[i, j] - SEEN_SLACK_MM
    used, triangles = np.unique(mesh.faces[up], return_inverse=True)
    triangles = triangles.reshape(-1, 3)
    edges = np.sort(np.vstack([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1)
    unique, count = np.unique(edges, axis=0, return_counts=True)
    vertices = mesh.vertices[used]
    return vertices, triangles, vertices[unique[count == 1]][:, :, :2]


def _lattice_cut(ax, mesh, y: float, span) -> None:
    """A lattice insert cut along the foot at y (mm), its material filled: the sheet, the skin
    and the open bottom show."""
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    section = mesh.section(plane_origin=(0.0, y, 0.0), plane_normal=(0.0, 1.0, 0.0))
    if section is not None:
        codes, points = [], []
        for loop in section.discrete:  # closed loops in 3D; x and z span the cut's plane
            points += [loop[:, [0, 2]], loop[:1, [0, 2]]]
            codes += [MplPath.MOVETO] + [MplPath.LINETO] * (len(loop) - 1) + [MplPath.CLOSEPOLY]
        ax.add_patch(PathPatch(MplPath(np.vstack(points), codes), facecolor="C0", edgecolor="k", lw=0.3))
    ax.set_xlim(span[0] - 4, span[1] + 4)
    ax.set_ylim(-1, mesh.bounds[1, 2] + 2)
    ax.set_xlabel("x, mm")
    ax.set_ylabel("z, mm")
    ax.set_title(f"cut along the foot at y = {y:.0f} mm (material filled; heights drawn 2x)", fontsize=11)
    ax.set_aspect(2.0)


def png(mesh, report: dict, out: Path) -> bytes:
    """Top view coloured by height with contours and landmarks, medial profile, shaded 3D view."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.tri import Triangulation

    vertices, triangles, rim = top_surface(mesh)
    tri = Triangulation(vertices[:, 0], vertices[:, 1], triangles)
    z = vertices[:, 2]
    (x0, y0), (x1, y1) = vertices[:, :2].min(axis=0), vertices[:, :2].max(axis=0)
    fig = plt.figure(figsize=(15, 6.8), dpi=100, layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[2.1, 1], height_ratios=[1.55, 1])
    top = fig.add_subplot(grid[0, 0])
    under = _load_under(top, report)
    shaded = top.tripcolor(tri, z, shading="gouraud", cmap="viridis", alpha=1.0 if under is None else 0.5)
    top.tricontour(tri, z, levels=np.arange(z.min() + 0.5, z.max(), 1.0), colors="k", linewidths=0.35, alpha=0.7)
    top.add_collection(LineCollection(rim, colors="k", linewidths=0.8))
    fig.colorbar(shaded, ax=top, label="top height, mm", shrink=0.9, pad=0.01)
    if under is not None:
        fig.colorbar(under, ax=top, label="peak pressure, kPa (under the insert)", shrink=0.9, pad=0.01)
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    marks = report.get("landmarks", {})
    for name, mark in marks.items():
        if isinstance(mark, dict) and "xy_mm" in mark:
            xy = np.array(mark["xy_mm"])
            top.plot(*xy, "o", color="red", ms=5, mec="white", mew=0.8)
            # the label leans towards the middle of the insert, so it never leaves the picture
            away = np.sign(centre - xy) * [1, 1]
            top.annotate(LANDMARK_NAMES.get(name, name), xy, textcoords="offset points", xytext=(8 * away[0], 10 * away[1]),
                         ha="left" if away[0] > 0 else "right", va="bottom" if away[1] > 0 else "top", fontsize=9,
                         color="darkred", bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})
    if marks.get("met_head_line"):
        top.plot(*np.array(marks["met_head_line"]).T, "--", color="red", lw=1)
    top.set_xlim(x0 - 4, x1 + 4)
    top.set_ylim(y0 - 4, y1 + 4)
    top.set_aspect("equal")
    top.set_title("top view (x heel to toe, y to the wearer's left, mm); contours every 1 mm", fontsize=11)

    side = fig.add_subplot(grid[1, 0])
    xs, ys, heights = height_grid(mesh, 1.0)
    shell = shell_of(mesh, report)
    if shell:
        _section_panel(side, mesh, {**report, "shell": shell}, (x0, x1))
    else:
        _profile_panel(side, xs, ys, heights, report, (x0, x1))
    if report.get("prescription", {}).get("lattice", {}).get("type", "none") != "none":
        side.clear()  # a lattice insert: a cut through it says more than its profile
        _lattice_cut(side, mesh, (y0 + y1) / 2, (x0, x1))

    view = fig.add_subplot(grid[0, 1], projection="3d")
    view.plot_trisurf(tri, z, cmap="viridis", linewidth=0, antialiased=False, shade=True)
    view.set_box_aspect((x1 - x0, y1 - y0, max(z.max(), 1) * 2), zoom=1.12)
    view.view_init(elev=32, azim=-125)
    view.set_axis_off()
    view.margins(0)
    words = fig.add_subplot(grid[1, 1])
    words.set_axis_off()
    text = _prescription_text({**report, "shell": shell}, 58)
    # the text stays out of the layout (a long prescription would squeeze the views) and is set
    # small enough to fit the cell the layout leaves it: monospace, 0.6 em wide, 1.25 em a line
    fig.canvas.draw()
    cell = words.get_position()
    height_pt, width_pt = cell.height * fig.get_figheight() * 72, cell.width * fig.get_figwidth() * 72
    lines = text.splitlines()
    size = min(8.5, height_pt / (1.25 * len(lines)), width_pt / (0.6 * max(map(len, lines))))
    words.text(0, 1, text, fontsize=size, va="top", family="monospace", transform=words.transAxes, in_layout=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _profile_panel(side, xs, ys, heights, report: dict, span: tuple[float, float]) -> None:
    """A solid's medial side profile: the highest top over the medial half, the lowest across."""
    medial = 1 if report.get("side", "right") == "right" else -1
    half = ys * medial > 0
    with warnings.catch_warnings():  # columns the insert does not reach (a narrow midfoot) stay blank
        warnings.simplefilter("ignore", RuntimeWarning)
        highest, lowest = np.nanmax(np.where(half[:, None], heights, np.nan), axis=0), np.nanmin(heights, axis=0)
    side.fill_between(xs, 0, lowest, color="0.85", label="lowest across")
    side.plot(xs, highest, color="C0", label="medial half (highest)")
    side.plot(xs, lowest, color="C1", lw=0.8)
    side.set_xlim(span[0] - 4, span[1] + 4)
    side.set_ylim(0, np.nanmax(heights) * 1.15)
    side.set_xlabel("x, mm")
    side.set_ylabel("z, mm")
    side.legend(fontsize=8, loc="upper right")
    side.set_title("medial side profile (heights drawn 2x)", fontsize=11)
    side.set_aspect(2.0)


def shell_of(mesh, report: dict) -> dict | None:
    """The report's ``shell`` section; for a mesh with no report of ours, what :mod:`insolegen.sheet`
    measures on it if it is a shell ({"normal_thickness": ...}); None for a solid."""
    if report.get("prescription"):
        return report.get("shell")
    from . import sheet

    measured = sheet.measure(mesh.vertices, mesh.faces)
    return {"normal_thickness": measured} if measured else None


def _section_panel(side, mesh, report: dict, span: tuple[float, float]) -> None:
    """A shell's section along its length, medial of the heel centre (through the heel seat, the
    post and the arch): the sheet and the post filled, each its own colour."""
    from matplotlib.patches import Polygon as Patch

    marks = report.get("landmarks", {})
    heel = marks.get("heel_centre", {}).get("xy_mm", [0.0, mesh.bounds[:, 1].mean()])[1]  # no report: the middle
    apex = marks.get("arch_apex", {}).get("xy_mm", [0.0, heel])[1]
    y = heel + 0.4 * (apex - heel)
    post = (report["shell"].get("post") or {}).get("kind")
    names = ("sheet and its intrinsic post (one body)" if post == "intrinsic" else "sheet", f"{post or 'separate'} post")
    for ring, body in section(mesh, y):
        label = names[min(body, 1)]
        side.add_patch(Patch(ring, closed=True, fc=("C0", "C1")[min(body, 1)], ec="k", lw=0.4, alpha=0.8,
                             label=label if label not in side.get_legend_handles_labels()[1] else None))
    side.axhline(0, color="0.5", lw=0.6)
    side.set_xlim(span[0] - 4, span[1] + 4)
    side.set_ylim(-1, mesh.bounds[1, 2] * 1.15)
    side.set_xlabel("x, mm")
    side.set_ylabel("z, mm")
    side.legend(fontsize=8, loc="upper right")
    nt = report["shell"]["normal_thickness"]
    side.set_title(f"section at y = {round(y)} mm (heights drawn 2x): sheet {nt['p50_mm']} mm along the normal", fontsize=11)
    side.set_aspect(2.0)


def _load_under(ax, report: dict):
    """The peak-pressure map of a build from load drawn on ``ax`` where it lies under the insert
    (its recording read again); its colour-mapped cells, or None (no load, the mesh kept in the
    input frame, or the recording gone)."""
    doc = report.get("pressure")
    if not doc or report.get("keep_input_frame"):
        return None
    from .pressure import picture, register

    load = register.from_report(doc)
    return None if load is None else picture.draw_peak_map(ax, load.laid(), upright=False)


_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>insolegen preview</title>
<style>body{font-family:sans-serif;margin:0;display:flex}canvas{background:#f4f4f4;cursor:grab}
pre{padding:12px;font-size:12px;max-width:34em;white-space:pre-wrap}</style></head>
<body><canvas id="c" width="900" height="700"></canvas><pre id="info"></pre>
<script>
const DATA = __DATA__;
const info = document.getElementById("info"); info.textContent = DATA.text + "\\n\\ndrag to turn, wheel to zoom";
const c = document.getElementById("c"), g = c.getContext("2d");
const V = DATA.vertices, F = DATA.faces, zmax = DATA.zmax;
let yaw = -0.6, pitch = 0.9, zoom = 2.6, drag = null;
function colour(z, light) {
  const t = Math.max(0, Math.min(1, z / zmax));
  const r = 68 + t * 185, gg = 1 + t * 230, b = 84 + (1 - t) * 60;
  return `rgb(${r * light | 0},${gg * light | 0},${b * light | 0})`;
}
function draw() {
  g.clearRect(0, 0, c.width, c.height);
  const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
  const P = V.map(([x, y, z]) => { x -= DATA.cx; y -= DATA.cy;
    const x1 = cy * x - sy * y, y1 = sy * x + cy * y;
    return [x1, cp * y1 - sp * z, sp * y1 + cp * z]; });
  const order = F.map((f, i) => [P[f[0]][2] + P[f[1]][2] + P[f[2]][2], i]).sort((a, b) => a[0] - b[0]);
  for (const [, i] of order) {
    const [a, b, d] = F[i].map(k => P[k]);
    const ux = b[0] - a[0], uy = b[1] - a[1], uz = b[2] - a[2], vx = d[0] - a[0], vy = d[1] - a[1], vz = d[2] - a[2];
    const nx = uy * vz - uz * vy, ny = uz * vx - ux * vz, nz = ux * vy - uy * vx;
    const light = 0.35 + 0.65 * Math.abs(nz) / Math.hypot(nx, ny, nz);
    g.fillStyle = g.strokeStyle = colour((V[F[i][0]][2] + V[F[i][1]][2] + V[F[i][2]][2]) / 3, light);
    g.beginPath();
    for (const p of [a, b, d]) g.lineTo(c.width / 2 + zoom * p[0], c.height / 2 - zoom * p[1]);
    g.closePath(); g.fill(); g.stroke();
  }
}
c.onmousedown = e => drag = [e.clientX, e.clientY, yaw, pitch];
window.onmouseup = () => drag = null;
window.onmousemove = e => { if (!drag) return; yaw = drag[2] + (e.clientX - drag[0]) / 200;
  pitch = Math.max(0, Math.min(3.1, drag[3] + (e.clientY - drag[1]) / 200)); draw(); };
c.onwheel = e => { e.preventDefault(); zoom *= e.deltaY < 0 ? 1.1 : 0.9; draw(); };
draw();
document.title = "insolegen preview: " + F.length + " faces";
</script></body></html>
"""


def _grid_surface(xs: np.ndarray, ys: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The grid heights z (ny, nx) (NaN outside) as vertices (n, 3) and triangles (t, 3), facing up."""
    index = -np.ones(z.shape, int)
    inside = ~np.isnan(z)
    index[inside] = np.arange(inside.sum())
    gx, gy = np.meshgrid(xs, ys)
    a, b, c, d = index[:-1, :-1], index[:-1, 1:], index[1:, :-1], index[1:, 1:]
    faces = np.vstack([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    return np.c_[gx[inside], gy[inside], z[inside]], faces[(faces >= 0).all(axis=1)]


def html(mesh, report: dict) -> bytes:
    """A page that turns and zooms the insert with no network request (viewer code inlined);
    a shell's underside (and post) too, so that turned over it shows the sheet."""
    xs, ys, z = height_grid(mesh, 2.5)
    vertices, faces = _grid_surface(xs, ys, z)
    shell = shell_of(mesh, report)
    if shell:
        under, under_faces = _grid_surface(*height_grid(mesh, 2.5, underside=True))
        vertices, faces = np.vstack([vertices, under]), np.vstack([faces, under_faces[:, ::-1] + len(vertices)])
    data = {
        "vertices": np.round(vertices, 2).tolist(), "faces": faces.tolist(), "zmax": float(np.nanmax(z)),
        "cx": float(np.mean(xs)), "cy": float(np.mean(ys)), "text": _prescription_text({**report, "shell": shell}),
    }
    return _HTML.replace("__DATA__", json.dumps(data)).encode()


def preview(mesh_path: str | Path, out: str | Path) -> Path:
    """Write ``out`` (.png or .html) for the mesh at ``mesh_path`` (its report beside it, if any)."""
    from .check import load_mesh
    from .export import write_bytes

    mesh_path, out = Path(mesh_path), Path(out)
    if out.suffix.lower() not in (".png", ".html"):
        raise InputError(f"{out}: a preview is .png or .html, not '{out.suffix}'")
    mesh = load_mesh(mesh_path)
    report = _report_beside(mesh_path)
    if out.suffix.lower() == ".png":
        try:
            data = png(mesh, report, out)
        except ModuleNotFoundError:
            raise InputError("a PNG preview needs matplotlib: pip install 'insolegen[preview]'") from None
    else:
        data = html(mesh, report)
    return write_bytes(out, data)


def scan_preview(mesh_path: str | Path, scan_path: str | Path, out: str | Path) -> Path:
    """A PNG of the insert's top seen from above with the scan's points over it, each coloured by
    its height above the top (an orthotist sees where the foot leaves the insert), and a section
    along the medial arch; the scan is carried by the build report's transform."""
    from .check import load_mesh
    from .export import write_bytes
    from .scan import fit

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise InputError(f"{out}: a scan preview is a .png, not '{out.suffix}'")
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise InputError("a PNG preview needs matplotlib: pip install 'insolegen[preview]'") from None
    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt
    from scipy.interpolate import RegularGridInterpolator

    mesh = load_mesh(mesh_path)
    points, _ = fit.scan_in_output(scan_path, mesh_path)
    xs, ys, z = height_grid(mesh, 1.0)
    top = RegularGridInterpolator((ys, xs), z, bounds_error=False, fill_value=np.nan)(points[:, [1, 0]])
    over = ~np.isnan(top) & (points[:, 2] - top < 15.0)  # the sole, not the foot's far side
    fig, (view, cut) = plt.subplots(2, 1, figsize=(12, 9), dpi=100, gridspec_kw={"height_ratios": [2, 1]})
    view.pcolormesh(xs, ys, z, shading="nearest", cmap="Greys", alpha=0.6)
    dots = view.scatter(points[over, 0], points[over, 1], c=points[over, 2] - top[over], s=2, cmap="coolwarm", vmin=-2, vmax=2)
    fig.colorbar(dots, ax=view, label="scan point above the top, mm", fraction=0.03)
    view.set_aspect("equal")
    view.set_title(f"{Path(scan_path).name} over {Path(mesh_path).name} (top view)")
    report = _report_beside(Path(mesh_path))
    apex = report.get("scan", {}).get("arch_apex", {}).get("xy_mm", [0.0, float(np.mean(ys))])
    row = int(np.argmin(np.abs(ys - apex[1])))
    near = over & (np.abs(points[:, 1] - ys[row]) < 1.0)
    cut.plot(xs, z[row], color="k", label=f"insert top at y = {ys[row]:.0f} mm")
    cut.plot(points[near, 0], points[near, 2], ".", ms=2, color="tab:red", label="scan points within 1 mm")
    cut.set_xlabel("x, mm")
    cut.set_ylabel("z, mm")
    cut.legend(fontsize=8)
    view.axhline(ys[row], color="tab:red", lw=0.6)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return write_bytes(out, buffer.getvalue())
