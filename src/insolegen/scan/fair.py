"""Fairing a scan-molded top: no two neighbouring faces of the 0.5 mm mesh meet at over MAX_CREASE_DEG.

The fitted sole follows the foot closely, and where the foot's sole turns sharply (the sulcus,
where a whole foot's toe pads meet the ball; a rim's levelling over a steep wall) faces 0.5 mm
apart would meet at more than 10 degrees (SPEC "Foot scans"). There the heights change as little
as they can (least squares) with every lattice edge's crease within the limit: a quadratic
programme over the vertices near the creases only (Clarabel, an interior-point solver), so the
bend goes exactly where it is needed, at the limit, and nowhere else.

The lattice is the build's own at 0.5 mm: equilateral, rows along x, through the pad apex
(:func:`insolegen.triangulate.lattice`). A build at 0.5 mm meets these creases exactly; at 0.25 mm
its lattice splits each of these triangles in four, and at 1 mm it is a sub-lattice. Lattice
point (q, j) lies at anchor + (q - j / 2) * h along x and j * h * sqrt(3) / 2 along y: the
vectors e1 = (h, 0) and e2 = (-h / 2, ROW_MM) and their sum are its three edge directions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

MAX_CREASE_DEG = 10.0  # SPEC: no crease over this 4 mm or more inside the rim
TARGET_DEG = 9.8  # what the fairing holds to: a little under the limit
LINEAR_DEG = 2.0  # an edge creased this much or more is bound by its crease's gradient, a flatter one by its step in slope
SLACK_DEG = 0.1  # a solve (linearised) may land this far over the target: another round then
SPACING_MM = 0.5  # the lattice faired: the finest a build's creases are judged at
ROW_MM = SPACING_MM * np.sqrt(3.0) / 2.0  # its rows' spacing
INSET_MM = 3.0  # faired this far inside the rim and more: the creases are judged 4 mm inside (the rim's wall is steep)
REACH_MM = 2.0  # heights free to change within this of an edge over the target (more where a round needs it)
ROUNDS = 10  # solves at most, each linearised about the last one's surface


@dataclass(frozen=True)
class Fairing:
    """The fairing on the lattice, point (q0 + a, j0 + b) at [a, b]: dz (nq, nj) float, mm, how
    much it lowers or raises the top; unfaired (nq, nj): the top before it (NaN outside the
    outline); near (nq, nj) 0-1: 1 within a lattice step of a point it moves. figures: the
    report's account. dz is None where nothing moves."""

    anchor: np.ndarray
    q0: int
    j0: int
    dz: np.ndarray | None
    unfaired: np.ndarray | None
    near: np.ndarray | None
    figures: dict

    def at(self, xy: np.ndarray, unfaired) -> np.ndarray:
        """(n,) float, mm: the change at xy (n, 2) float, mm; unfaired: xy (k, 2) -> the top there
        before the fairing (k,). At the lattice's points, dz; between them, near what it moves,
        the change to the faired lattice's own triangles (linear), so a finer mesh has no crease
        the lattice has not (the top's own curvature between the points is left out there)."""
        if self.dz is None:
            return np.zeros(len(xy))
        change = self._linear(self.dz, xy)
        weight = self._linear(self.near, xy)
        some = weight > 0
        change[some] += weight[some] * (self._linear(self.unfaired, xy[some]) - unfaired(xy[some]))
        return change

    def _linear(self, grid: np.ndarray, xy: np.ndarray) -> np.ndarray:
        """(n,) ``grid`` (nq, nj) at xy (n, 2), linear in the lattice's triangles; 0 off it."""
        fj = (xy[:, 1] - self.anchor[1]) / ROW_MM
        fq = (xy[:, 0] - self.anchor[0]) / SPACING_MM + fj / 2.0
        q, j = np.floor(fq).astype(np.int64), np.floor(fj).astype(np.int64)
        u, v = fq - q, fj - j
        a, b = q - self.q0, j - self.j0
        ok = (a >= 0) & (b >= 0) & (a < grid.shape[0] - 1) & (b < grid.shape[1] - 1)
        a, b, u, v = np.where(ok, a, 0), np.where(ok, b, 0), u * ok, v * ok
        # The cell's diagonal (q, j)-(q + 1, j + 1) is a lattice edge: below it the up triangle, above it the down one.
        upper = u >= v
        third = np.where(upper, grid[a + 1, b], grid[a, b + 1])
        w_third = np.where(upper, u - v, v - u)
        value = (1.0 - np.maximum(u, v)) * grid[a, b] + w_third * third + np.minimum(u, v) * grid[a + 1, b + 1]
        return np.where(ok, np.nan_to_num(value), 0.0)


