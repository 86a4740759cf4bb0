"""Print zones and the top cover: the volumes of the 3MF's one object, cut from the insert.

A zone is the insert's solid intersected (manifold3d) with a vertical prism over a region
placed by the landmarks (both a few 0.01 mm inset, see ZONE_INSET_MM), so it follows the
insert's shape and never pokes out of it: a slicer that ignores PrusaSlicer's metadata and
unions the volumes still prints the insert. The top
cover (the ``top_cover`` feature field, when it is above 0 somewhere) is the layer between
top - cover and top, a body of its own; the insert's part is then the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon, box

from .. import construct, features, mesh
from ..qa import as_manifold

HEEL_SEAT_SHARE = 0.3  # of foot length: the heel zone lies behind it, the arch zone ahead of it
# Later modifiers win where zones overlap in PrusaSlicer: the pad (inside arch and forefoot) last.
ZONE_NAMES = ("heel", "arch", "forefoot", "met_pad")
# The n-th zone sits n times this far inside the insert: no vertex of one volume shares a place
# with another's (zones overlap the pad's), so a reader that merges the object's vertices still
# gets closed shells. Infill lies a perimeter's width inside the walls: the slicer prints the same.
ZONE_INSET_MM = 0.01
COVER_MIN_MM = 0.01  # thinner than this the cover is left out (no sliver bodies at its feathered edge)


@dataclass(frozen=True)
class Volume:
    """One volume of the 3MF object. vertices: (v, 3) float, mm; faces: (f, 3) int, outward;
    settings: PrusaSlicer config keys -> values for this volume; modifier: a parameter modifier
    (not printed itself, changes the settings where it overlaps the parts) or a printed part."""

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    modifier: bool = False
    settings: tuple[tuple[str, str], ...] = ()


def pad_region(insert, angles: int = 360, step_mm: float = 0.05) -> Polygon:
    """The metatarsal pad's footprint, where its field is above 0 (on or off, the same place):
    along each of ``angles`` rays from the apex, the first sample where the field is 0."""
    rx = insert.prescription
    pad = rx.met_pad.model_copy(update={"enabled": True, "height_mm": 1.0})
    rx = rx.model_copy(update={"met_pad": pad})
    reach = max(pad.length_mm, pad.width_mm)
    theta = np.linspace(0.0, 2 * np.pi, angles, endpoint=False)
    s = np.arange(0.0, reach + step_mm, step_mm)
    rays = np.stack([np.cos(theta), np.sin(theta)], axis=1)  # (a, 2)
    xy = insert.marks.met_pad_apex + s[None, :, None] * rays[:, None, :]  # (a, k, 2)
    height = features.met_pad(xy.reshape(-1, 2), insert.outline, insert.marks, rx).reshape(len(theta), len(s))
    edge = np.argmax(height <= 0.0, axis=1)  # the dome is 0 at and past its rim, > 0 inside
    return Polygon(insert.marks.met_pad_apex + s[edge, None] * rays)


def regions(insert) -> dict[str, Polygon]:
    """Zone name -> its region in xy (mm, output frame), cut to nothing outside the insert."""
    marks = insert.marks
    x0, y0, x1, y1 = Polygon(insert.footprint).bounds
    big = 2.0 * max(x1 - x0, y1 - y0)
    everywhere = box(x0 - 1.0, y0 - 1.0, x1 + 1.0, y1 + 1.0)
    seat = HEEL_SEAT_SHARE * marks.length_mm
    behind_heads = mesh.behind(marks.mtpj1, marks.met_line_normal, big)
    return {
        "heel": box(x0 - 1.0, y0 - 1.0, seat, y1 + 1.0),
        "arch": box(seat, y0 - 1.0, x1 + 1.0, y1 + 1.0).intersection(behind_heads),
        "forefoot": everywhere.difference(behind_heads),
        "met_pad": pad_region(insert),
    }


def _prism(region, z0: float, z1: float):
    """A manifold3d prism over ``region`` (a shapely polygon or several, holes allowed) from z0 to z1 (mm)."""
    import manifold3d

    oriented = shapely.orient_polygons(region)  # exteriors counter-clockwise, holes clockwise
    rings = [np.asarray(ring.coords)[:-1] for part in shapely.get_parts(oriented)
             for ring in (part.exterior, *part.interiors)]
    return manifold3d.Manifold.extrude(manifold3d.CrossSection(rings), z1 - z0).translate((0.0, 0.0, z0))


def _body(insert) -> tuple[np.ndarray, np.ndarray]:
    """The insert's first printed part: the solid, or a shell without its post (a part of its own)."""
    return insert.parts[0][1:] if insert.parts else (insert.vertices, insert.faces)


