"""uvicorn's h11 protocol with the one timeout it lacks: a request's headers must arrive in time.

uvicorn times out an idle kept-alive connection (`timeout_keep_alive`), but not a connection
that never sends a request, nor one that sends its headers a byte at a time (slow-loris): each
would stay open for as long as its client likes. Here a connection waiting for a request's
headers (from its start, or from the end of the previous answer) is closed `header_timeout`
seconds later unless they have all come. The body's pauses are web/limits.py's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HeaderTimeoutProtocol", "with_header_timeout"]


class HeaderTimeoutProtocol(H11Protocol):
    """H11Protocol closing a connection whose request headers are late."""

    header_timeout: float = 10.0  # set by with_header_timeout

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._headers_came()

    def on_response_complete(self) -> None:
        self._await_headers()  # the next request's, on a kept-alive connection
        super().on_response_complete()  # parses a pipelined request, if one is waiting
        self._headers_came()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._stop_waiting()
        self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def _headers_came(self) -> None:
        # h11 leaves IDLE only once a whole request line and headers have been parsed.
        if self.conn.their_state is not h11.IDLE:
            self._stop_waiting()

    def _stop_waiting(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """The protocol class for uvicorn's `http` setting, with this header timeout."""
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})
