"""Milling an insert from a block: raster roughing by step-downs, then a ball-end finish.

The block (stock) sits on the table with its bottom at z = 0, the insert's bottom. Every pass is
a raster of rows along x, stepping in y. Along a row the tool tip follows the drop-cutter height
(dropcutter.py) sampled adaptively: a segment is split until the straight move between its ends
stays within GOUGE_MM of the exact height at its middle and quarters, so a straight G1 does not cut into the
part where the surface bulges; where the height jumps (the tool leaving the insert's rim) the
move goes over at the higher height and then straight down.

Entry point for programs: :func:`mill_program` (vertices, faces, options) -> (G-code text, report).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InputError
from . import gcode
from ..scanline import expand
from .dropcutter import Cutter, DropCutter

RAPID_MM_PER_MIN = 5000.0  # assumed rapid traverse rate for the time estimate (controllers differ)
GOUGE_MM = 0.002  # a straight move may dip at most this far below the exact tool height
FINISH_LEAVE_MM = 0.005  # ... and rise this far above it while finishing (extra material left)
ROUGH_LEAVE_MM = 0.05
SHORTEST_MM = 0.005  # segments are not split below this length; a jump there becomes a step
FINISH_SPACING_MM = 0.5  # first samples along a finishing row, before refinement
ROUGH_SPACING_MM = 1.0
GCODE_SUFFIXES = (".nc", ".ngc", ".gcode", ".tap")
APPROACH_MM = 1.0
RIDGE_MARGIN_MM = 0.01  # a half-way row is added where the ridge would stand this much over the promise
MAX_ROW_HALVINGS = 5  # height above the highest material from which a plunge starts at the plunge feed


@dataclass(frozen=True)
class MillOptions:
    """What the `insolegen cam` options set. tool: the roughing cutter (the finish is always a ball
    of the same diameter; a flat roughing tool means a tool change). stock_top_mm and safe_z_mm:
    None = the mesh top + 1 mm, and the stock top + 5 mm."""

    tool: str = "flat"
    tool_diameter_mm: float = 6.0
    stepover_mm: float = 1.0
    feed_mm_per_min: float = 1500.0
    plunge_feed_mm_per_min: float = 400.0
    spindle_rpm: float = 18000.0
    stock_top_mm: float | None = None
    allowance_mm: float = 0.5
    safe_z_mm: float | None = None
    step_down_mm: float = 3.0
    rough_stepover_mm: float | None = None  # None: 40 % of the tool diameter

    def checked(self, mesh_top: float) -> MillOptions:
        """These options with the defaults filled in, or an InputError naming the option to fix."""
        if self.tool not in ("ball", "flat"):
            raise InputError(f"--tool '{self.tool}' is unknown; use ball or flat")
        positive = {"--tool-diameter": self.tool_diameter_mm, "--stepover": self.stepover_mm, "--feed": self.feed_mm_per_min,
                    "--plunge-feed": self.plunge_feed_mm_per_min, "--spindle": self.spindle_rpm, "--step-down": self.step_down_mm}
        if self.rough_stepover_mm is not None:
            positive["--rough-stepover"] = self.rough_stepover_mm
        for name, value in positive.items():
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InputError(f"{name} {value} must be a positive number")
        if not 0.5 <= self.tool_diameter_mm <= 50:
            raise InputError(f"--tool-diameter {self.tool_diameter_mm:g} mm is outside 0.5-50 mm; insert cutters are 3-12 mm")
        for name, value in (("--stepover", self.stepover_mm), ("--rough-stepover", self.rough_stepover_mm)):
            if value is not None and value >= self.tool_diameter_mm:
                raise InputError(f"{name} {value:g} mm is not less than the tool diameter {self.tool_diameter_mm:g} mm; "
                                 f"give less (e.g. {self.tool_diameter_mm / 6:.2g} mm for a fine finish)")
        if not (math.isfinite(self.allowance_mm) and 0 <= self.allowance_mm <= 10):
            raise InputError(f"--allowance {self.allowance_mm} mm must be between 0 and 10 mm")
        stock_top = mesh_top + 1.0 if self.stock_top_mm is None else self.stock_top_mm
        if not (math.isfinite(stock_top) and stock_top >= mesh_top):
            raise InputError(f"--stock-top {stock_top:g} mm is below the mesh top ({mesh_top:.3f} mm); "
                             f"give at least {math.ceil(mesh_top * 100) / 100:g} mm")
        safe_z = stock_top + 5.0 if self.safe_z_mm is None else self.safe_z_mm
        if not (math.isfinite(safe_z) and safe_z > stock_top):
            raise InputError(f"--safe-z {safe_z:g} mm is not above the stock top ({stock_top:g} mm); give more")
        rough = 0.4 * self.tool_diameter_mm if self.rough_stepover_mm is None else self.rough_stepover_mm
        return MillOptions(**{**asdict(self), "stock_top_mm": float(stock_top), "safe_z_mm": float(safe_z),
                              "rough_stepover_mm": float(rough)})


def scallop_height(diameter_mm: float, stepover_mm: float) -> float:
    """Height of the ridge a ball of this diameter leaves between rows stepover_mm apart on a flat: r - sqrt(r^2 - (s/2)^2)."""
    r = diameter_mm / 2.0
    return r - math.sqrt(r * r - (stepover_mm / 2.0) ** 2)


def mill_program(vertices: np.ndarray, faces: np.ndarray, options: MillOptions | None = None,
                 mesh_name: str = "mesh", mesh_sha256: str | None = None) -> tuple[str, dict]:
    """The G-code program (text) and its toolpath report (dict) for an insert mesh.

    vertices (n, 3) float mm, with the insert's bottom at z = 0; faces (f, 3) int. mesh_sha256:
    of the mesh file, named in the header (default: of the vertex and face arrays)."""
    vertices, faces = np.asarray(vertices, float), np.asarray(faces, np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3 or not len(faces):
        raise InputError(f"{mesh_name}: holds no triangles; give an insert mesh")
    if not np.isfinite(vertices).all():
        raise InputError(f"{mesh_name}: has vertices that are not finite numbers; re-export the mesh")
    low, high = vertices.min(axis=0), vertices.max(axis=0)
    if abs(low[2]) > 0.01 or high[2] <= 0.01:
        raise InputError(f"{mesh_name}: its bottom is at z = {low[2]:.3f} mm, the program needs it at z = 0 "
                         "(export the insert as built, without --keep-input-frame)")
    opt = (options or MillOptions()).checked(float(high[2]))
    sha = mesh_sha256 or hashlib.sha256(vertices.tobytes() + faces.tobytes()).hexdigest()
    d = opt.tool_diameter_mm
    stock = np.array([[low[0] - d, low[1] - d, 0.0], [high[0] + d, high[1] + d, opt.stock_top_mm]])
    rough_cutter, ball = Cutter(opt.tool, d), Cutter("ball", d)
    finish_tool = 1 if opt.tool == "ball" else 2
    tools = {1: f"{opt.tool} end mill D{d:g} mm"}
    if finish_tool == 2:
        tools[2] = f"ball end mill D{d:g} mm"

    rough_dc = DropCutter(vertices, faces, rough_cutter)
    ball_dc = DropCutter(vertices, faces, ball)
    rough, rough_levels = _roughing(rough_dc, opt, stock)
    finish = _finishing(ball_dc, opt, stock, low, high, finish_tool)

    scallop = scallop_height(d, opt.stepover_mm)
    header = [
        "insolegen cam: 3-axis milling program for an orthotic insert",
        f"mesh: {mesh_name} sha256 {sha}",
        "units: mm; X Y Z are the mesh's own millimetres, the insert's bottom on the table at Z 0; Z is the tool tip",
        f"stock: X {stock[0, 0]:.3f}..{stock[1, 0]:.3f} Y {stock[0, 1]:.3f}..{stock[1, 1]:.3f} Z 0..{opt.stock_top_mm:.3f}",
        *[f"tool T{n}: {text}" for n, text in tools.items()],
        f"roughing: T1, stepover {opt.rough_stepover_mm:g} mm, step-down {opt.step_down_mm:g} mm, allowance {opt.allowance_mm:g} mm",
        f"finishing: T{finish_tool} ball, stepover {opt.stepover_mm:g} mm, scallop {scallop:.4f} mm",
        f"feed {opt.feed_mm_per_min:g} mm/min, plunge {opt.plunge_feed_mm_per_min:g} mm/min, spindle {opt.spindle_rpm:g} rpm, "
        f"safe Z {opt.safe_z_mm:g} mm",
    ]
    text = gcode.program(header, tools, [rough, finish], opt.feed_mm_per_min, opt.plunge_feed_mm_per_min,
                         opt.spindle_rpm, opt.safe_z_mm)
    rough_stats = _pass_figures(rough, rough_dc, opt)
    finish_stats = _pass_figures(finish, ball_dc, opt)
    everything = np.vstack([gcode.rounded(p) for one in (rough, finish) for _, p in one.moves])
    total = {k: rough_stats[k] + finish_stats[k] for k in ("cutting_mm", "plunge_mm", "rapid_mm", "minutes")}
    report = {
        "mesh": mesh_name,
        "mesh_sha256": sha,
        "units": "mm",
        "stock_mm": {"min": stock[0].round(3).tolist(), "max": stock[1].round(3).tolist()},
        "tools": {f"T{n}": text for n, text in tools.items()},
        "options": asdict(opt),
        "roughing": {"tool": "T1", "levels": rough_levels, **rough_stats},
        "finishing": {"tool": f"T{finish_tool}", "stepover_mm": opt.stepover_mm, "scallop_mm": round(scallop, 5), **finish_stats},
        "path_length_mm": {"cutting": round(total["cutting_mm"] + total["plunge_mm"], 1), "rapid": round(total["rapid_mm"], 1)},
        "machining_time_min": round(total["minutes"], 2),
        "rapid_rate_mm_per_min": RAPID_MM_PER_MIN,
        "scallop_mm": round(scallop, 5),
        "least_clearance_mm": min(rough_stats["least_clearance_mm"], finish_stats["least_clearance_mm"]),
        "bounds_mm": {"min": everything.min(axis=0).round(3).tolist(), "max": everything.max(axis=0).round(3).tolist()},
        "program_lines": text.count("\n"),
    }
    return text, report


def summary(path: str, report: dict) -> str:
    """One line for a person."""
    return (f"{path}: {len(report['tools'])} tool(s), roughing {report['roughing']['levels']} levels, finishing "
            f"{report['finishing']['stepover_mm']:g} mm stepover (scallop {report['scallop_mm']:.3f} mm); cutting "
            f"{report['path_length_mm']['cutting'] / 1000:.1f} m, rapid {report['path_length_mm']['rapid'] / 1000:.1f} m, "
            f"about {report['machining_time_min']:.0f} min; least clearance {report['finishing']['least_clearance_mm']:.3f} mm "
            f"finishing, {report['roughing']['least_clearance_mm']:.3f} mm roughing")


def _rows(lo: float, hi: float, step: float) -> np.ndarray:
    """Positions from lo to hi (both included), evenly spaced at most step apart, on the program's
    0.001 mm grid (so the program runs the tool exactly where its height was computed)."""
    n = max(int(math.ceil((hi - lo) / step - 1e-9)), 1)
    return np.round(np.linspace(lo, hi, n + 1), 3)


def _refine(height, row_y, row, x, gouge, leave):
    """Sample each row's height adaptively. height(row_y, row, x) -> z; row, x (n,) sorted by (row, x).
    Returns (row, x, z), sorted, such that straight moves between samples stay within ``gouge``
    below and ``leave`` above the height at every segment's middle; at the shortest length a
    segment that still fails becomes a step over at the highest height found inside it."""
    z = height(row_y, row, x)
    todo = np.ones(len(x), bool)  # the segment from sample i to i + 1 is still to check
    tie = np.zeros(len(x))  # order of samples at one x: steps put their corners before/after
    while True:
        seg = np.flatnonzero(todo[:-1] & (row[:-1] == row[1:]))
        todo[:] = False
        if not len(seg):
            break
        mid = 0.5 * (x[seg] + x[seg + 1])
        t = np.array([0.25, 0.5, 0.75])  # a quarter and the middle: curvature can change within a segment
        probe = x[seg, None] + t * (x[seg + 1] - x[seg])[:, None]
        zp = height(row_y, np.repeat(row[seg], 3), probe.ravel()).reshape(-1, 3)
        chord = z[seg, None] + t * (z[seg + 1] - z[seg])[:, None]
        bad = ((zp - chord > gouge) | (chord - zp > leave)).any(axis=1)
        short = (x[seg + 1] - x[seg]) < 2 * SHORTEST_MM
        split, step = seg[bad & ~short], seg[bad & short]
        at = np.round(mid[bad & ~short], 3)  # new samples stay on the program's 0.001 mm grid
        new_row, new_x, new_z = [row[split]], [at], [height(row_y, row[split], at)]
        new_tie, new_todo = [np.zeros(len(split))], [np.ones(len(split), bool)]
        todo[split] = True
        if len(step):
            inner = np.linspace(0, 1, 7)[1:-1]
            xs = np.round(x[step, None] + inner * (x[step + 1] - x[step])[:, None], 3)
            zin = height(row_y, np.repeat(row[step], len(inner)), xs.ravel()).reshape(xs.shape)
            top = np.maximum(np.maximum(z[step], z[step + 1]), zin.max(axis=1))
            for at, side in ((x[step], 1.0), (x[step + 1], -1.0)):
                new_row.append(row[step]), new_x.append(at), new_z.append(top)
                new_tie.append(np.full(len(step), side)), new_todo.append(np.zeros(len(step), bool))
        row, x, z = np.r_[row, *new_row], np.r_[x, *new_x], np.r_[z, *new_z]
        tie, todo = np.r_[tie, *new_tie], np.r_[todo, *new_todo]
        order = np.lexsort((tie, x, row))
        row, x, z, tie, todo = row[order], x[order], z[order], tie[order], todo[order]
    return row, x, z


def _grid(row_y: np.ndarray, x_lo: float, x_hi: float, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    xs = _rows(x_lo, x_hi, spacing)
    return np.repeat(np.arange(len(row_y)), len(xs)), np.tile(xs, len(row_y))


def _roughing(dc: DropCutter, opt: MillOptions, stock: np.ndarray) -> tuple[gcode.Pass, int]:
    """Layers from the stock top down, each a zigzag raster at max(layer, surface + allowance);
    a row is cut only where the layer above left material (widened by the tool radius)."""
    r = dc.cutter.radius
    row_y = _rows(stock[0, 1], stock[1, 1], opt.rough_stepover_mm)
    row, x = _grid(row_y, stock[0, 0], stock[1, 0], ROUGH_SPACING_MM)

    def height(ry, rw, xx):
        return dc.heights(ry, rw, xx) + opt.allowance_mm

    row, x, z = _refine(height, row_y, row, x, GOUGE_MM, ROUGH_LEAVE_MM)
    bounds = np.searchsorted(row, np.arange(len(row_y) + 1))
    one = gcode.Pass("roughing", 1)
    levels = []
    level = opt.stock_top_mm
    while level > opt.allowance_mm + 1e-9:
        above, level = level, max(level - opt.step_down_mm, opt.allowance_mm)
        levels.append(level)
        for k in range(len(row_y)):
            xs, zs = x[bounds[k]:bounds[k + 1]], z[bounds[k]:bounds[k + 1]]
            xs, zs = _with_crossings(xs, zs, level)
            forward = (k + len(levels)) % 2 == 0
            for a, b in _runs(xs, zs < above - 1e-6, r)[::1 if forward else -1]:
                path = np.c_[xs[a:b], np.full(b - a, row_y[k]), np.maximum(zs[a:b], level)]
                _cut(one, path if forward else path[::-1], above, opt.safe_z_mm)
    return one, len(levels)


def _with_crossings(xs: np.ndarray, zs: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The row's samples with a sample added wherever the straight line between two crosses ``level``."""
    a, b = zs[:-1] - level, zs[1:] - level
    cross = np.flatnonzero(a * b < 0)
    t = a[cross] / (a[cross] - b[cross])
    xc = np.round(xs[cross] + t * (xs[cross + 1] - xs[cross]), 3)
    order = np.argsort(np.r_[np.arange(len(xs)), cross + 0.5], kind="stable")
    return np.r_[xs, xc][order], np.r_[zs, np.full(len(cross), level)][order]


