"""web/serve.py: the web server on a thread and an event loop of its own, which `serve`'s task
stops with the RADIUS side, and which leaving `web_server` stops when `serve` never ran it."""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from prepared import copy_sqlite
from userman.cli.ports import bind_tcp
from userman.services import Userman
from userman.web.serve import Task, web_server


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = Userman(copy_sqlite(sqlite_template, tmp_path / "userman.db"))
    userman.prepare()
    yield userman
    userman.close()


def status(port: int, path: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
        code: int = response.status
    return code


def web_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "userman-web"]


def test_it_serves_from_its_own_thread_until_the_block_ends(app: Userman) -> None:
    sock = bind_tcp("127.0.0.1", 0)
    port = sock.getsockname()[1]
    with web_server(app, sock):
        # No event loop runs in this thread: the answer comes from the web's own.
        assert status(port, "/userman/login") == 200
        [web] = web_threads()
    # Left without `serve` running its task (as when `serve` fails early): stopped all the same.
    assert not web.is_alive()
    assert sock.fileno() == -1
    with pytest.raises(urllib.error.URLError):
        status(port, "/userman/login")


def test_its_task_stops_it_when_serve_stops(app: Userman) -> None:
    sock = bind_tcp("127.0.0.1", 0)
    port = sock.getsockname()[1]

    async def serve_until_stopped(task: Task) -> None:
        stop = asyncio.Event()
        running = asyncio.ensure_future(task(stop))
        # The web answers a client of this loop's while this loop waits on it, not in it.
        assert await asyncio.to_thread(status, port, "/userman/login") == 200
        assert not running.done()
        stop.set()
        await running

    with web_server(app, sock) as task:
        [web] = web_threads()
        asyncio.run(serve_until_stopped(task))
        assert not web.is_alive()  # ended by the task, before the block ends
        assert sock.fileno() == -1
