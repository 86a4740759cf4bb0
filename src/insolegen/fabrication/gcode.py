"""G-code text for a 3-axis mill (RS-274 as LinuxCNC, Mach and most hobby controllers read it).

Coordinates are millimetres with 0.001 mm resolution. Z is rounded up, never down, so rounding
cannot take the tool into the part.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Pass:
    """One pass of one tool: moves in order, each (kind, points (k, 3) float mm) with kind
    'rapid' (G0), 'plunge' (G1 at the plunge feed) or 'cut' (G1 at the feed)."""

    name: str
    tool: int
    moves: list[tuple[str, np.ndarray]] = field(default_factory=list)

    def add(self, kind: str, points) -> None:
        self.moves.append((kind, np.atleast_2d(np.asarray(points, float))))


def rounded(points: np.ndarray) -> np.ndarray:
    """(k, 3) as the program states them: x, y to the nearest 0.001 mm, z up to the next."""
    out = np.round(points, 3)
    out[:, 2] = np.ceil(points[:, 2] * 1000.0 - 1e-6) / 1000.0
    return out


def program(header: list[str], tools: dict[int, str], passes: list[Pass], feed: float, plunge_feed: float,
            spindle_rpm: float, safe_z: float) -> str:
    """The whole program: header comments, setup, each pass (a tool change when the tool changes),
    end. tools: number -> description. Comments cannot nest: no parentheses inside header lines."""
    lines = [f"({line})" for line in header]
    lines += ["G21 (millimetres)", "G90 (absolute)", "G17 (XY plane)", "G94 (feed per minute)"]
    last = {"x": None, "y": None, "z": None, "f": None, "g": None}
    current_tool = None

    def move(g: str, p: np.ndarray, f: float | None) -> None:
        words = []
        for axis, value in zip("xyz", p):
            text = f"{value:.3f}"
            if last[axis] != text:
                words.append(f"{axis.upper()}{text}")
                last[axis] = text
        if not words:
            return
        if f is not None and last["f"] != f:
            words.append(f"F{f:g}")
            last["f"] = f
        if last["g"] != g:
            words.insert(0, g)
            last["g"] = g
        lines.append(" ".join(words))

    for one in passes:
        if one.tool != current_tool:
            if current_tool is not None:
                lines.append("M5")
            lines += [f"T{one.tool} M6 ({tools[one.tool]})", f"G43 H{one.tool} (tool length offset: Z is the tool tip)",
                      f"S{spindle_rpm:g} M3"]
            last.update(g=None, z=None)
            lines.append(f"G0 Z{safe_z:.3f}")
            last["z"], last["g"] = f"{safe_z:.3f}", "G0"
            current_tool = one.tool
        lines.append(f"(pass: {one.name})")
        for kind, points in one.moves:
            for p in rounded(points):
                if kind == "rapid":
                    move("G0", p, None)
                else:
                    move("G1", p, feed if kind == "cut" else plunge_feed)
    if last["z"] != f"{safe_z:.3f}":
        lines.append(f"G0 Z{safe_z:.3f}")
    lines += ["M5", "M30", ""]
    return "\n".join(lines)


def read(text: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The moves of a program written by :func:`program`: points (m, 3) float mm (each move's end),
    kind (m,) int (0 rapid, 1 feed) and the pass name of each move."""
    import re

    word = re.compile(r"([GXYZ])(-?[\d.]+)")
    pos, g, name = [np.nan, np.nan, np.nan], 0, ""
    points, kinds, names = [], [], []
    for line in text.splitlines():
        if line.startswith("(pass: "):
            name = line[7:-1]
            continue
        moved = False
        for letter, value in word.findall(line.split("(")[0]):
            if letter == "G" and value in ("0", "1"):
                g = int(value)
            elif letter in "XYZ":
                pos["XYZ".index(letter)] = float(value)
                moved = True
        if moved:
            points.append(list(pos)), kinds.append(g), names.append(name)
    return np.array(points, float).reshape(-1, 3), np.array(kinds, int), names
