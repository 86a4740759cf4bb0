"""The web app in a real browser: Playwright driving Debian's Chromium against `insolegen serve`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import load, top_at
from web_support import BROWSER_ARGS, browser_path, free_port, start_server, stop_server

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api")

from insolegen import prescription  # noqa: E402

SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "web-app.png"

# pixels that differ from the background (the top-left pixel), counted in a copy of the canvas;
# with no argument, in a new blank canvas of the same size: the negative control
COUNT_DRAWN = """(blank) => {
  const source = document.querySelector('canvas#insert');
  const copy = document.createElement('canvas');
  copy.width = source.width; copy.height = source.height;
  const g = copy.getContext('2d');
  if (blank) { g.fillStyle = '#eef1f4'; g.fillRect(0, 0, copy.width, copy.height); } else g.drawImage(source, 0, 0);
  const px = g.getImageData(0, 0, copy.width, copy.height).data;
  let drawn = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (Math.abs(px[i] - px[0]) + Math.abs(px[i + 1] - px[1]) + Math.abs(px[i + 2] - px[2]) > 24) drawn++;
  }
  return {drawn, total: px.length / 4};
}"""


@pytest.fixture(scope="module")
def page():
    executable = browser_path()
    port = free_port()
    server, _ = start_server(port)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 860}, accept_downloads=True)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: errors.append(f"left the machine: {r.url}") if "127.0.0.1" not in r.url else None)
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("window.insolegen && window.insolegen.drawn > 0", timeout=120_000)
            yield page
            assert errors == []
            browser.close()
    finally:
        stop_server(server)


def rebuilt(page, action) -> None:
    """Do ``action`` and wait until the page has drawn the insert it asked for."""
    before = page.evaluate("window.insolegen.drawn")
    action()
    page.wait_for_function(f"window.insolegen.drawn > {before} && window.insolegen.pending === 0", timeout=120_000)


def download(page, name: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.get_by_role("link", name=name, exact=True).click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_the_page_meets_its_contract(page):
    for field in prescription.FIELDS:
        assert page.locator(f"input[name='{field}'], select[name='{field}']").count() == 1, field
    assert page.locator("input[type=file][name=outline]").count() == 1
    assert page.locator("canvas").count() == 1
    for name in ("Download STL", "Download 3MF", "Download report"):
        assert page.get_by_role("link", name=name, exact=True).get_attribute("href").startswith("/files/")
    height = page.locator("[name='arch.height_mm']")
    assert (height.get_attribute("min"), height.get_attribute("max")) == ("0", "25")
    assert "medial arch support height" in height.get_attribute("title")
    assert page.locator("#figures tr[data-figure=watertight]").inner_text().endswith("yes, one valid body")


def test_the_canvas_draws_an_insert(page):
    shown, blank = page.evaluate(COUNT_DRAWN, False), page.evaluate(COUNT_DRAWN, True)
    assert blank["drawn"] == 0
    assert shown["drawn"] > 0.05 * shown["total"]


def test_a_changed_field_is_on_the_downloaded_stl(page, tmp_path):
    """heel_lift.height_mm 0 -> 7 in the form: the STL the page offers rises 7 mm at the heel only."""
    (tmp_path / "0").mkdir(), (tmp_path / "1").mkdir()
    before_pixels = page.evaluate(COUNT_DRAWN, False)["drawn"]
    b0 = download(page, "Download STL", tmp_path / "0")
    report = download(page, "Download report", tmp_path / "0")
    rebuilt(page, lambda: page.fill("[name='heel_lift.height_mm']", "7"))
    b = download(page, "Download STL", tmp_path / "1")
    assert page.locator("#figures tr[data-figure='heel lift']").inner_text().split("\t")[-1].startswith("7.00 mm")
    assert page.evaluate(COUNT_DRAWN, False)["drawn"] != before_pixels  # the view changed too
    import json

    marks = json.loads(report.read_text())["landmarks"]
    heel, toes = np.array([marks["heel_centre"]["xy_mm"]]), np.array([[marks["mtpj1"]["xy_mm"][0] + 25.0, 0.0]])
    mesh0, mesh = load(b0), load(b)
    assert top_at(mesh, heel) - top_at(mesh0, heel) == pytest.approx([7.0], abs=0.05)
    assert top_at(mesh, toes) - top_at(mesh0, toes) == pytest.approx([0.0], abs=1e-6)
    assert mesh.is_watertight
    with page.expect_download() as info:
        page.get_by_role("link", name="Download 3MF", exact=True).click()
    info.value.save_as(tmp_path / "1" / "insert.3mf")
    assert np.allclose(load(tmp_path / "1" / "insert.3mf").bounds, mesh.bounds, atol=1e-3)


def test_an_out_of_range_value_is_named_beside_its_field(page):
    drawn = page.evaluate("window.insolegen.drawn")
    page.fill("[name='arch.height_mm']", "30")
    beside = page.locator(".err[data-for='arch.height_mm']")
    beside.wait_for(state="visible", timeout=60_000)
    assert beside.inner_text() == "prescription: arch.height_mm = 30.0 is out of range; allowed 0 to 25"
    assert page.locator("[name='arch.height_mm']").get_attribute("aria-invalid") == "true"
    assert page.evaluate("window.insolegen.drawn") == drawn  # the last good insert stays in view
    rebuilt(page, lambda: page.fill("[name='arch.height_mm']", "14"))
    assert beside.inner_text() == ""


def test_screenshot_for_the_readme(page):
    rebuilt(page, lambda: page.check("[name='met_pad.enabled']"))
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 20_000
