"""Request bodies over the upload limit are refused with 413, whatever the client claims.

The declared Content-Length is checked first; the body is also counted as it streams in (a
chunked upload, or a client that lies), and the request is cut off at the limit. The server
keeps serving other requests either way.
"""

from __future__ import annotations

import json

MAX_UPLOAD_BYTES = 50 * 2**20


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: 413 ``{"error": ...}`` for a request body over ``limit`` bytes."""

    def __init__(self, app, limit: int = MAX_UPLOAD_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def watched(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send) -> None:
        body = json.dumps({"error": f"the upload is over {self.limit // 2**20} MB; send a smaller file "
                                    "(thin a scan, or split a batch)"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
