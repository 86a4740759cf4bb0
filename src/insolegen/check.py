"""``insolegen check``: QA of any insert mesh file, ours or another tool's."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError

MESH_SUFFIXES = (".stl", ".3mf", ".obj", ".ply")


def load_mesh(path: str | Path):
    """A mesh file as one ``trimesh.Trimesh`` with coincident vertices merged (STL stores none shared)."""
    import trimesh

    path = Path(path)
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise InputError(f"{path}: unknown mesh format '{path.suffix}'; use one of {', '.join(MESH_SUFFIXES)}")
    if not path.is_file():
        raise InputError(f"{path}: mesh file not found; check the path")
    try:
        mesh = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for a damaged file
        raise InputError(f"{path}: cannot read the mesh ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise InputError(f"{path}: holds no triangles; give an insert mesh")
    if path.suffix.lower() == ".3mf":
        mesh = _printed(path, mesh)
    mesh.merge_vertices(digits_vertex=6)
    return mesh


def _printed(path: Path, mesh):
    """What a PrusaSlicer 3MF prints: its modifier volumes (print zones) left out and its parts
    (an insert and its top cover) united; any other 3MF as it is. A union's metadata keeps the
    degenerate faces of the parts as stored: the union's own slivers are no fault of the file."""
    import zipfile

    import trimesh

    from .fabrication import prusa, zones
    from .qa import as_manifold, face_areas

    try:
        config = zipfile.ZipFile(path).read("Metadata/Slic3r_PE_model.config").decode()
        ranges = prusa.printed_ranges(config)
    except (KeyError, zipfile.BadZipFile, UnicodeDecodeError, ValueError, SyntaxError):
        return mesh  # no (readable) PrusaSlicer metadata: every triangle is the object
    if not ranges or ranges[-1][1] >= len(mesh.faces):
        raise InputError(f"{path}: its PrusaSlicer volumes name triangles the model does not hold; re-export the 3MF")
    parts = []
    for first, last in ranges:
        part = trimesh.Trimesh(mesh.vertices, mesh.faces[first: last + 1], process=False)
        part.remove_unreferenced_vertices()
        part.merge_vertices(digits_vertex=6)
        parts.append(part)
    if len(parts) == 1:
        return parts[0]
    union = as_manifold(parts[0].vertices, parts[0].faces)
    for part in parts[1:]:
        union = union + as_manifold(part.vertices, part.faces)
    stored = sum(int((face_areas(p.vertices, p.faces) < 1e-8).sum()) for p in parts)
    return trimesh.Trimesh(*zones.mesh_of(union), process=False, metadata={"stored_degenerate_faces": stored})


def check_mesh(vertices, faces, min_thickness_mm: float = 2.0, ray_spacing: float = 1.0,
               stored_degenerate_faces: int | None = None, lattice: bool = False) -> dict:
    """The QA figures and the reasons it fails, if any; ``passed`` is the verdict.
    stored_degenerate_faces: the file's own count, when the mesh is a union of its parts.

    A shell (see :mod:`insolegen.sheet`) is measured along its normals instead of vertically:
    ``device`` says which, ``normal_thickness`` holds the figures; its post and a top cover run
    on past its trim edge may be bodies of their own (up to 3 in all) and, formed or printed
    rather than milled, it need not be millable. ``lattice``: a printed lattice insert, hollow by
    design: no milling or ray-thickness rules (one body with one surface, so no sealed void, is
    still required)."""
    from . import sheet
    from .qa import solid_report

    result = solid_report(vertices, faces, ray_spacing)
    if stored_degenerate_faces is not None:
        result["degenerate_faces"] = stored_degenerate_faces
    shell = None if lattice else sheet.measure(vertices, faces, ray_spacing)
    result["device"] = "solid" if shell is None else "shell"
    if shell is not None:
        result["normal_thickness"] = shell
        result["vertical_thickness_mm"] = [result["min_thickness_mm"], result["max_thickness_mm"]]
        result["min_thickness_mm"], result["max_thickness_mm"] = shell["min_mm"], None
    rules = [
        (result["watertight"], "not watertight (open edges or holes)"),
        (result["winding_consistent"], "faces are not wound consistently (flipped faces)"),
        (result["outward"], "faces are wound inward (negative volume)"),
        (result["bodies"] == 1 or (shell is not None and result["bodies"] <= 3),
         f"{result['bodies']} separate bodies, expected 1" + (" (a shell: up to 3, with its post and top cover)" if shell else "")),
        (result["degenerate_faces"] == 0, f"{result['degenerate_faces']} degenerate (zero-area) faces"),
        (result["manifold3d"] == "NoError", f"manifold3d rejects the mesh ({result['manifold3d']})"),
        (result["millable_from_above"] or shell is not None, f"{result['undercut_rays']} vertical rays meet the solid other than twice (undercuts or open surface)"),
        (result["min_thickness_mm"] is not None and result["min_thickness_mm"] >= min_thickness_mm - 1e-6,
         f"thinner than {min_thickness_mm:g} mm (min {result['min_thickness_mm']}{' along the normal' if shell else ''})"),
    ]
    if lattice:
        rules = rules[:6]
    result["lattice"] = lattice
    result["reasons"] = [reason for ok, reason in rules if not ok]
    result["passed"] = not result["reasons"]
    return result


