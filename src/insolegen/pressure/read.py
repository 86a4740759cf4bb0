"""Pressure files -> :class:`Recording`. One module per format, chosen by suffix and content."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import InputError, warn
from ..readers import read_input
from . import emed, fscan, orient, pliance, steps, xsensor
from .recording import Recording

MAX_FILE_BYTES = 256 * 1024 * 1024  # an hour of in-shoe frames; more is not a clinic recording
SUFFIXES = {".lst": "novel emed", ".asc": "novel pliance", ".asf": "Tekscan F-Scan", ".csv": "XSENSOR"}


def _parser(path: Path, text: str):
    suffix = path.suffix.lower()
    if suffix == ".asc" and "insole" in text[:4000] and "mat type" not in text[:4000]:
        raise InputError(f"{path}: a novel pedar (in-shoe) export: it gives no sensor positions (they are the insole model's), so it cannot be mapped; record on an emed plate or export from F-Scan or XSENSOR")
    if suffix in (".xls", ".xlsx"):
        raise InputError(f"{path}: a spreadsheet (footscan's Excel export is not read); export the recording as novel emed .lst, pliance .asc, F-Scan .asf or XSENSOR .csv")
    parsers = {".lst": emed.parse, ".asc": pliance.parse, ".asf": fscan.parse, ".csv": xsensor.parse}
    if suffix not in parsers:
        raise InputError(f"{path}: unknown pressure format '{suffix}'; give {', '.join(f'{n} {s}' for s, n in SUFFIXES.items())}")
    return parsers[suffix]


def read(path: str | Path, side: str | None = None, step: int | None = None, relabel: bool = False) -> Recording:
    """One foot's recording from an emed ``.lst``, pliance ``.asc``, F-Scan ``.asf`` or XSENSOR ``.csv``.

    side: ``None``/``"auto"`` or ``"left"``/``"right"``: which insole of an in-shoe pair (auto: the
    one that bore more load). Where the file holds one foot (a plate, a single insole) that foot
    keeps its own side (the header's, else the load's) unless ``relabel``: then the side given is
    the foot's (the user overrides the load's shape, with a warning; a header's side is not
    overridden: InputError). step: 1-based step of a plate with several (default: the most
    complete one) or stance phase of an in-shoe recording (default: all of it).
    Raises InputError (one line naming the file) for an unknown format, a truncated frame, a header
    that disagrees with the data, no contact, two feet on a plate at once.
    """
    path = Path(path)
    side = None if side in (None, "auto") else side
    if side not in (None, "left", "right"):
        raise InputError(f"side '{side}' is not known; use auto, left or right")
    data = read_input(path, "pressure recording", MAX_FILE_BYTES)
    if b"\x00" in data[:4096]:
        raise InputError(f"{path}: a binary file; export the recording as text ({', '.join(SUFFIXES)})")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")  # the novel exports write "cm²" in Latin-1
    recordings = _parser(path, text)(path, text, hashlib.sha256(data).hexdigest())
    rec = _insole(path, recordings, side, relabel)
    if not np.isfinite(rec.frames).any() or not rec.frame_s > 0:
        raise InputError(f"{path}: no sensor values or no frame time in the file; export the whole recording")
    rec = steps.pick(rec, step)
    return _with_side(rec, side if relabel else None)


def _insole(path: Path, recordings: list[Recording], side: str | None, relabel: bool) -> Recording:
    """The insole asked for (auto: the one that bore more load)."""
    if len(recordings) == 1:
        rec = recordings[0]
        if relabel and side and rec.side and rec.side != side:
            raise InputError(f"{path}: the file holds the {rec.side} insole only, --side {side} was asked for; give --side {rec.side} or auto")
        return rec
    if side:
        match = [r for r in recordings if r.side == side]
        if not match:
            raise InputError(f"{path}: no {side} insole in the file (it holds {', '.join(r.side or '?' for r in recordings)})")
        return match[0]
    return max(recordings, key=lambda r: float(np.nansum(r.frames)))


def _with_side(rec: Recording, side: str | None) -> Recording:
    """The side: as given, else as the header says, else from the load's shape; a disagreement
    between the shape and what was given is warned (the given one is kept)."""
    peak = np.nan_to_num(rec.frames).max(axis=0)
    loaded = peak > 0
    shape_side = orient.side_of(orient.find(rec.centres_mm()[loaded], peak[loaded]), rec.seen_from_above)
    given = side or rec.side
    if given and given != shape_side:
        warn(f"{rec.source}: the load's shape looks like a {shape_side} foot, the {'header' if not side else '--side'} says {given}; {given} is kept")
    return replace(rec, side=given or shape_side)
