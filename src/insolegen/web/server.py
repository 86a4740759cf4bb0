"""Run the web app with uvicorn, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import threading
import webbrowser

from ..errors import InputError


def serve(host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False) -> None:
    """Serve until Ctrl-C; with ``open_browser`` the page opens once the server answers."""
    from .. import warm

    warm.start("insolegen.web.jobs")  # the build workers' modules load on the other core while the server starts
    try:
        import uvicorn

        from .app import create_app
    except ImportError as exc:
        raise InputError(f"insolegen serve needs the web extra ({exc.name} is missing): pip install 'insolegen[web]'") from None
    _check_free(host, port)
    from .guard import LOCAL_NAMES

    # on a loopback address only local names reach it; on another address the user chose to share it
    hosts = LOCAL_NAMES if host in LOCAL_NAMES else ("*",)
    config = uvicorn.Config(create_app(hosts=hosts), host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    if open_browser:
        def when_up():
            while not server.started and not server.should_exit:
                threading.Event().wait(0.05)
            if server.started:
                webbrowser.open(url)

        threading.Thread(target=when_up, daemon=True).start()
    print(f"insolegen: serving {url} (Ctrl-C stops)", flush=True)
    server.run()


def _check_free(host: str, port: int) -> None:
    """An error naming the option to change when ``host:port`` cannot be listened on."""
    import socket

    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise InputError(f"--host {host} --port {port}: cannot listen there ({exc.strerror}); pick another --port, "
                         "or a --host that is an address of this machine") from None
