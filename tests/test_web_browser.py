"""The web app in a real browser: Playwright driving Debian's Chromium against `insolegen serve`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import grid_inside, load, top_at
from web_support import BROWSER_ARGS, browser_path, free_port, start_server, stop_server

pytest.importorskip("fastapi")
sync_api = pytest.importorskip("playwright.sync_api")

from insolegen import prescription  # noqa: E402

# The README's picture: written there when INSOLEGEN_SCREENSHOT=1, else to a temporary folder (a test
# run leaves the checkout as it was).
README_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "web-app.png"

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


def test_gcode_with_the_milling_settings_shown(page, tmp_path):
    page.select_option("[name=tool]", "ball")
    page.fill("[name=stepover_mm]", "3")
    with page.expect_download(timeout=180_000) as info:
        page.get_by_role("link", name="Download G-code", exact=True).click()
    program = tmp_path / "insert.nc"
    info.value.save_as(program)
    text = program.read_text()
    assert text.startswith("(insolegen cam") and "finishing: T1 ball, stepover 3 mm" in text and "G21" in text
    assert "min at the feeds, scallop 0.40" in page.locator("#mill-figures").inner_text()
    page.fill("[name=stepover_mm]", "9")  # not less than the 6 mm tool: named beside the field
    page.get_by_role("link", name="Download G-code", exact=True).click()
    beside = page.locator(".err[data-for=stepover_mm]")
    beside.wait_for(state="visible", timeout=120_000)
    assert beside.inner_text().startswith("--stepover 9 mm is not less than the tool diameter 6 mm")
    page.fill("[name=stepover_mm]", "1")


def test_a_newer_change_withdraws_the_older_build(page):
    """Typing 1, 16 then 16.5 into arch.height_mm: the older builds are aborted, the last one is shown."""
    aborted: list[str] = []

    def listener(request):
        if "/api/view" in request.url:
            aborted.append(request.url)

    page.on("requestfailed", listener)
    field = page.locator("[name='arch.height_mm']")
    field.fill("")
    drawn = page.evaluate("window.insolegen.drawn")
    field.press_sequentially("16.5", delay=35)  # each key outlasts the 25 ms debounce; no build is done in 10 ms
    page.wait_for_function(f"window.insolegen.drawn > {drawn} && window.insolegen.pending === 0", timeout=120_000)
    page.wait_for_timeout(300)
    page.remove_listener("requestfailed", listener)
    assert aborted, "no older build was withdrawn"
    assert page.locator("#figures tr[data-figure=arch]").inner_text().split("\t")[-1].startswith("16.50 mm")


def test_screenshot_for_the_readme(page, tmp_path):
    rebuilt(page, lambda: page.check("[name='met_pad.enabled']"))
    # the prescription's groups in view (the foot's inputs are above them)
    page.evaluate("document.querySelector('#inputs').scrollTop = document.querySelector('#rx').parentElement.offsetTop - 50")
    shot = README_SCREENSHOT if os.environ.get("INSOLEGEN_SCREENSHOT") == "1" else tmp_path / "web-app.png"
    shot.parent.mkdir(exist_ok=True)
    page.screenshot(path=shot)
    assert shot.stat().st_size > 20_000


def test_an_uploaded_outline_is_built_and_a_bad_one_named_beside_it(page, tmp_path):
    from conftest import write_csv

    from insolegen.template import builtin_points

    good = write_csv(tmp_path / "Patient 12.csv", builtin_points(240.0, 92.0))
    rebuilt(page, lambda: page.set_input_files("input[name=outline]", good))
    assert "240 × 92 mm, Patient 12.csv" in page.locator("#figures tr[data-figure=foot]").inner_text()
    mesh = load(download(page, "Download STL", tmp_path))
    assert np.ptp(mesh.bounds[:, 0]) == pytest.approx(240.0, abs=0.5) and mesh.is_watertight
    bad = tmp_path / "broken.csv"
    bad.write_text("x,y\n1,2\n")
    page.set_input_files("input[name=outline]", bad)
    beside = page.locator(".err[data-for=outline]")
    beside.wait_for(state="visible", timeout=60_000)
    assert beside.inner_text() == "broken.csv: an outline needs at least 3 distinct points, got 1"
    rebuilt(page, lambda: page.get_by_role("button", name="Use the built-in outline").click())
    assert "265 × 100 mm, builtin" in page.locator("#figures tr[data-figure=foot]").inner_text()


def test_a_pair_in_the_page_lifts_the_short_side(page, tmp_path):
    page.fill("[name='heel_lift.height_mm']", "5")
    page.select_option("[name=short_side]", "right")
    rebuilt(page, lambda: page.get_by_role("button", name="Build pair").click())
    heel = {}
    for side in ("left", "right"):
        (tmp_path / side).mkdir()
        mesh = load(download(page, f"Download {side} STL", tmp_path / side))
        report = __import__("json").loads(download(page, f"Download {side} report", tmp_path / side).read_text())
        heel[side] = top_at(mesh, np.array([report["landmarks"]["heel_centre"]["xy_mm"]]))[0]
        assert report["side"] == side and mesh.is_watertight
    assert heel["right"] - heel["left"] == pytest.approx(5.0, abs=0.05)
    assert page.evaluate(COUNT_DRAWN, False)["drawn"] > 0.05 * page.evaluate(COUNT_DRAWN, False)["total"]


def test_a_batch_zip_in_the_page(page, tmp_path):
    import io
    import zipfile

    from conftest import write_csv

    from insolegen.template import builtin_points

    write_csv(tmp_path / "a.csv", builtin_points(250.0, 95.0))
    packed = tmp_path / "clinic.zip"
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("manifest.csv", "id,outline,arch.height_mm,resolution\nann,a.csv,14,2\nbad,,40,2\n")
        archive.write(tmp_path / "a.csv", "a.csv")
    page.set_input_files("input[name=batch]", packed)
    page.get_by_role("button", name="Run batch").click()
    page.get_by_role("link", name="Download batch results").wait_for(timeout=120_000)
    assert "1 built, 0 skipped, 1 failed" in page.locator("#batch").inner_text()
    assert "arch.height_mm = 40.0 is out of range" in page.locator("#batch").inner_text()
    out = zipfile.ZipFile(io.BytesIO(download(page, "Download batch results", tmp_path).read_bytes()))
    (tmp_path / "ann.stl").write_bytes(out.read("ann.stl"))
    assert np.ptp(load(tmp_path / "ann.stl").bounds[:, 0]) == pytest.approx(250.0, abs=0.5)
    assert "batch-summary.csv" in out.namelist()


SCAN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scans" / "techmed3d_right_plantar.obj"


@pytest.mark.skipif(not SCAN.is_file(), reason="../shared/data/scans is absent")
def test_a_scan_in_the_page(page, tmp_path):
    rebuilt(page, lambda: page.set_input_files("input[name=scan]", SCAN))
    assert page.input_value("[name=side]") == "auto"
    assert SCAN.name in page.locator("#figures tr[data-figure=foot]").inner_text()
    # the arch as built is the foot's own, as scanned (the report's scan.arch_height_mm, 17.3 mm), not arch.height_mm
    assert page.locator("#figures tr[data-figure=arch]").inner_text().split("\t")[-1].startswith("17.3 mm")
    mesh = load(download(page, "Download STL", tmp_path))
    assert mesh.is_watertight and 250 < np.ptp(mesh.bounds[:, 0]) < 290
    assert page.locator("#figures tr[data-figure=faired]").count() == 0  # nothing to fair at the default rims
    # Rims high on the foot's steep sides level off where the wall turns sharply: the top is faired there, as the report says.
    groups = "document.querySelectorAll('#rx details')"
    was_open = page.evaluate(f"[...{groups}].map((d) => d.open)")
    rims = {name: page.input_value(f"[name='{name}']") for name in ("heel_cup.depth_mm", "scan.rim_mm")}
    page.evaluate(f"for (const d of {groups}) d.open = true")
    rebuilt(page, lambda: page.fill("[name='heel_cup.depth_mm']", "20"))
    rebuilt(page, lambda: page.fill("[name='scan.rim_mm']", "10"))
    fairing = json.loads(download(page, "Download report", tmp_path).read_text())["scan"]["fairing"]
    faired = page.locator("#figures tr[data-figure=faired]").inner_text()
    assert fairing["most_mm"] > 0 and f"{fairing['crease_before_deg']:.1f}° → {fairing['crease_after_deg']:.1f}°" in faired, faired
    for name, value in rims.items():  # the page as it was, for the tests after this one
        rebuilt(page, lambda: page.fill(f"[name='{name}']", value))
    page.evaluate(f"(was) => {groups}.forEach((d, i) => {{ d.open = was[i]; }})", was_open)
    rebuilt(page, lambda: page.get_by_role("button", name="Use the built-in outline").click())
    assert page.input_value("[name=side]") == "right"


def test_a_profile_fills_the_form_and_is_built(page):
    rebuilt(page, lambda: page.select_option("#profile", "leg_length_6mm"))
    expected = prescription.resolve("leg_length_6mm")
    assert float(page.input_value("[name='heel_lift.height_mm']")) == expected.heel_lift.height_mm
    assert float(page.input_value("[name='arch.height_mm']")) == expected.arch.height_mm
    lift = page.locator("#figures tr[data-figure='heel lift']").inner_text().split("\t")[-1]
    assert lift.startswith(f"{expected.heel_lift.height_mm:.2f} mm")


def test_a_nested_zone_and_a_lab_field_set_in_the_page_are_on_the_downloaded_3mf(page, tmp_path):
    """zones.heel.infill_pct (three levels, nullable) and skive.medial_mm, set in their closed groups of
    the form: the 3MF the page offers carries a 15% heel zone and a 4 mm medial skive; emptied, the zone is unset."""
    import zipfile

    from test_zones import volumes_of

    def zoned(path: Path) -> bool:  # PrusaSlicer's model config is written for zones only
        return "Metadata/Slic3r_PE_model.config" in zipfile.ZipFile(path).namelist()

    (tmp_path / "0").mkdir(), (tmp_path / "1").mkdir(), (tmp_path / "2").mkdir()
    zone, skive = page.locator("[name='zones.heel.infill_pct']"), page.locator("[name='skive.medial_mm']")
    assert not zone.is_visible() and not skive.is_visible()  # the lab's sections start closed
    assert zone.input_value() == "" and zone.get_attribute("placeholder") == "unset"
    plain = download(page, "Download 3MF", tmp_path / "0")
    report = json.loads(download(page, "Download report", tmp_path / "0").read_text())
    assert not zoned(plain)
    page.locator("[data-section=zones] > summary").click()
    rebuilt(page, lambda: zone.fill("15"))
    page.locator("[data-section=skive] > summary").click()
    rebuilt(page, lambda: skive.fill("4"))
    b = volumes_of(download(page, "Download 3MF", tmp_path / "1"))
    assert [(v["keys"]["name"], v["keys"].get("fill_density")) for v in b] == [("insert", None), ("heel zone", "15%")]
    insert0, insert = load(plain), b[0]["mesh"]
    insert.merge_vertices()
    assert insert.is_watertight and b[1]["mesh"].is_watertight
    length = insert0.bounds[1, 0]
    xy = grid_inside(insert0, 1.0, margin=1.0)
    lift = top_at(insert, xy) - top_at(insert0, xy)
    heel = xy[:, 0] < 0.35 * length
    peak = xy[heel][np.nanargmax(lift[heel])]
    print(f"skive from the page: {np.nanmax(lift[heel]):.3f} mm at {peak} mm; heel zone {b[1]['mesh'].volume / 1000:.1f} cm3")
    assert np.nanmax(lift[heel]) == pytest.approx(4.0, abs=0.15)
    assert (peak[1] - report["landmarks"]["heel_centre"]["xy_mm"][1]) > 5.0  # medial of a right heel: +y
    assert np.nanmax(np.abs(lift[xy[:, 0] > 0.45 * length])) <= 1e-3
    rebuilt(page, lambda: zone.fill(""))  # empty: the zone is unset again
    assert not zoned(download(page, "Download 3MF", tmp_path / "2"))


def test_a_shoe_size_in_the_page_sizes_the_built_in_outline(page, tmp_path):
    from insolegen.template import foot_for_shoe

    length, width = foot_for_shoe(9.0, "uk")
    rebuilt(page, lambda: page.select_option("[name=size_system]", "uk"))
    rebuilt(page, lambda: page.fill("[name=shoe_size]", "9"))
    assert f"{length:.0f} × {width:.0f} mm, builtin" in page.locator("#figures tr[data-figure=foot]").inner_text()
    mesh = load(download(page, "Download STL", tmp_path))
    assert np.ptp(mesh.bounds[:, 0]) == pytest.approx(length, abs=0.01) and mesh.is_watertight
    page.fill("[name=shoe_size]", "30")
    beside = page.locator(".err[data-for=shoe_size]")
    beside.wait_for(state="visible", timeout=60_000)
    assert beside.inner_text().startswith("--shoe-size 30 is not an adult uk size")
    rebuilt(page, lambda: page.fill("[name=shoe_size]", ""))  # empty: the foot length and width again
    assert "265 × 100 mm, builtin" in page.locator("#figures tr[data-figure=foot]").inner_text()


# the canvas's pixels in the pressure map's reds and oranges (the insert's own colours hold none)
COUNT_HOT = """() => {
  const source = document.querySelector('canvas#insert');
  const copy = document.createElement('canvas');
  copy.width = source.width; copy.height = source.height;
  const g = copy.getContext('2d');
  g.drawImage(source, 0, 0);
  const px = g.getImageData(0, 0, copy.width, copy.height).data;
  let hot = 0;
  for (let i = 0; i < px.length; i += 4) if (px[i] > 120 && px[i] > px[i + 1] + 50 && px[i] > px[i + 2] + 50) hot++;
  return hot;
}"""
PRESSURE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pressure" / "emed_test.lst"


@pytest.mark.skipif(not PRESSURE.is_file(), reason="../shared/data/pressure is absent")
def test_a_pressure_recording_in_the_page_lies_under_the_insert(page):
    """A recording set beside the outline: the landmarks come from it and its peak map is drawn
    under the (then see-through) insert; cleared, the map is gone."""
    without = page.evaluate(COUNT_HOT)
    rebuilt(page, lambda: page.set_input_files("input[name=pressure]", PRESSURE))
    try:
        assert page.evaluate(COUNT_HOT) > 200 + 10 * without
    finally:
        rebuilt(page, lambda: page.set_input_files("input[name=pressure]", []))
    assert page.evaluate(COUNT_HOT) <= 2 * without + 50