def lattice(polygon, anchor: np.ndarray) -> tuple[int, int, np.ndarray, np.ndarray]:
    """The lattice over ``polygon``: q0, j0, the points xy (nq, nj, 2) float, mm, and which are
    inside (nq, nj) bool. (Off it the fairing is 0: it moves points INSET_MM inside the rim and
    more, and draws on the top a lattice step or two round them.)"""
    x0, y0, x1, y1 = polygon.bounds
    j0, j1 = int(np.floor((y0 - anchor[1]) / ROW_MM)), int(np.ceil((y1 - anchor[1]) / ROW_MM))
    q0 = int(np.floor((x0 - anchor[0]) / SPACING_MM + min(j0, j1) / 2.0))
    q1 = int(np.ceil((x1 - anchor[0]) / SPACING_MM + max(j0, j1) / 2.0))
    q, j = np.meshgrid(np.arange(q0, q1 + 1), np.arange(j0, j1 + 1), indexing="ij")
    xy = np.stack([anchor[0] + (q - j / 2.0) * SPACING_MM, anchor[1] + j * ROW_MM], axis=-1)
    inside = shapely.contains_xy(polygon, xy[..., 0], xy[..., 1])
    return q0, j0, xy, inside


# The three edge kinds, each as the rhombus of its two triangles: the edge's ends a, b and the
# two opposite corners c, d, as (dq, dj) from the edge's first end; and the edge's unit normal in xy.
_ROOT3 = np.sqrt(3.0)
EDGES = (
    (((0, 0), (1, 1), (1, 0), (0, 1)), np.array([_ROOT3 / 2, -0.5])),  # along e1 + e2 (60 degrees)
    (((0, 0), (1, 0), (1, 1), (0, -1)), np.array([0.0, 1.0])),  # along e1 (0 degrees)
    (((0, 0), (0, 1), (1, 1), (-1, 0)), np.array([_ROOT3 / 2, 0.5])),  # along e2 (120 degrees)
)


def _shifted(z: np.ndarray, dq: int, dj: int) -> np.ndarray:
    """z (nq, nj) moved so that out[q, j] = z[q + dq, j + dj] (NaN past the edge)."""
    out = np.full(z.shape, np.nan)
    nq, nj = z.shape
    out[max(-dq, 0):nq - max(dq, 0), max(-dj, 0):nj - max(dj, 0)] = z[max(dq, 0):nq + min(dq, 0), max(dj, 0):nj + min(dj, 0)]
    return out


def _corner_xy(dq: int, dj: int) -> np.ndarray:
    return np.array([(dq - dj / 2.0) * SPACING_MM, dj * ROW_MM])


def _inverse(corners, third: int) -> np.ndarray:
    """(2, 2): heights' rises from corner a to b and to corner ``third`` -> the face's gradient."""
    a, b, c = (_corner_xy(*corners[i]) for i in (0, 1, third))
    return np.linalg.inv(np.stack([b - a, c - a]))


_FACES = [(_inverse(corners, 2), _inverse(corners, 3)) for corners, _ in EDGES]  # per kind: faces (a, b, c) and (a, b, d)


def _faces(kind: int, heights: list[np.ndarray]) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The gradients ((gx, gy), (gx, gy)) of the two faces meeting at edges of ``kind``, from
    their corners' heights [a, b, c, d] (each an array of one shape)."""
    za, zb, zc, zd = heights
    m1, m2 = _FACES[kind]
    rise, up1, up2 = zb - za, zc - za, zd - za
    return ((m1[0, 0] * rise + m1[0, 1] * up1, m1[1, 0] * rise + m1[1, 1] * up1),
            (m2[0, 0] * rise + m2[0, 1] * up2, m2[1, 0] * rise + m2[1, 1] * up2))


