"""Previews: a real picture, and a page that needs no network."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
from conftest import footprint, load, run


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    from insolegen import api

    folder = tmp_path_factory.mktemp("preview")
    path = folder / "p.stl"
    api.write(api.build(settings={"met_pad.enabled": True}, resolution=2.0), path)
    return path


def test_png_is_a_real_picture(mesh, capsys):
    import matplotlib.image

    out = mesh.with_name("p.png")
    assert run(["preview", mesh, "-o", out], capsys)[0] == 0
    image = matplotlib.image.imread(out)
    assert image.shape[0] > 500 and image.shape[1] > 800
    assert image[..., :3].std() > 0.1  # not blank
    assert len(np.unique(image[..., :3].reshape(-1, 3).round(2), axis=0)) > 100


def test_html_is_self_contained(mesh, capsys):
    out = mesh.with_name("p.html")
    assert run(["preview", mesh, "-o", out], capsys)[0] == 0
    page = out.read_text()
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert "http://" not in page.replace("http://schemas", "") and "https://" not in page
    assert "<canvas" in page and "DATA" in page


def test_html_renders_in_chromium(mesh, capsys, tmp_path):
    from web_support import browser_path

    browser = browser_path()  # Debian's chromium-headless-shell (or chromium); in CI its absence fails
    out = mesh.with_name("p.html")
    run(["preview", mesh, "-o", out], capsys)
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
                    "--window-size=1200,800", out.as_uri()], capture_output=True, timeout=120, check=False)
    import matplotlib.image

    image = matplotlib.image.imread(shot)
    assert image[..., :3].std() > 0.05


def test_preview_from_an_outline(tmp_path, capsys):
    from conftest import write_csv

    from insolegen.template import builtin_points

    src = write_csv(tmp_path / "foot.csv", builtin_points())
    out = tmp_path / "o.png"
    code, _, err = run(["preview", "--outline", src, "--set", "arch.height_mm=14", "-o", out], capsys)
    assert code == 0, err
    assert out.stat().st_size > 10000
    code, _, err = run(["preview", "-o", out], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_png_is_tidy(mesh, capsys):
    """Little empty space (few blank rows or columns), nothing cut at the picture's edge (labels fit),
    and the top view's edge is the insert's own outline (not the stepped edge of a sampled grid)."""
    import matplotlib.image

    from insolegen.check import load_mesh
    from insolegen.preview import top_surface

    out = mesh.with_name("tidy.png")
    assert run(["preview", mesh, "-o", out], capsys)[0] == 0
    rgb = matplotlib.image.imread(out)[..., :3]
    blank = (rgb > 0.98).all(axis=2)
    assert blank.all(axis=1).mean() < 0.1 and blank.all(axis=0).mean() < 0.1
    assert blank[:3].all() and blank[-3:].all() and blank[:, :3].all() and blank[:, -3:].all()
    solid = load_mesh(mesh)
    _, _, rim = top_surface(solid)
    outline = footprint(load(mesh))
    assert np.linalg.norm(rim[:, 1] - rim[:, 0], axis=1).sum() == pytest.approx(outline.length, rel=1e-3)
