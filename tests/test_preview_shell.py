"""Previews of a shell: the PNG's section shows the sheet and the post (each filled in its own
colour, where a solid's profile has neither), its text the figures along the normal, trim and
post; the HTML page carries the underside too, a sheet's thickness below the top."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import run

SHELL = ["--set", "device.type=shell", "--set", "shell.length=three_quarter", "--set", "post.rearfoot=extrinsic",
         "--set", "posting.rearfoot_deg=4", "--set", "posting.rearfoot_motion_deg=4"]
SHEET_FILL, POST_FILL = (0.298, 0.574, 0.765), (1.0, 0.598, 0.244)  # C0 and C1 at alpha 0.8 on white


@pytest.fixture(scope="module")
def meshes(tmp_path_factory):
    from insolegen.cli import main

    folder = tmp_path_factory.mktemp("preview-shell")
    out = {"shell": folder / "shell.stl", "solid": folder / "solid.stl"}
    assert main(["build", "-q", "--resolution", "2", *SHELL, "-o", str(out["shell"])]) == 0
    assert main(["build", "-q", "--resolution", "2", "-o", str(out["solid"])]) == 0
    return out


def fill_pixels(png, colour) -> int:
    import matplotlib.image

    rgb = matplotlib.image.imread(png)[..., :3]
    return int((np.abs(rgb - colour).max(axis=2) < 0.03).sum())


def test_png_sections_a_shell_into_sheet_and_post(meshes, capsys):
    pictures = {}
    for name, mesh in meshes.items():
        pictures[name] = mesh.with_suffix(".png")
        assert run(["preview", mesh, "-o", pictures[name]], capsys)[0] == 0
    sheet, post = fill_pixels(pictures["shell"], SHEET_FILL), fill_pixels(pictures["shell"], POST_FILL)
    print(f"shell section: {sheet} sheet pixels, {post} post pixels")
    assert sheet > 3000 and post > 3000
    assert fill_pixels(pictures["solid"], SHEET_FILL) < 100 and fill_pixels(pictures["solid"], POST_FILL) < 100


def test_a_shell_with_no_report_is_recognised(meshes, capsys, tmp_path):
    """Another tool's shell (the STL alone): the preview measures it as check does and sections it."""
    import shutil

    alone = shutil.copy(meshes["shell"], tmp_path / "other.stl")
    png = tmp_path / "other.png"
    assert run(["preview", alone, "-o", png], capsys)[0] == 0
    assert fill_pixels(png, SHEET_FILL) > 3000 and fill_pixels(png, POST_FILL) > 3000


def test_html_of_a_shell_holds_its_underside(meshes, capsys):
    out = meshes["shell"].with_suffix(".html")
    assert run(["preview", meshes["shell"], "-o", out], capsys)[0] == 0
    page = out.read_text()
    data = json.loads(re.search(r"const DATA = (\{.*?\});\n", page).group(1))
    v = np.array(data["vertices"])
    xy, inverse, count = np.unique(v[:, :2], axis=0, return_inverse=True, return_counts=True)
    top, under = np.full(len(xy), -np.inf), np.full(len(xy), np.inf)
    np.maximum.at(top, inverse.ravel(), v[:, 2])
    np.minimum.at(under, inverse.ravel(), v[:, 2])
    forefoot = (count == 2) & (xy[:, 0] > 120)  # ahead of the post: the sheet alone
    gap = np.median(top[forefoot] - under[forefoot])
    assert forefoot.sum() > 100 and 2.9 <= gap <= 3.5  # 3 mm along the normal, a little more vertically
    heel = (count == 2) & (xy[:, 0] < 60)
    assert np.percentile(under[heel], 50) < 1.5  # under the heel: the post's bottom, on the ground
    assert "along the normal" in data["text"] and "extrinsic post" in data["text"] and "trim edge" in data["text"]
