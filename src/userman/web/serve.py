"""The web server inside `userman serve`: uvicorn on a thread and an event loop of its own.

The RADIUS ports keep the main thread's event loop to themselves: whatever a web request waits
for (the database, argon2, a page that takes long to render) delays other web requests at
worst, never an answer to a router (shared/DESIGN.md). The listening socket is bound
(cli/ports.py) before the server says it listens anywhere, so that a bad address or a port in
use stops `serve` at once with the reason; the thread serves it from before `serve` says it
listens. uvicorn's own signal handling is left out: `serve` owns SIGINT and SIGTERM, and its
`stop` stops the web server with everything else.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import uvicorn
from prometheus_client import CollectorRegistry

from userman.services import Userman
from userman.web.app import create_app
from userman.web.limits import WebLimits
from userman.web.metrics import LOOPBACK, Network, metrics_app, new_registry, parse_allow
from userman.web.protocol import with_header_timeout

__all__ = [
    "CollectorRegistry",
    "Network",
    "Task",
    "WebLimits",
    "WebThread",
    "metrics_server",
    "new_registry",
    "parse_allow",
    "warn_if_open",
    "web_server",
]

log = logging.getLogger("userman.server")

GRACE_SECONDS = 5  # for requests under way when the server stops
# How long `serve` waits for the web thread to end once stopped: the grace, plus a request that
# holds the web's loop (a call that blocks it) a little longer. Past it the thread is left to
# end with the process (a daemon thread), and a warning says so.
STOP_SECONDS = GRACE_SECONDS + 5

# A coroutine `serve` (server/main.py's Task) runs beside the RADIUS ports until `stop` is set.
Task = Callable[[asyncio.Event], Awaitable[None]]


class _Server(uvicorn.Server):
    """uvicorn without signal handlers of its own, saying when it serves."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.settled = threading.Event()  # set once it serves, or once it ended without

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.settled.set()


def warn_if_open(app: Userman, host: str) -> None:
    """Log a warning when the web port is reachable from the network while a customer (the
    default admin, at first) can log in with an empty password."""
    if ipaddress.ip_address(host).is_loopback:
        return
    logins = app.customers_without_password()
    if logins:
        log.warning(
            "the web port is open to the network and customer %s has an empty password: "
            "set one (userman customer set LOGIN password=...) or bind the web port to "
            "127.0.0.1 (--http-bind)",
            ", ".join(logins),
        )


class WebThread:
    """uvicorn serving one listening socket on a thread and an event loop of its own, from
    `start` until it is stopped (`task`'s `stop`, or `close`)."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket) -> None:
        self._server = _Server(config)
        self._sock = sock
        # Done when the thread's loop has ended, with the error it ended with if any: what the
        # RADIUS loop awaits, without a thread of its own to wait in.
        self._ended: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, name="userman-web", daemon=True)
        self._left = False  # `task` waited STOP_SECONDS for it in vain: no second wait

    def start(self) -> None:
        """Start the thread; return once it serves, or raise what kept it from serving (a
        certificate that does not load)."""
        self._thread.start()
        self._server.settled.wait()
        if self._ended.done():
            self._ended.result()

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            asyncio.run(self._server.serve(sockets=[self._sock]))
        except BaseException as raised:  # said by `task`, on the RADIUS loop
            error = raised
        self._sock.close()
        if error is None:
            self._ended.set_result(None)
        else:  # SystemExit too (uvicorn exits when it cannot start): an error, not an exit
            self._ended.set_exception(
                error if isinstance(error, Exception) else RuntimeError(repr(error))
            )
        self._server.settled.set()

    async def task(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then stop the web server and wait (without blocking this
        loop) for its thread to end, at most STOP_SECONDS."""
        ended = asyncio.wrap_future(self._ended)
        stopping = asyncio.ensure_future(stop.wait())
        either: set[asyncio.Future[Any]] = {ended, stopping}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        self._server.should_exit = True  # read by uvicorn's loop, a tenth of a second apart
        done, _ = await asyncio.wait({ended}, timeout=STOP_SECONDS)
        if not done:
            self._left = True
            log.warning("the web server did not stop within %d s; leaving it", STOP_SECONDS)
        elif ended.exception() is not None:
            log.error("the web server failed", exc_info=ended.exception())

    def close(self) -> None:
        """Stop the web server, and wait for its thread, at most STOP_SECONDS (not again when
        `task` did already)."""
        self._server.should_exit = True
        if self._thread.is_alive() and not self._left:
            self._thread.join(STOP_SECONDS)


@contextlib.contextmanager
def web_server(
    app: Userman,
    sock: socket.socket,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
    limits: WebLimits | None = None,
    registry: CollectorRegistry | None = None,
    metrics_allow: Sequence[Network] = LOOPBACK,
) -> Iterator[Task]:
    """Serve the web port `sock` (bound by `serve`: cli/ports.py) from its own thread for as
    long as the block runs. It gives the task that stops the web server when `serve` stops,
    for `serve` to run beside the RADIUS ports; leaving the block stops it too (when `serve`
    failed early). /metrics reads `registry` (web/metrics.py)."""
    limits = limits or WebLimits()
    application = create_app(app, limits=limits, registry=registry, metrics_allow=metrics_allow)
    config = uvicorn.Config(
        application,
        log_config=None,
        access_log=False,
        lifespan="off",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        timeout_graceful_shutdown=GRACE_SECONDS,
        # Against clients that hold connections open (web/limits.py, web/protocol.py): h11
        # always (httptools, when installed, has no header timeout of ours), headers late or
        # too long, idle kept-alive connections, and too many connections at once.
        http=with_header_timeout(limits.timeout),
        h11_max_incomplete_event_size=limits.max_header,
        timeout_keep_alive=limits.keep_alive,
        limit_concurrency=limits.max_connections,
    )
    scheme = "https" if certfile else "http"
    host, bound = sock.getsockname()[:2]
    web = WebThread(config, sock)
    try:
        web.start()
        shown = f"[{host}]" if ":" in host else host
        log.info("web interface on %s://%s:%d (REST API under /api/v1)", scheme, shown, bound)
        warn_if_open(app, host)
        yield web.task
    finally:
        web.close()


@contextlib.contextmanager
def metrics_server(
    app: Userman,
    sock: socket.socket,
    registry: CollectorRegistry,
    allow: Sequence[Network] = LOOPBACK,
) -> Iterator[Task]:
    """`serve --metrics-port`: /metrics, /healthz and /readyz alone on `sock` (bound by
    `serve`: cli/ports.py), from a thread of its own, as `web_server` serves the web port."""
    limits = WebLimits()
    config = uvicorn.Config(
        metrics_app(app, registry, allow),
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACE_SECONDS,
        http=with_header_timeout(limits.timeout),
        h11_max_incomplete_event_size=limits.max_header,
        timeout_keep_alive=limits.keep_alive,
        limit_concurrency=limits.max_connections,
    )
    host, bound = sock.getsockname()[:2]
    server = WebThread(config, sock)
    try:
        server.start()
        shown = f"[{host}]" if ":" in host else host
        log.info("metrics and health on http://%s:%d (/metrics, /healthz, /readyz)", shown, bound)
        yield server.task
    finally:
        server.close()
