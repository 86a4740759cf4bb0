"""Construction: the ways to turn the insert's top surface into a printable or millable body.

``build`` reads top -> construction -> mesh: :func:`solid` fills from the top down to the
bottom; :mod:`.shell` makes a sheet of constant thickness along the normal under the top, on
its rearfoot post (:mod:`.post`); :mod:`.measure` measures a sheet along its normals;
:mod:`.lattice` replaces a solid's core with a graded gyroid sheet (``lattice.type``), and
:mod:`.lattice_qa` measures it on its mesh.
"""

from .solid import solid

__all__ = ["solid"]
