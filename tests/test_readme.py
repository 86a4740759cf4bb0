"""The README's Python API example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import ezdxf

from insolegen.template import builtin_points

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_api_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    doc = ezdxf.new()
    doc.header["$INSUNITS"] = 4
    doc.modelspace().add_lwpolyline((builtin_points() * [1, -1]).tolist(), close=True)  # a left foot, mm
    doc.saveas("foot.dxf")
    Path("manifest.csv").write_text("id,side,arch.height_mm\na,left,12\nb,right,8\n")
    code = re.search(r"```python\n(.*?)```", README.read_text().split("## Python API")[1], re.S).group(1)
    scope: dict = {}
    exec(compile(code, str(README), "exec"), scope)  # its own assertions check the result
    assert [s["status"] for s in scope["summaries"]] == ["built", "built"]
    assert Path("outputs/left.3mf").is_file() and Path("outputs/batch/a.stl").is_file()
