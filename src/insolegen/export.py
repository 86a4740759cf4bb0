"""Mesh files, written atomically: a temporary file in the target folder, then a rename.

Formats by suffix: .stl (binary, or text with ascii_stl), .3mf (millimetres), .obj, .ply,
.glb. glTF is metres and y-up by its own rules: the GLB is scaled by 0.001 and turned so that
glTF's +y is our +z (x stays x, our y becomes glTF's -z).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import InputError
from .mesh import each_face_block

FORMATS = (".stl", ".3mf", ".obj", ".ply", ".glb")
GLTF_FROM_MM = np.array([[1e-3, 0, 0, 0], [0, 0, 1e-3, 0], [0, -1e-3, 0, 0], [0, 0, 0, 1]])


def to_input_frame(vertices: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """(n, 3) vertices moved back into the input's position and orientation, still in mm."""
    rigid = transform.copy()
    scale = np.linalg.norm(rigid[:3, 0])
    rigid[:3, :3] /= scale
    inverse = np.linalg.inv(rigid)
    return vertices @ inverse[:3, :3].T + inverse[:3, 3]


_STL_HEADER = b"insolegen binary STL, millimetres".ljust(80, b" ")


def encode_stl(vertices: np.ndarray, faces: np.ndarray) -> bytearray:
    """Binary STL with unit face normals and a fixed header (numpy-stl writes the clock time into
    its header, which would make two builds of the same insert differ). Filled in place through
    a (f, 12) float32 view of the 50-byte records, a block of faces at a time: little more
    memory than the file itself."""
    out = bytearray(84 + 50 * len(faces))
    out[:80] = _STL_HEADER
    out[80:84] = np.uint32(len(faces)).tobytes()
    table = np.ndarray((len(faces), 12), "<f4", out, offset=84, strides=(50, 4))

    def fill(block, corners, cross):
        length = np.sqrt((cross * cross).sum(axis=0))
        table[block, 0:3] = np.divide(cross, length, out=np.zeros_like(cross), where=length > 0).T
        table[block, 3:12] = corners.reshape(9, -1).T

    each_face_block(vertices, faces, fill)
    return out


def encode(suffix: str, vertices: np.ndarray, faces: np.ndarray, ascii_stl: bool = False) -> bytes:
    """The file's bytes; the same solid always gives the same bytes."""
    if suffix == ".stl" and not ascii_stl:
        return encode_stl(vertices, faces)
    if suffix == ".3mf":
        return encode_3mf(vertices, faces)
    import trimesh

    m = trimesh.Trimesh(vertices, faces, process=False)
    if suffix == ".stl":
        return trimesh.exchange.stl.export_stl_ascii(m).encode()
    if suffix == ".obj":
        return trimesh.exchange.obj.export_obj(m, include_normals=False, include_texture=False, header=None).encode()
    if suffix == ".ply":
        return trimesh.exchange.ply.export_ply(m, encoding="binary", include_attributes=False)
    m.apply_transform(GLTF_FROM_MM)
    return trimesh.exchange.gltf.export_glb(m, include_normals=True)


_3MF_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>'
    "</Types>"
)
_3MF_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
    'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>'
    "</Relationships>"
)


def encode_3mf(vertices: np.ndarray, faces: np.ndarray, model_config: str | None = None) -> bytes:
    """A 3MF package in millimetres with fixed zip timestamps (trimesh's writer adds a random UUID).

    model_config: PrusaSlicer's per-volume project metadata (see :mod:`insolegen.fabrication.prusa`),
    stored as Metadata/Slic3r_PE_model.config.
    """
    import io
    import zipfile

    verts = "".join(f'<vertex x="{x:.6f}" y="{y:.6f}" z="{z:.6f}"/>' for x, y, z in vertices.tolist())
    tris = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in faces.tolist())
    model = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<model unit="millimeter" xml:lang="en-US" xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02">'
        '<metadata name="Application">insolegen</metadata>'
        f'<resources><object id="1" type="model" name="insert"><mesh><vertices>{verts}</vertices>'
        f'<triangles>{tris}</triangles></mesh></object></resources>'
        '<build><item objectid="1"/></build></model>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        parts = [("[Content_Types].xml", _3MF_TYPES), ("_rels/.rels", _3MF_RELS), ("3D/3dmodel.model", model)]
        if model_config is not None:
            parts.append(("Metadata/Slic3r_PE_model.config", model_config))
        for name, text in parts:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
    return buffer.getvalue()


def check_writable(path: str | Path) -> Path:
    """The output path, or an :class:`InputError` if its suffix or folder is unusable."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise InputError(f"{path}: unknown output format '{path.suffix}'; use one of {', '.join(FORMATS)}")
    folder = path.parent if str(path.parent) else Path(".")
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{path}: the output folder {folder} is a file; give a folder")
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (creating the folder); no partial file on failure."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as exc:
        raise InputError(f"{path}: cannot write to the output folder ({exc.strerror}); choose a writable -o path") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_all(files) -> list[Path]:
    """Write each (path, bytes) of ``files`` atomically, skipping a None path or data: delivered
    together or not at all (those written are removed again if a later one fails)."""
    written = []
    try:
        for path, data in files:
            if path is not None and data is not None:
                written.append(write_bytes(path, data))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def write_mesh(path: str | Path, vertices: np.ndarray, faces: np.ndarray, ascii_stl: bool = False) -> Path:
    """Encode by suffix and write atomically."""
    path = check_writable(path)
    return write_bytes(path, encode(path.suffix.lower(), vertices, faces, ascii_stl))


def write_insert(insert, path: str | Path, ascii_stl: bool = False, keep_input_frame: bool = False) -> Path:
    """An :class:`~insolegen.build.Insert` written atomically; the format follows the suffix.

    A 3MF of an insert with print zones or a top cover holds them as volumes of its one object
    (see :mod:`insolegen.fabrication.zones`): the slicer's zones are made here, not by ``build``."""

    def frame(vertices: np.ndarray) -> np.ndarray:
        return to_input_frame(vertices, insert.outline.transform) if keep_input_frame else vertices

    # A lattice goes to powder-bed and resin printers: no slicer zones, the body alone.
    if check_writable(path).suffix.lower() == ".3mf" and insert.lattice is None:
        from .fabrication import prusa, zones

        volumes = zones.volumes(insert)
        if len(volumes) > 1:
            vertices, faces, config = prusa.package(volumes)
            return write_bytes(path, encode_3mf(frame(vertices), faces, config))
    vertices, faces = insert.body
    return write_mesh(path, frame(vertices), faces, ascii_stl=ascii_stl)
