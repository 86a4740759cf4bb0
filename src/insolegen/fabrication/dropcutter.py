"""Exact drop-cutter: how low a ball or flat end mill can go at each xy before it touches a mesh.

A cutter dropped along -z onto a triangle mesh first touches a facet, an edge or a vertex; the
tool-tip height is the highest of those contacts (and of a floor, the table). Every contact is
solved in closed form, so the answer is exact up to rounding: a tool at that height touches the
mesh and does not cut into it.

Query points come in rows of equal y (a raster). Each mesh element touches the query points in a
small region of the plane (a shifted facet, a band along an edge, a disk around a vertex); that
region is scan-converted row by row, so each element is tested only against the points it can
touch, all in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scanline import expand, triangle_spans

PAIRS_PER_BLOCK = 1_000_000  # element-point pairs evaluated at once: bounds memory (~100 MB)


@dataclass(frozen=True)
class Cutter:
    """An end mill: shape 'ball' or 'flat', diameter in mm."""

    shape: str
    diameter_mm: float

    @property
    def radius(self) -> float:
        return self.diameter_mm / 2.0


class DropCutter:
    """The mesh prepared for one cutter. vertices (n, 3) float mm, faces (f, 3) int; floor_mm: the
    lowest tip height (the table under the insert, z = 0)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, cutter: Cutter, floor_mm: float = 0.0):
        self.cutter, self.floor = cutter, float(floor_mm)
        v = np.asarray(vertices, float)
        f = np.asarray(faces, np.int64)
        # Anything at or below the floor cannot hold the tool higher than the floor does.
        above = v[:, 2] > self.floor
        tri = v[f]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        length = np.linalg.norm(normal, axis=1)
        up = (normal[:, 2] > 1e-9 * length) & above[f].any(axis=1)  # facets seen from above
        self.tri = tri[up]
        self.normal = normal[up] / length[up, None]
        edges = _edges(v, f, normal / np.maximum(length, 1e-300)[:, None], skip_concave=cutter.shape == "ball")
        self.edge = v[edges[above[edges].any(axis=1)]]  # (e, 2, 3)
        self.vertex = v[above]
        kinds = list(self._elements())
        self._regions, self._contacts = [k[0] for k in kinds], [k[1] for k in kinds]
        self._cached_rows = None

    def heights(self, row_y: np.ndarray, row: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Tool-tip z (n,) at the points (x[i], row_y[row[i]]). row_y (r,) ascending; row, x (n,)."""
        row_y, row, x = np.asarray(row_y, float), np.asarray(row, np.int64), np.asarray(x, float)
        spans, x0, width = self._spans(row_y)
        order = np.lexsort((x, row))
        key = row[order] * width + np.clip(x[order] - x0, 0.0, width - 0.5)  # sorted: row first, then x
        z = np.full(len(x), self.floor)
        for (owner, k, lo, hi), contact in zip(spans, self._contacts):
            base = k * width - x0
            begin = np.searchsorted(key, base + lo - 1e-9, "left")
            count = np.searchsorted(key, base + hi + 1e-9, "right") - begin
            total = np.cumsum(count)
            done = 0
            while done < len(count):  # a block of spans at a time bounds the memory
                stop = max(int(np.searchsorted(total, total[done] - count[done] + PAIRS_PER_BLOCK, "right")), done + 1)
                which, point = expand(begin[done:stop], count[done:stop])
                p = order[point]
                np.maximum.at(z, p, contact(owner[done:stop][which], x[p], row_y[row[p]]))
                done = stop
        return z

    def _spans(self, row_y: np.ndarray):
        """Per kind of element, where its region crosses each row: (element, row, x_lo, x_hi), each (s,);
        and the x origin and width of one row in the query key. Kept for the last rows asked (refining
        a toolpath asks the same rows many times)."""
        tag = row_y.tobytes()
        if self._cached_rows != tag:
            spans = [_region_spans(regions, row_y) for regions in self._regions]
            lo = min((s[2].min() for s in spans if len(s[2])), default=0.0)
            hi = max((s[3].max() for s in spans if len(s[3])), default=0.0)
            width = hi - lo + 2.0
            # In key order, so that the look-ups into the sorted query keys run in order (much faster).
            spans = [tuple(a[np.argsort(k * width + lo_x, kind="stable")] for a in (owner, k, lo_x, hi_x))
                     for owner, k, lo_x, hi_x in spans]
            self._cached = (spans, lo - 1.0, width)
            self._cached_rows = tag
        return self._cached

    def _elements(self):
        """(regions, contact) per kind of element: regions (m, 3 or 4, 2) convex xy polygons or
        (m, 3) disks (cx, cy, radius); contact(i, x, y) -> tip z (k,), -inf where no contact."""
        r = self.cutter.radius
        ball = self.cutter.shape == "ball"
        n = self.normal
        slope = np.hypot(n[:, 0], n[:, 1])
        if ball:
            shift = r * n[:, :2]  # the ball's centre sits r along the normal from the contact
        else:
            # A flat end touches a tilted plane at the rim point furthest up the slope.
            shift = np.divide(r * n[:, :2], slope[:, None], out=np.zeros((len(n), 2)), where=slope[:, None] > 1e-12)
        facet_region = self.tri[:, :, :2] + shift[:, None, :]
        yield facet_region, self._facet_contact(shift)
        a, b = self.edge[:, 0], self.edge[:, 1]
        d = b - a
        lxy = np.hypot(d[:, 0], d[:, 1])
        keep = lxy > 1e-9  # vertical edges: their end vertices are the contacts
        a, d, lxy = a[keep], d[keep], lxy[keep]
        along = d[:, :2] / lxy[:, None]
        across = np.c_[-along[:, 1], along[:, 0]]
        # How far past its ends an edge can hold the cutter's centre: r sin(slope) for a ball, r flat.
        reach = r * np.abs(d[:, 2]) / np.linalg.norm(d, axis=1) if ball else np.full(len(d), r)
        start = a[:, :2] - reach[:, None] * along
        end = a[:, :2] + d[:, :2] + reach[:, None] * along
        quad = np.stack([start - r * across, end - r * across, end + r * across, start + r * across], axis=1)
        yield quad, (self._ball_edge if ball else self._flat_edge)(a, d)
        yield np.c_[self.vertex[:, :2], np.full(len(self.vertex), r)], self._vertex_contact()

    def _facet_contact(self, shift):
        n, p0 = self.normal, self.tri[:, 0]
        lift = self.cutter.radius * (n[:, 2] - 1.0) if self.cutter.shape == "ball" else np.zeros(len(n))

        def contact(i, x, y):
            qx, qy = x - shift[i, 0], y - shift[i, 1]  # the contact point on the facet's plane
            plane = p0[i, 2] - (n[i, 0] * (qx - p0[i, 0]) + n[i, 1] * (qy - p0[i, 1])) / n[i, 2]
            return plane + lift[i]

        return contact

    def _vertex_contact(self):
        v, r = self.vertex, self.cutter.radius

        def contact(i, x, y):
            d2 = (x - v[i, 0]) ** 2 + (y - v[i, 1]) ** 2
            inside = d2 <= r * r
            if self.cutter.shape == "flat":
                return np.where(inside, v[i, 2], -np.inf)
            return np.where(inside, v[i, 2] + np.sqrt(np.maximum(r * r - d2, 0.0)) - r, -np.inf)

        return contact

    def _ball_edge(self, a, d):
        """Ball on an edge: the centre line x = cx, y = cy meets the cylinder of radius r about the
        edge's line; the higher root counts when it touches between the ends."""
        r = self.cutter.radius
        length = np.linalg.norm(d, axis=1)
        u = d / length[:, None]

        def contact(i, x, y):
            wx, wy = x - a[i, 0], y - a[i, 1]
            ux, uy, uz = u[i, 0], u[i, 1], u[i, 2]
            s0 = ux * wx + uy * wy
            qa = 1.0 - uz * uz
            qc = wx * wx + wy * wy - s0 * s0 - r * r
            disc = (s0 * uz) ** 2 - qa * qc
            h = (s0 * uz + np.sqrt(np.maximum(disc, 0.0))) / qa  # centre height above the edge's start
            s = s0 + uz * h  # where along the edge it touches
            ok = (disc >= 0) & (s >= 0) & (s <= length[i])
            return np.where(ok, a[i, 2] + h - r, -np.inf)

        return contact

    def _flat_edge(self, a, d):
        """Flat end on an edge: the edge's part under the disk is a chord; z is linear along it,
        so the highest contact is at one end of the chord."""
        r = self.cutter.radius
        l2 = d[:, 0] ** 2 + d[:, 1] ** 2

        def contact(i, x, y):
            wx, wy = x - a[i, 0], y - a[i, 1]
            t = (wx * d[i, 0] + wy * d[i, 1]) / l2[i]
            off2 = wx * wx + wy * wy - t * t * l2[i]
            half = np.sqrt(np.maximum(r * r - off2, 0.0) / l2[i])
            lo, hi = np.clip(t - half, 0.0, 1.0), np.clip(t + half, 0.0, 1.0)
            ok = (off2 <= r * r) & (t - half <= 1.0) & (t + half >= 0.0)
            return np.where(ok, a[i, 2] + np.maximum(lo * d[i, 2], hi * d[i, 2]), -np.inf)

        return contact


def _edges(v: np.ndarray, f: np.ndarray, normal: np.ndarray, skip_concave: bool) -> np.ndarray:
    """(e, 2) vertex pairs of the mesh's edges, each once. skip_concave: leave out the edges where
    the surface folds inward (a valley): a ball resting on such an edge would already cut one of its
    two faces, so a facet always holds it at least as high."""
    pairs = np.sort(np.vstack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    owner = np.tile(np.arange(len(f)), 3)
    opposite = np.concatenate([f[:, 2], f[:, 0], f[:, 1]])
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    pairs, owner, opposite = pairs[order], owner[order], opposite[order]
    first = np.r_[True, (np.diff(pairs, axis=0) != 0).any(axis=1)]
    if skip_concave:
        # an edge shared by exactly two faces, the second's far corner above the first's plane
        twin = np.flatnonzero(~first)
        twin = twin[first[twin - 1] & ((twin + 1 >= len(first)) | first[np.minimum(twin + 1, len(first) - 1)])]
        a, b = twin - 1, twin
        rise = np.einsum("ij,ij->i", normal[owner[a]], v[opposite[b]] - v[pairs[a, 0]])
        scale = np.linalg.norm(v[pairs[a, 1]] - v[pairs[a, 0]], axis=1)
        first[a[rise > 1e-9 * scale]] = False
    return pairs[first]


def _row_range(regions: np.ndarray, row_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and past-last row index (m,) that each region's y extent covers."""
    if regions.ndim == 2:  # disks
        lo, hi = regions[:, 1] - regions[:, 2], regions[:, 1] + regions[:, 2]
    else:
        lo, hi = regions[:, :, 1].min(axis=1), regions[:, :, 1].max(axis=1)
    return np.searchsorted(row_y, lo - 1e-9, "left"), np.searchsorted(row_y, hi + 1e-9, "right")


def _region_spans(regions: np.ndarray, row_y: np.ndarray):
    """(element, row, x_lo, x_hi) for every row each region crosses."""
    first, stop = _row_range(regions, row_y)
    owner, k = expand(first, np.maximum(stop - first, 0))
    y = row_y[k]
    if regions.ndim == 2:
        half = np.sqrt(np.maximum(regions[owner, 2] ** 2 - (y - regions[owner, 1]) ** 2, 0.0))
        lo, hi = regions[owner, 0] - half, regions[owner, 0] + half
    elif regions.shape[1] == 3:
        lo, hi = triangle_spans(regions[owner], y)
    else:  # a convex quad: the spans of its two triangles joined
        lo1, hi1 = triangle_spans(regions[owner][:, [0, 1, 2]], y)
        lo2, hi2 = triangle_spans(regions[owner][:, [0, 2, 3]], y)
        lo, hi = np.minimum(lo1, lo2), np.maximum(hi1, hi2)
    good = hi >= lo
    return owner[good], k[good], lo[good], hi[good]
