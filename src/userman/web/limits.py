"""What one client may ask of the web port: the size of a request body and how long it may take.

`WebLimits` holds the operator's settings (`userman serve --http-*`); `BodyLimit` is the ASGI
middleware that refuses a body over the limit with 413 before it is read (by its Content-Length)
or as soon as it grows past it (chunked), and a body that stalls with 408. The header timeout
and the cap on connections are the server's (web/protocol.py, web/serve.py). No route takes an
upload, so one limit serves every form and every API call.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "WebLimits"]

CLOSE = (b"connection", b"close")


@dataclass(frozen=True, slots=True)
class WebLimits:
    """The web port's limits. `timeout` bounds the wait for a request's headers (from the
    connection, or from the end of the previous answer) and every pause inside its body."""

    max_body: int = 1024 * 1024  # bytes
    timeout: float = 10.0  # seconds
    keep_alive: int = 5  # seconds an idle connection stays open between requests
    max_connections: int = 200  # open at once; a request beyond them is answered 503
    max_header: int = 16 * 1024  # bytes of request line and headers


def _too_large(limit: int) -> str:
    return f"failure: request body too large (the limit is {limit} bytes)"


class BodyLimit:
    """Pure ASGI middleware: at most `max_body` bytes of request body, no pause in it longer
    than `timeout` seconds. An answer given before the whole body arrived closes the
    connection, so that the rest is not read to keep the connection alive."""

    def __init__(self, app: ASGIApp, *, max_body: int, timeout: float) -> None:
        self.app = app
        self.max_body = max_body
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _refuse(scope, send, self.max_body)
            return
        has_body = length not in {None, b"0"} or b"transfer-encoding" in headers
        received = 0
        ended = not has_body

        async def limited_receive() -> Message:
            nonlocal received, ended
            if ended:  # what comes after the body (a disconnect) may take its time
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                raise HTTPException(
                    408, "failure: the request body stalled", {"Connection": "close"}
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                ended = not message.get("more_body", False)
                if received > self.max_body:
                    raise HTTPException(413, _too_large(self.max_body), {"Connection": "close"})
            else:
                ended = True
            return message

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and not ended:
                message["headers"] = [*message.get("headers", []), CLOSE]
            await send(message)

        await self.app(scope, limited_receive, send_closing)


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    """413 without reading the body, and the connection closed after it."""
    text = _too_large(limit)
    if str(scope.get("path", "")).startswith("/api"):
        body, kind = json.dumps({"error": text}).encode(), b"application/json"
    else:
        body, kind = text.removeprefix("failure: ").encode(), b"text/plain; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode()), CLOSE]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