def _runs(xs: np.ndarray, mask: np.ndarray, reach: float) -> list[tuple[int, int]]:
    """[start, stop) index ranges of the samples within ``reach`` (along x) of a sample in ``mask``."""
    if not mask.any():
        return []
    hits = xs[mask]
    left = np.searchsorted(hits, xs - reach, "left")
    near = (left < len(hits)) & (hits[np.minimum(left, len(hits) - 1)] <= xs + reach)
    edges = np.flatnonzero(np.diff(np.r_[0, near.astype(np.int8), 0]))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _cut(one: gcode.Pass, path: np.ndarray, material_top: float, safe_z: float) -> None:
    """Retract, rapid over the start, rapid down to APPROACH_MM over the material (material_top or
    the start, the higher), plunge, then cut along path (k, 3)."""
    start = path[0]
    approach = min(max(material_top, start[2]) + APPROACH_MM, safe_z)
    one.add("rapid", [[*start[:2], safe_z], [*start[:2], approach]])
    one.add("plunge", start)
    one.add("cut", path[1:])
    one.add("rapid", [*path[-1, :2], safe_z])


def _finishing(dc: DropCutter, opt: MillOptions, stock: np.ndarray, low, high, tool: int) -> gcode.Pass:
    """Zigzag rows stepover apart over the insert, each trimmed to the insert plus a lead of the
    tool radius + 1 mm on the table. Where the surface is steep across the rows the ridge left
    between two rows stands taller than on a flat, so half-way rows are added there (as pieces)
    until the ridge is within what the stepover promises."""
    r = dc.cutter.radius
    lead = r + 1.0
    row_y = _rows(max(low[1] - r, stock[0, 1]), min(high[1] + r, stock[1, 1]), opt.stepover_mm)
    xs = _rows(max(low[0] - lead, stock[0, 0]), min(high[0] + lead, stock[1, 0]), FINISH_SPACING_MM)

    def grid(ys):
        return dc.heights(ys, *_grid(ys, xs[0], xs[-1], FINISH_SPACING_MM)).reshape(len(ys), len(xs))

    z = grid(row_y)
    need = np.ones(z.shape, bool)
    limit = scallop_height(dc.cutter.diameter_mm, opt.stepover_mm) + RIDGE_MARGIN_MM
    reach = int(math.ceil(lead / FINISH_SPACING_MM))
    for _ in range(MAX_ROW_HALVINGS):
        ridge = _ridge(r, np.diff(row_y)[:, None], np.diff(z, axis=0))
        inside = _eroded(z > dc.floor + 1e-9, int(math.ceil(r / FINISH_SPACING_MM)))  # not where it rolls over the rim
        tall = (ridge > limit) & need[:-1] & need[1:] & inside[:-1] & inside[1:] & (np.diff(row_y)[:, None] > 2 * 0.001)
        gaps = np.flatnonzero(tall.any(axis=1))
        if not len(gaps):
            break
        new_y = np.round(0.5 * (row_y[gaps] + row_y[gaps + 1]), 3)
        wide = np.zeros((len(gaps), len(xs) + 2 * reach), bool)  # where the ridge is tall, widened by the lead
        for shift in range(2 * reach + 1):
            wide[:, shift:shift + len(xs)] |= tall[gaps]
        order = np.argsort(np.r_[row_y, new_y], kind="stable")
        row_y, z = np.r_[row_y, new_y][order], np.vstack([z, grid(new_y)])[order]
        need = np.vstack([need, wide[:, reach:reach + len(xs)]])[order]
    keep = need & ~_eroded(z <= dc.floor + 1e-9, reach)  # each row trimmed to the insert plus the lead
    # One piece of a row per run of kept samples; pieces are refined as rows of their own.
    piece_row, piece_lo, piece_hi = [], [], []
    for k in range(len(row_y)):
        edges = np.flatnonzero(np.diff(np.r_[0, keep[k].astype(np.int8), 0]))
        for lo, hi in zip(edges[0::2], edges[1::2]):
            piece_row.append(k), piece_lo.append(lo), piece_hi.append(hi)
    piece_row, piece_lo, piece_hi = np.array(piece_row, int), np.array(piece_lo, int), np.array(piece_hi, int)
    piece, i = expand(piece_lo, piece_hi - piece_lo)
    piece_y = row_y[piece_row]
    row, x, zz = _refine(dc.heights, piece_y, piece, xs[i], GOUGE_MM, FINISH_LEAVE_MM)
    one = gcode.Pass("finishing", tool)
    bounds = np.searchsorted(row, np.arange(len(piece_y) + 1))
    for p in range(len(piece_y)):
        part = slice(bounds[p], bounds[p + 1])
        path = np.c_[x[part], np.full(bounds[p + 1] - bounds[p], piece_y[p]), zz[part]]
        _cut(one, path if piece_row[p] % 2 == 0 else path[::-1], opt.stock_top_mm, opt.safe_z_mm)
    return one