def is_lattice(path: str | Path) -> bool:
    """Whether the build report beside the mesh says it is a lattice insert."""
    import json

    report = Path(path).with_name(f"{Path(path).stem}.report.json")
    try:
        return json.loads(report.read_text())["prescription"]["lattice"]["type"] != "none"
    except (OSError, ValueError, KeyError, TypeError):
        return False


def check_file(path: str | Path, min_thickness_mm: float = 2.0, ray_spacing: float = 1.0, lattice: bool | None = None) -> dict:
    """lattice None: as the report beside the mesh says (see :func:`is_lattice`)."""
    mesh = load_mesh(path)
    result = check_mesh(mesh.vertices, mesh.faces, min_thickness_mm, ray_spacing,
                        mesh.metadata.get("stored_degenerate_faces"), is_lattice(path) if lattice is None else lattice)
    return {"mesh": str(path), **result}


def scan_fit(path: str | Path, scan_path: str | Path) -> dict:
    """How closely the top of the mesh at ``path`` follows the sole of the scan it was built from
    (carried by the transform in the build report beside the mesh): see :func:`insolegen.scan.fit.top_fit`."""
    from .scan import fit

    mesh = load_mesh(path)
    points, faces = fit.scan_in_output(scan_path, path)
    return fit.top_fit(mesh.vertices, mesh.faces, points, faces)


def table(result: dict) -> str:
    """The result as aligned lines for a person."""
    keys = ["device", "watertight", "winding_consistent", "outward", "bodies", "volume_mm3", "faces", "degenerate_faces",
            "manifold3d", "millable_from_above", "undercut_rays", "min_thickness_mm", "max_thickness_mm", "bounds_mm"]
    lines = [f"{result['mesh']}: {'PASS' if result['passed'] else 'FAIL'}"]
    lines += [f"  {k:22s} {result[k]}" for k in keys]
    if result.get("device") == "shell":
        nt = result["normal_thickness"]
        lines.append(f"  {'shell: along normals':22s} min {nt['min_mm']} / P5 {nt['p5_mm']} / P50 {nt['p50_mm']} / P95 {nt['p95_mm']} mm "
                     f"over {nt['samples']} points (vertical: {result['vertical_thickness_mm']})")
    if "scan_fit" in result:
        fit = result["scan_fit"]
        lines.append(f"  {'scan_fit':22s} P50 {fit['p50_mm']} / P95 {fit['p95_mm']} / max {fit['max_mm']} mm over {fit['points']} points "
                     f"{fit['inset_mm']:g} mm or more inside the rim")
    lines += [f"  reason: {r}" for r in result["reasons"]]
    return "\n".join(lines)
