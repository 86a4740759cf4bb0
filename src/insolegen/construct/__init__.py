"""Construction: the ways to turn the insert's top surface into a printable or millable body.

``build`` reads top -> construction -> mesh: :func:`solid` fills from the top down to the bottom;
:mod:`.lattice` then replaces the solid's core with a graded gyroid sheet (``lattice.type``).
"""

from .solid import solid

__all__ = ["solid"]
