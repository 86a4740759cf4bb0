"""Construction: the ways to turn the insert's top surface into a printable or millable body.

``build`` reads top -> construction -> mesh: :func:`solid` fills from the top down to the bottom.
"""

from .solid import solid

__all__ = ["solid"]
