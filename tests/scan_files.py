"""The real foot scans of ../shared/data, moved into other poses, units and sides, and written in
every scan format (as scanners and CAD programs write them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FIND = DATA / "feet" / "find" / "template.obj"
FIND_SOLE = DATA / "feet" / "find" / "templ_sole_faces.npy"
TECHMED = DATA / "scans" / "techmed3d_right_plantar.obj"
MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "in": 25.4}

needs_scans = pytest.mark.skipif(not (FIND.is_file() and TECHMED.is_file()), reason="../shared/data scans are absent")


def scan_mm(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (n, 3) mm, faces (f, 3)) of a real scan, in its file's vertex order."""
    mesh = trimesh.load(path, process=False, force="mesh")
    return np.asarray(mesh.vertices) * (1000.0 if path == FIND else 1.0), np.asarray(mesh.faces)


def moved(vertices: np.ndarray, seed: int, mirror: bool = False) -> np.ndarray:
    """The scan turned to a random 3D orientation and shifted up to 500 mm (mirrored across a plane first)."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    pts = vertices * [1.0, -1.0, 1.0] if mirror else vertices
    return Rotation.random(random_state=seed).apply(pts) + rng.uniform(-500, 500, 3)


def write(path: Path, vertices_mm: np.ndarray, faces: np.ndarray | None, units: str = "mm", encoding: str = "binary") -> Path:
    """Write a scan in the format of ``path``'s suffix, in ``units``; faces None writes a point cloud."""
    v = vertices_mm / MM[units]
    suffix = path.suffix.lower()
    if suffix == ".obj":
        lines = [f"v {x!r} {y!r} {z!r}" for x, y, z in v.tolist()]
        if faces is not None:
            lines += [f"f {a + 1}//{a + 1} {b + 1}//{b + 1} {c + 1}//{c + 1}" for a, b, c in faces.tolist()]
        path.write_text("# scan\n" + "\n".join(lines) + "\n")
    elif suffix == ".stl":
        path.write_bytes(trimesh.exchange.stl.export_stl(trimesh.Trimesh(v, faces, process=False)) if encoding == "binary"
                         else trimesh.exchange.stl.export_stl_ascii(trimesh.Trimesh(v, faces, process=False)).encode())
    elif suffix == ".ply":
        geometry = trimesh.PointCloud(v) if faces is None else trimesh.Trimesh(v, faces, process=False)
        path.write_bytes(trimesh.exchange.ply.export_ply(geometry, encoding=encoding))
    elif suffix == ".xyz":
        np.savetxt(path, v, fmt="%.9g")
    elif suffix == ".csv":
        path.write_text("X,Y,Z,intensity\n" + "".join(f"{x!r},{y!r},{z!r},1\n" for x, y, z in v.tolist()))
    else:
        raise ValueError(suffix)
    return path


def sole_area_overlap(vertices: np.ndarray, faces: np.ndarray, chosen: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(share of the labelled sole area chosen, chosen area outside the label over the labelled area)."""
    tri = vertices[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    label = np.zeros(len(faces), dtype=bool)
    label[truth] = True
    pick = np.zeros(len(faces), dtype=bool)
    pick[chosen] = True
    return float(area[pick & label].sum() / area[label].sum()), float(area[pick & ~label].sum() / area[label].sum())
