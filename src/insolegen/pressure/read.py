"""Pressure files -> :class:`Recording`. One module per format, chosen by suffix and content."""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from .recording import Recording

MAX_FILE_BYTES = 256 * 1024 * 1024


def read(path: str | Path, side: str | None = None, step: int | None = None) -> Recording:
    """One foot's recording from an emed ``.lst``, pliance ``.asc``, F-Scan ``.asf`` or XSENSOR ``.csv``.

    side: ``None``/``"auto"`` or ``"left"``/``"right"``: which insole of an in-shoe pair (auto: the
    one that bore more load); on a plate, the foot's side as given (a mismatch with the load's
    shape is warned). step: 1-based step of a plate with several (default: the most complete one)
    or stance phase of an in-shoe recording (default: all of it).
    Raises InputError (one line naming the file) for an unknown format, a truncated frame, a header
    that disagrees with the data, no contact, two feet on a plate at once.
    """
    raise NotImplementedError
