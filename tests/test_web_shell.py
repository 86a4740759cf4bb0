"""The web app shows a shell: the bundled 4/4 shell profile in a real browser (Playwright, Chromium)
is drawn, and the "As built" panel gives its thickness along the normal, its trim edge and its post."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("playwright.sync_api")

from test_web_browser import page, rebuilt  # noqa: E402,F401  (the page fixture: a server and a browser)


def figure(page, name: str) -> str:
    return page.locator(f"#figures tr[data-figure='{name}']").inner_text().split("\t")[-1]


def test_a_shell_profile_is_drawn_and_reported_as_a_shell(page):
    rebuilt(page, lambda: page.select_option("#profile", "polypropylene_shell_4_4"))
    assert page.input_value("[name='device.type']") == "shell"
    assert figure(page, "device") == "shell, polypropylene"
    thickness = figure(page, "thickness")
    assert "along the normal" in thickness and abs(float(thickness.split()[0]) - 3.0) <= 0.05
    behind = figure(page, "trim edge").split()
    assert abs(float(behind[0]) - 12.0) <= 1.0 and abs(float(behind[2]) - 10.0) <= 1.0
    post = figure(page, "post")
    assert post.startswith("extrinsic: 4.0°, motion 4.0°")
    assert figure(page, "watertight") == "yes, shell and post, each valid"
    drawn = page.evaluate("window.insolegen.drawn")
    assert drawn > 0
    rebuilt(page, lambda: page.select_option("#profile", ""))  # back to a solid: the shell's rows go
    assert page.locator("#figures tr[data-figure='post']").count() == 0
