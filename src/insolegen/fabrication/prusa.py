"""PrusaSlicer's project metadata in a 3MF: one object whose volumes are triangle ranges.

PrusaSlicer (src/libslic3r/Format/3mf.cpp, ``_generate_volumes``) reads
``Metadata/Slic3r_PE_model.config``: for the object with the model's object id, each
``<volume firstid= lastid=>`` takes those triangles (and the vertices they use) as one volume;
its ``<metadata type="volume">`` keys name it, make it a modifier (``modifier`` = 1) and set
any print setting for it (``fill_density`` = ``15%``). Other readers see one object in mm.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import numpy as np

from .zones import Volume

OBJECT_ID = 1  # the 3MF model's one object (export.encode_3mf)


def package(volumes: list[Volume]) -> tuple[np.ndarray, np.ndarray, str]:
    """Vertices (v, 3) float and faces (f, 3) int64 of every volume, each its own block in
    order, and the model config naming each volume's triangle range and settings."""
    vertices = np.concatenate([v.vertices for v in volumes])
    offsets = np.cumsum([0] + [len(v.vertices) for v in volumes])
    faces = np.concatenate([np.asarray(v.faces, np.int64) + offset for v, offset in zip(volumes, offsets)])
    first = np.cumsum([0] + [len(v.faces) for v in volumes])
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<config>", f' <object id="{OBJECT_ID}" instances_count="1">',
             '  <metadata type="object" key="name" value="insert"/>']
    for volume, start in zip(volumes, first):
        lines.append(f'  <volume firstid="{start}" lastid="{start + len(volume.faces) - 1}">')
        kind = "ParameterModifier" if volume.modifier else "ModelPart"
        keys = [("name", volume.name), ("volume_type", kind), *((("modifier", "1"),) if volume.modifier else ()),
                *volume.settings]
        lines += [f'   <metadata type="volume" key={quoteattr(k)} value={quoteattr(v)}/>' for k, v in keys]
        lines.append("  </volume>")
    lines += [" </object>", "</config>", ""]
    return vertices, faces, "\n".join(lines)


def printed_ranges(config: str) -> list[tuple[int, int]]:
    """(first, last) triangle of each printed part (not a modifier) that a model config names."""
    from xml.etree import ElementTree

    ranges = []
    for volume in ElementTree.fromstring(config).iter("volume"):
        keys = {m.get("key"): m.get("value") for m in volume.iter("metadata")}
        if keys.get("modifier") != "1" and keys.get("volume_type", "ModelPart") == "ModelPart":
            ranges.append((int(volume.get("firstid")), int(volume.get("lastid"))))
    return ranges
