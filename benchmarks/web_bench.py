"""Web app speed, measured in a real browser: prints figures, asserts nothing.

    python benchmarks/web_bench.py [--changes 20]

- first page ready: from starting `insolegen serve` to the page's form built from the schema
  (targets < 1 s), and to the first insert on screen;
- field change -> new insert on screen: from the input event (debounce included) to the frame
  after the new mesh is drawn, at the page's default mesh spacing (target < 150 ms).
Needs the [web] and [test] extras and Chromium (chromium-headless-shell).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from web_support import BROWSER_ARGS, browser_path, free_port, stop_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()
    import subprocess

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path(), args=BROWSER_ARGS)  # launched before the clock starts
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        start = time.perf_counter()
        server = subprocess.Popen([sys.executable, "-c", "import sys; from insolegen.cli import main; sys.exit(main(sys.argv[1:]))",
                                   "serve", "--port", str(port)], stdout=subprocess.DEVNULL)
        try:
            while True:
                try:
                    urllib.request.urlopen(url, timeout=5).read()
                    break
                except OSError:
                    time.sleep(0.01)
            answered = time.perf_counter() - start
            page.goto(url)
            page.wait_for_function("window.insolegen && window.insolegen.ready", polling=5)
            ready = time.perf_counter() - start
            page.wait_for_function("window.insolegen.drawn > 0", polling=5, timeout=120_000)
            first = time.perf_counter() - start
            print(f"serve -> page answers:       {answered * 1000:7.0f} ms")
            print(f"serve -> page ready (form):  {ready * 1000:7.0f} ms   (target < 1000)")
            print(f"serve -> first insert drawn: {first * 1000:7.0f} ms   (worker processes start meanwhile)")
            spacing = page.input_value("[name=resolution]")
            times, parts = [], []
            for k in range(args.changes):
                drawn = page.evaluate("window.insolegen.drawn")
                page.fill("[name='arch.height_mm']", str(8 + k % 2 * 4 + k * 0.01))
                page.wait_for_function(f"window.insolegen.drawn > {drawn}", polling="raf", timeout=120_000)
                times.append(page.evaluate("window.insolegen.lastMs"))
                parts.append(page.evaluate("window.insolegen.parts"))
            times.sort()
            print(f"field change -> new insert on screen, {spacing} mm mesh, {len(times)} changes: "
                  f"median {statistics.median(times):.0f} ms, p90 {times[int(0.9 * (len(times) - 1))]:.0f} ms, "
                  f"best {times[0]:.0f} ms (target < 150)")
            print("  median parts: " + ", ".join(f"{k} {statistics.median(p[k] for p in parts):.0f} ms" for k in parts[0])
                  + " (build: the POST /api/view, from form to figures and mesh; draw: colour, render)")
        finally:
            stop_server(server)
            browser.close()


if __name__ == "__main__":
    main()