def _angle(kind: int, heights: list[np.ndarray]) -> np.ndarray:
    """The angle (radians) between the normals of the two faces at edges of ``kind``."""
    (x1, y1), (x2, y2) = _faces(kind, heights)
    cos = (1.0 + x1 * x2 + y1 * y2) / np.sqrt((1.0 + x1 * x1 + y1 * y1) * (1.0 + x2 * x2 + y2 * y2))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def creases(z: np.ndarray) -> list[np.ndarray]:
    """For each edge kind of EDGES, the angle (nq, nj) float, degrees, between the normals of the
    two faces that meet there (edge from lattice point (q, j)); NaN where a corner is missing."""
    return [np.degrees(_angle(kind, [_shifted(z, dq, dj) for dq, dj in corners])) for kind, (corners, _) in enumerate(EDGES)]


def fair(z: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, dict]:
    """z (nq, nj) float, mm, on the lattice, with its creases inside ``inside`` (nq, nj) bool held
    to TARGET_DEG: the least change (sum of squares) that does it. Returns the change (nq, nj)
    and figures: the largest crease before and after (degrees), the area changed by more than
    0.05 mm (cm2) and the largest change (mm)."""
    from scipy import ndimage

    z = np.where(inside, z, np.nan)
    before = max(float(np.nanmax(c, initial=0.0)) for c in creases(z))
    dz = np.zeros(z.shape)
    figures = {"crease_before_deg": round(before, 3), "crease_after_deg": round(before, 3), "changed_cm2": 0.0, "most_mm": 0.0}
    if before <= TARGET_DEG:
        return dz, figures
    reach = int(np.ceil(REACH_MM / SPACING_MM))
    disk = np.add.outer(np.arange(-reach, reach + 1) ** 2, np.arange(-reach, reach + 1) ** 2) <= reach**2
    free = np.zeros(z.shape, bool)
    for _ in range(ROUNDS):
        angles = [np.nan_to_num(c) for c in creases(z + dz)]
        over = [a > TARGET_DEG + SLACK_DEG for a in angles]
        if not any(o.any() for o in over):
            break
        corners = np.zeros(z.shape, bool)
        for kind, o in enumerate(over):
            for (dq, dj) in EDGES[kind][0]:
                corners |= _shifted(o.astype(float), -dq, -dj) > 0  # every corner of an edge over the target
        free |= ndimage.binary_dilation(corners, disk) & inside
        step = _solve(z, z + dz, free)
        if step is None:  # the last change stands; the report gives the crease that remains
            break
        dz = step
    after = max(float(np.nanmax(c, initial=0.0)) for c in creases(z + dz))
    changed = np.abs(dz) > 0.05
    figures.update({"crease_after_deg": round(after, 3), "changed_cm2": round(float(changed.sum() * SPACING_MM * ROW_MM / 100), 2),
                    "most_mm": round(float(np.abs(dz).max()), 3)})
    return dz, figures


