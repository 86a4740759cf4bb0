"""The positive model (`build --mold`) and the shell check: seconds, printed (no timed tests).

1. The mold of the built-in solid at 1 and 0.5 mm, and of the usual shell (polypropylene_shell_4_4)
   at 1 mm, from the built insert (construct.mold.of_insert).
2. `check` of that shell's STL: the vertical QA plus the sheet's recognition and normal thickness.
Each: the best and the median of WARM_RUNS warm runs (wall clock), after a cold one.

Run: .venv/bin/python benchmarks/mold_bench.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from shell_bench import timed


def main() -> None:
    from insolegen import api, build, check, prescription, template
    from insolegen.construct import mold

    outline = template.builtin()
    solid = prescription.Prescription()
    usual = prescription.resolve("polypropylene_shell_4_4")
    for label, rx, res in (("solid, 1 mm", solid, 1.0), ("solid, 0.5 mm", solid, 0.5), ("3/4 shell on a 4/4 post, 1 mm", usual, 1.0)):
        insert = build.build_insert(outline, rx, res)
        vertices, faces = mold.of_insert(insert)
        timed(f"mold of the {label} ({len(faces)} faces)", lambda: mold.of_insert(insert))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "shell.stl"
        api.write(build.build_insert(outline, usual, 1.0), path)
        timed("check of the 3/4 shell's STL, 1 mm", lambda: check.check_file(path))


if __name__ == "__main__":
    main()
