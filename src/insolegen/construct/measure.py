"""A sheet's thickness measured as a lab measures a shell: along the normal of its top, not vertically.

Works on any mesh (ours, or a file another tool wrote): the top is the faces that face up; from
a point of each, a ray runs in along the face's normal to the first surface it meets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOP_NORMAL_Z = 0.2  # faces whose unit normal has z above this are the top (walls up to 78 degrees)
START_MM = 1e-4  # rays start this far inside, clear of their own face


@dataclass(frozen=True)
class NormalThickness:
    """points: (k, 3) float, mm, on the top (face centroids); normals: (k, 3) the top's unit
    normals there (pointing out, up); thickness: (k,) float, mm, to the first surface along
    -normal (inf where the ray meets nothing: an open mesh)."""

    points: np.ndarray
    normals: np.ndarray
    thickness: np.ndarray

    def summary(self, keep: np.ndarray | None = None) -> dict:
        """min, P5, P50, P95 (mm) of the thickness over the samples ``keep`` (k,) bool (all if None)."""
        t = self.thickness if keep is None else self.thickness[keep]
        t = t[np.isfinite(t)]
        if not len(t):
            return {"samples": 0, "min_mm": None, "p5_mm": None, "p50_mm": None, "p95_mm": None}
        p5, p50, p95 = np.percentile(t, [5, 50, 95])
        return {"samples": int(len(t)), "min_mm": round(float(t.min()), 4), "p5_mm": round(float(p5), 4),
                "p50_mm": round(float(p50), 4), "p95_mm": round(float(p95), 4)}


def normal_thickness(vertices: np.ndarray, faces: np.ndarray, max_samples: int | None = None) -> NormalThickness:
    """The thickness along the normal from the top faces of the mesh (vertices (n, 3) float, mm;
    faces (f, 3) int, wound outward); ``max_samples``: measure at most that many faces, evenly
    spread over the top (None: every top face)."""
    import trimesh

    mesh = trimesh.Trimesh(np.asarray(vertices, float), np.asarray(faces), process=False)
    normals = mesh.face_normals
    top = np.flatnonzero(normals[:, 2] > TOP_NORMAL_Z)
    if max_samples is not None and len(top) > max_samples:
        top = top[np.linspace(0, len(top) - 1, max_samples).round().astype(int)]
    points, n = mesh.triangles_center[top], normals[top]
    origins = points - START_MM * n
    where, ray, _ = mesh.ray.intersects_location(origins, -n, multiple_hits=True)
    dist = np.einsum("ij,ij->i", where - origins[ray], -n[ray])
    thickness = np.full(len(top), np.inf)
    ahead = dist > START_MM  # the ray's own face, met again at its start, does not count
    np.minimum.at(thickness, ray[ahead], dist[ahead] + START_MM)
    return NormalThickness(points, n, thickness)
