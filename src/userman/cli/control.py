"""The server's end of the control socket (cli/remote.py says why and the protocol): runs the
menu commands that `userman` processes send it, in a worker thread, through the same
`run_words` as the command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import click

from userman.cli.main import run_words
from userman.cli.remote import allowed_peer, same_database, socket_path
from userman.services import Userman

__all__ = ["control_task"]

log = logging.getLogger("userman.server")

MAX_REQUEST = 1 << 20  # bytes in one command line


def control_task(app: Userman, db_url: str) -> Callable[[asyncio.Event], Awaitable[None]] | None:
    """The coroutine `serve` runs beside the RADIUS ports, or None when there is no socket.

    The socket is bound and listening when this returns, before the server says it is
    listening: a command sent from then on waits in the backlog until the loop takes it."""
    path = socket_path(db_url)
    if path is None:
        return None
    if not _claim(path):
        log.warning("another server answers on %s; CLI commands will not come here", path)
        return None
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(16)
    log.info("CLI commands are answered on %s", path)

    async def task(stop: asyncio.Event) -> None:
        await _serve(app, db_url, listener, stop)

    return task


async def _serve(app: Userman, db_url: str, listener: socket.socket, stop: asyncio.Event) -> None:
    path = listener.getsockname()
    running: set[asyncio.Task[None]] = set()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        running.add(task)
        try:
            await _handle(app, db_url, reader, writer)
        except Exception:
            log.exception("a command on the control socket failed")
        finally:
            running.discard(task)
            writer.close()

    server = await asyncio.start_unix_server(on_connect, sock=listener, limit=MAX_REQUEST)
    try:
        await stop.wait()
    finally:
        server.close()
        await asyncio.gather(*running, return_exceptions=True)  # commands already taken
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _claim(path: str) -> bool:
    """Make `path` free to bind: remove a socket left by a server that is gone; False when a
    live server answers there."""
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    if not os.path.exists(path):
        return True
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(1.0)
        probe.connect(path)
    except OSError:
        os.unlink(path)
        return True
    finally:
        probe.close()
    return False


async def _handle(
    app: Userman, db_url: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    peer = writer.get_extra_info("socket")
    if peer is None or not allowed_peer(peer):
        return
    request = json.loads(await reader.readline())
    if not same_database(str(request.get("db", "")), db_url):
        await _send(writer, {"local": True})
        return
    loop = asyncio.get_running_loop()

    def progress(done: int, total: int) -> None:
        loop.call_soon_threadsafe(writer.write, _line({"progress": [done, total]}))

    def run() -> tuple[int, str, str] | None:
        try:
            return run_words(
                app,
                [str(word) for word in request["argv"]],
                request.get("as"),
                as_json=bool(request.get("json")),
                progress=progress,
            )
        except click.UsageError:
            return None  # the client runs it and click explains, as it always does

    result = await asyncio.to_thread(run)
    if result is None:
        await _send(writer, {"local": True})
        return
    code, out, err = result
    await _send(writer, {"code": code, "out": out, "err": err})


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


async def _send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(_line(message))
    await writer.drain()