def _eroded(mask: np.ndarray, reach: int) -> np.ndarray:
    """(r, n) bool: samples whose neighbours up to ``reach`` along the row (within it) are all in mask."""
    out = mask.copy()
    for shift in range(1, reach + 1):
        out[:, shift:] &= mask[:, :-shift]
        out[:, :-shift] &= mask[:, shift:]
    return out


def _ridge(r: float, dy: np.ndarray, dz: np.ndarray) -> np.ndarray:
    """Height above the surface, measured vertically, of the ridge a ball of radius r leaves between
    two rows dy apart whose tips differ by dz (a surface sloping across the rows: the ridge normal
    to it, r - sqrt(r^2 - (d/2)^2) with d the distance between the tips, grows by d/dy vertically)."""
    d = np.hypot(dy, dz)
    return (r - np.sqrt(np.maximum(r * r - d * d / 4.0, 0.0))) * d / dy


def _pass_figures(one: gcode.Pass, dc: DropCutter, opt: MillOptions) -> dict:
    """Lengths by kind of move, minutes at the feeds, and the least clearance: the lowest the
    programmed tip comes to the exact drop-cutter height of this pass's tool (at every sample and
    every segment's middle; negative would be a gouge)."""
    lengths = {"cut": 0.0, "plunge": 0.0, "rapid": 0.0}
    previous = None
    cuts = []
    for kind, points in one.moves:
        pts = gcode.rounded(points)
        chain = pts if previous is None else np.vstack([previous[None], pts])
        lengths[kind] += float(np.linalg.norm(np.diff(chain, axis=0), axis=1).sum())
        if kind == "cut":
            cuts.append(chain)
        previous = pts[-1]
    samples = np.vstack([np.vstack([c, 0.5 * (c[1:] + c[:-1])]) for c in cuts]) if cuts else np.zeros((0, 3))
    clearance = np.inf
    if len(samples):
        row_y, row = np.unique(samples[:, 1], return_inverse=True)
        clearance = float((samples[:, 2] - dc.heights(row_y, row, samples[:, 0])).min())
    minutes = lengths["cut"] / opt.feed_mm_per_min + lengths["plunge"] / opt.plunge_feed_mm_per_min + lengths["rapid"] / RAPID_MM_PER_MIN
    return {"cutting_mm": round(lengths["cut"], 1), "plunge_mm": round(lengths["plunge"], 1), "rapid_mm": round(lengths["rapid"], 1),
            "minutes": round(minutes, 2), "least_clearance_mm": round(clearance, 4)}
