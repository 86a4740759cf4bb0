"""Other web sites may not drive the local app through the user's browser.

A page from elsewhere can make the browser send a form to http://127.0.0.1:8000 (no preflight
for a multipart POST), and a name that an attacker points at 127.0.0.1 (DNS rebinding) can even
read the answers. So requests must name this server in Host, and a POST that says where it came
from (Origin) must come from the app's own page.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]", "::1")


class SameOrigin:
    """ASGI middleware: 400 for a Host not in ``hosts`` (``"*"``: any), 403 for a foreign Origin."""

    def __init__(self, app, hosts: tuple[str, ...] = LOCAL_NAMES) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1")
        name = urlsplit(f"//{host}").hostname or ""
        if "*" not in self.hosts and name not in self.hosts and f"[{name}]" not in self.hosts:
            await _refuse(send, 400, f"this app answers to {', '.join(self.hosts[:2])}, not '{host}'; open it as http://127.0.0.1:PORT/")
            return
        origin = headers.get(b"origin", b"").decode("latin-1")
        if scope["method"] not in ("GET", "HEAD") and origin and urlsplit(origin).netloc != host:
            await _refuse(send, 403, "a request from another site was refused; use the app's own page")
            return
        await self.app(scope, receive, send)


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
