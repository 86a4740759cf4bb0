"""Helpers for the web app's tests: a real `insolegen serve` on a free port, a real Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

BROWSERS = ("/usr/bin/chromium-headless-shell", "chromium-headless-shell", "chromium", "chromium-browser")
# Debian's headless shell draws WebGL in software (SwiftShader); no sandbox inside a container
BROWSER_ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-gpu-sandbox"]


def browser_path() -> str:
    """The Chromium to drive; in CI (CI=true) a missing one fails the test, elsewhere it skips."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    message = "no Chromium (apt-get install chromium-headless-shell)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI: {message}")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> tuple[subprocess.Popen, float]:
    """`insolegen serve --port PORT` in a subprocess; (process, seconds until the page answered)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from insolegen.cli import main; sys.exit(main(sys.argv[1:]))",
                             "serve", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                answer.read()
                return proc, time.perf_counter() - start
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"insolegen serve stopped: {proc.stdout.read().decode(errors='replace')}") from None
            if time.perf_counter() - start > 60:
                proc.kill()
                raise RuntimeError("insolegen serve did not answer within 60 s") from None
            time.sleep(0.05)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
