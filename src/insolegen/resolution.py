"""The mesh spacing's allowed range, in a module of its own: the web server checks a form's
spacing without loading the mesh code."""

from __future__ import annotations

from .errors import InputError

MIN_RESOLUTION_MM, MAX_RESOLUTION_MM = 0.2, 5.0


def check_resolution(resolution, name: str = "--resolution") -> float:
    """``resolution`` as mm, or an error naming ``name`` (the option or column it came from)."""
    allowed = f"allowed {MIN_RESOLUTION_MM:g} to {MAX_RESOLUTION_MM:g} mm"
    try:
        value = float(resolution)
    except (TypeError, ValueError):
        raise InputError(f"{name} {resolution!r} is not a number; {allowed}") from None
    if not MIN_RESOLUTION_MM <= value <= MAX_RESOLUTION_MM:
        raise InputError(f"{name} {value:g} mm is out of range; {allowed}")
    return value
