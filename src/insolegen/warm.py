"""The modules every build needs, those it loads on first use included: a process that starts
workers loads them once, and its workers start with them (fork, or forkserver's preload)
instead of each spending half a second of a core on them."""

from __future__ import annotations

import importlib

# manifold3d is imported only: its thread pool starts on first use, after the fork
MODULES = ("insolegen.api", "insolegen.qa", "manifold3d", "scipy.interpolate", "scipy.ndimage")


def load() -> None:
    for name in MODULES:
        importlib.import_module(name)
