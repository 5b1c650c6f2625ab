"""The web server inside `userman serve`: uvicorn on the same event loop as the RADIUS ports.

The listening socket is bound (`bind_http`) before the server says it listens anywhere, so that
a bad address or a port in use stops `serve` at once with the reason. uvicorn's own signal
handling is left out: `serve` owns SIGINT and SIGTERM, and stops the web server with everything
else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn

from userman.services import Userman
from userman.web.app import create_app

__all__ = ["bind_http", "http_task", "warn_if_open"]

log = logging.getLogger("userman.server")

GRACE_SECONDS = 5  # for requests under way when the server stops


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_http(host: str, port: int) -> socket.socket:
    """The web port, bound and listening (connections wait in its backlog until the server
    runs); OSError when it cannot be, for `serve` to say before it listens anywhere."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


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


def http_task(
    app: Userman,
    sock: socket.socket,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> Callable[[asyncio.Event], Awaitable[None]]:
    """The coroutine that serves the web port `sock` (bind_http's) until `stop` is set."""
    config = uvicorn.Config(
        create_app(app),
        log_config=None,
        access_log=False,
        lifespan="off",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        timeout_graceful_shutdown=GRACE_SECONDS,
    )
    server = _Server(config)
    scheme = "https" if certfile else "http"
    host, bound = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    log.info("web interface on %s://%s:%d (REST API under /api/v1)", scheme, shown, bound)
    warn_if_open(app, host)

    async def task(stop: asyncio.Event) -> None:
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        stopping.cancel()
        try:
            await serving
        except Exception:
            log.exception("the web server failed")
        finally:
            sock.close()

    return task
