"""The modules every build needs, those it loads on first use included: a process that starts
workers loads them once, and its workers start with them (fork, or a forkserver's preload)
instead of each spending half a second of a core on them."""

from __future__ import annotations

import importlib
import multiprocessing

# manifold3d is imported only: its thread pool starts on first use, after the fork
MODULES = ("insolegen.api", "insolegen.qa", "manifold3d", "scipy.interpolate", "scipy.ndimage")


def load() -> None:
    for name in MODULES:
        importlib.import_module(name)


def context(*more: str):
    """A multiprocessing context whose workers start with the build (and the modules ``more``)
    loaded: a forkserver that loads them once and forks each worker from itself. Not plain fork:
    a process with threads (a web server) would hand their locks to its children. Spawn where
    there is no forkserver (each worker then loads them itself)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    forkserver = multiprocessing.get_context("forkserver")
    forkserver.set_forkserver_preload([*MODULES, *more])
    return forkserver


def start(*more: str) -> None:
    """Start the forkserver of :func:`context` now: it loads the build on another core while
    this process goes on with its own start."""
    if context(*more).get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