def _inner(insert, inset: float):
    """The insert's first part ``inset`` mm in from its top and bottom, as a Manifold: a zone's
    infill is the shell's, its post printed as it is (rigid)."""
    vertices, faces = _body(insert)
    vertices = vertices.copy()
    n = len(insert.points)  # the top's vertices come first, a shell's as a solid's
    vertices[:n, 2] -= inset
    vertices[n:, 2] += inset
    return as_manifold(vertices, faces)


def mesh_of(solid) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (v, 3) float, mm, and faces (f, 3) of a Manifold, with no two vertices closer
    than 1e-4 mm: a boolean's near-duplicates would become one in the 3MF's 6 decimals."""
    out = solid.simplify(1e-4).to_mesh()
    return np.asarray(out.vert_properties, float)[:, :3], np.asarray(out.tri_verts, np.int64)


def _cover_cutter(insert, cover: np.ndarray, deeper: float = 0.0):
    """A height-field solid over the insert's lattice whose underside is ``deeper`` mm below
    top - cover where the cover is, and lies above the insert elsewhere: the insert cut by it
    is the cover."""
    n = len(insert.points)
    top = insert.vertices[:n, 2]
    under = np.where(cover > COVER_MIN_MM, top - cover - deeper, top + 1.0)
    vertices, faces = construct.solid(insert.points, insert.triangles, insert.rim, top.max() + 2.0 - under, under)
    return as_manifold(vertices, faces)


def volumes(insert) -> list[Volume]:
    """The insert's printed parts (the insert, or its base and the top cover) then a modifier per
    zone given an infill; just the insert when neither zones nor a cover are prescribed."""
    body = _body(insert)
    parts = [Volume("insert", *body)]
    cover = insert.fields.get("top_cover")
    if cover is not None and (cover > COVER_MIN_MM).any():
        solid = as_manifold(*body)
        # The cover reaches ZONE_INSET_MM into the base: the two overlap (the slicer prints the
        # later part there) rather than touch, so they unite into one solid and share no vertex.
        base, layer = solid - _cover_cutter(insert, cover), solid ^ _cover_cutter(insert, cover, ZONE_INSET_MM)
        parts = [Volume("insert", *mesh_of(base)), Volume("top cover", *mesh_of(layer))]
    parts += [Volume(name, vertices, faces) for name, vertices, faces in insert.parts[1:]]
    zones = insert.prescription.zones
    wanted = [name for name in ZONE_NAMES if getattr(zones, name).infill_pct is not None]
    if not wanted:
        return parts
    z0, z1 = insert.vertices[:, 2].min() - 1.0, insert.vertices[:, 2].max() + 1.0
    shapes, outline = regions(insert), Polygon(insert.points[: insert.rim])
    for name in wanted:
        inset = ZONE_INSET_MM * (1 + ZONE_NAMES.index(name))
        region = shapes[name].buffer(-inset).intersection(outline.buffer(-inset))
        zone = _inner(insert, inset) ^ _prism(region, z0, z1)
        if zone.is_empty():  # e.g. a forefoot zone on a three-quarter insert
            continue
        density = f"{getattr(zones, name).infill_pct:g}%"
        parts.append(Volume(f"{name} zone", *mesh_of(zone), modifier=True, settings=(("fill_density", density),)))
    return parts