def _solve(z: np.ndarray, current: np.ndarray, free: np.ndarray) -> np.ndarray | None:
    """The least change of z at the ``free`` points (the others held) with every edge that has a
    free corner within TARGET_DEG, the crease linearised about the surface ``current``: an edge
    creased LINEAR_DEG or more there by its gradient in the four corners' heights; a flatter one
    (where that gradient says little) by the step in slope across it, over the turn a step makes
    at its faces' mean slope. None if the solver finds no such change."""
    import clarabel
    from scipy import sparse

    ids = np.full(z.shape, -1, np.int64)
    ids[free] = np.arange(int(free.sum()))
    rows, cols, vals, upper = [], [], [], []
    count, target = 0, np.radians(TARGET_DEG)
    for kind, (corners, normal) in enumerate(EDGES):
        corner_ids = [_shifted(ids.astype(float), dq, dj) for dq, dj in corners]
        heights = [_shifted(current, dq, dj) for dq, dj in corners]
        touches = np.all([np.isfinite(h) for h in heights], axis=0) & np.any([c >= 0 for c in corner_ids], axis=0)
        if not touches.any():
            continue
        at = [h[touches] for h in heights]
        ids_at = [c[touches].astype(np.int64) for c in corner_ids]
        angle = _angle(kind, at)
        creased = angle >= np.radians(LINEAR_DEG)
        # Creased: |angle + J (x - current)| <= target, J by central differences in each corner's height.
        step = 1e-4
        jac = [(_angle(kind, [h + step * (i == k) for i, h in enumerate(at)]) -
                _angle(kind, [h - step * (i == k) for i, h in enumerate(at)])) / (2 * step) for k in range(4)]
        # Flatter: |z_c + z_d - z_a - z_b| <= ROW_MM * target / gain, both ways.
        (x1, y1), (x2, y2) = _faces(kind, at)
        gx, gy = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
        gg = 1.0 + gx * gx + gy * gy
        along = gx * normal[0] + gy * normal[1]
        room = ROW_MM * target * gg / np.sqrt(np.maximum(gg - along * along, 1e-12))
        sign = np.array([-1.0, -1.0, 1.0, 1.0])
        # The crease's linear model is signed: it holds the turn within the target both ways, so
        # a solve cannot overshoot into a fold the other way that the model reads as no crease.
        lines = [(creased, [jac[k] for k in range(4)], target - angle + sum(jac[k] * at[k] for k in range(4))),
                 (creased, [-jac[k] for k in range(4)], target + angle - sum(jac[k] * at[k] for k in range(4))),
                 (~creased, [np.full(len(angle), sign[k]) for k in range(4)], room + sum(sign[k] * at[k] for k in range(4))),
                 (~creased, [np.full(len(angle), -sign[k]) for k in range(4)], room - sum(sign[k] * at[k] for k in range(4)))]
        for keep, coef, bound in lines:
            n = int(keep.sum())
            edge, bound = np.arange(count, count + n), bound[keep]
            for k in range(4):
                var = ids_at[k][keep]
                held = var < 0  # a held corner: its term moves to the bound (its height is current's)
                bound -= np.where(held, coef[k][keep] * at[k][keep], 0.0)
                rows.append(edge[~held]), cols.append(var[~held]), vals.append(coef[k][keep][~held])
            upper.append(bound)
            count += n
    size = int(free.sum())
    a = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(count, size))
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    solver = clarabel.DefaultSolver(sparse.identity(size, format="csc"), -z[free], a, np.concatenate(upper),
                                    [clarabel.NonnegativeConeT(count)], settings)
    result = solver.solve()
    if str(result.status) not in ("Solved", "AlmostSolved"):
        return None
    out = np.zeros(z.shape)
    out[free] = np.asarray(result.x) - z[free]
    return out


def for_top(outline, marks, rx) -> Fairing:
    """The fairing of a scan build's molded top (the cast, its heel expansion and the rim's caps)
    on the lattice through the pad apex; computed once per cast, rim heights and apex."""
    cast = outline.cast
    anchor = np.asarray(marks.met_pad_apex, float)
    key = ("fairing", *np.round(anchor, 9), rx.heel_cup.depth_mm, rx.scan.rim_mm)
    if key not in cast.memo:
        q0, j0, xy, cover = lattice(outline.polygon, anchor)
        z = np.full(cover.shape, np.nan)
        pts = xy[cover]
        z[cover] = top(outline, rx)(pts)
        inner = shapely.contains_xy(outline.polygon.buffer(-INSET_MM), xy[..., 0], xy[..., 1])
        dz, figures = fair(z, inner)
        if figures["most_mm"] > 0:
            from scipy import ndimage

            near = ndimage.binary_dilation(dz != 0, np.ones((3, 3), bool)).astype(float)
            cast.memo[key] = Fairing(anchor, q0, j0, dz, z, near, figures)
        else:
            cast.memo[key] = Fairing(anchor, q0, j0, None, None, None, figures)
    return cast.memo[key]


def top(outline, rx):
    """xy (n, 2) -> (n,) mm: a scan build's molded top before the fairing (cast, heel expansion, rim)."""
    from . import rim

    def at(xy: np.ndarray) -> np.ndarray:
        z = outline.cast.molded(xy)
        return z + rim.lowering(z, xy, outline, rx)

    return at
