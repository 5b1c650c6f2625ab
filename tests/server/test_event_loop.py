"""`serve --loop` (server/main.py's `run_server`): the real server on real loopback sockets
answers on asyncio's loop and on uvloop's, says once which one runs, and `auto` is uvloop
when it can be imported and asyncio when it cannot; it runs the interpreter as tuned for it."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from inmemory import SECRET, D, access_request, do, make_app
from userman.radius.packet import Code, decode, verify_response_authenticator
from userman.server.main import (
    GC_YOUNG,
    SWITCH_INTERVAL,
    bind_udp,
    event_loop,
    run_server,
)
from userman.services import Userman


def served(app: Userman, loop: str) -> tuple[str, Code]:
    """Run the server on event loop `loop` until one PAP Access-Request from a client socket
    is answered: the running loop's module, and the code of the answer."""
    sockets = (bind_udp("127.0.0.1", 0), bind_udp("127.0.0.1", 0))
    seen: list[tuple[str, Code]] = []

    def ask() -> Code:
        request, data = access_request("test", "test")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(10)
            client.sendto(data, sockets[0].getsockname())
            answer = client.recv(4096)
        assert verify_response_authenticator(answer, SECRET, request.authenticator)
        return decode(answer, D).code

    async def client(stop: asyncio.Event) -> None:
        try:
            code = await asyncio.to_thread(ask)
            seen.append((type(asyncio.get_running_loop()).__module__.split(".")[0], code))
        finally:
            stop.set()

    run_server(app, bind="127.0.0.1", sockets=sockets, tasks=[client], loop=loop)
    [result] = seen
    return result


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Iterator[Userman]:
    userman = make_app(tmp_path, sqlite_template)
    do(userman, "user create-and-activate-profile", "test", profile="p")
    yield userman
    userman.close()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_each_loop_answers(app: Userman, loop: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "userman.server")
    assert served(app, loop) == (loop, Code.ACCESS_ACCEPT)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("event loop")]
    assert said == [f"event loop: {loop}"]


def test_auto_is_uvloop_when_installed_and_asyncio_without(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert event_loop("auto")[0] == "uvloop"
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as where it is not installed
    name, factory = event_loop("auto")
    assert name == "asyncio"
    loop = factory()
    try:
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()
    with pytest.raises(ValueError, match=r"^--loop uvloop: uvloop is not installed$"):
        event_loop("uvloop")


def test_serve_runs_the_interpreter_as_tuned(app: Userman) -> None:
    """The GIL passes between threads every SWITCH_INTERVAL, and the collector looks at the
    young objects every GC_YOUNG allocations (the older generations' thresholds as they were)."""
    threshold, interval = gc.get_threshold(), sys.getswitchinterval()
    try:
        gc.set_threshold(700, *threshold[1:])
        sys.setswitchinterval(0.005)
        assert served(app, "asyncio") == ("asyncio", Code.ACCESS_ACCEPT)
        assert gc.get_threshold() == (GC_YOUNG, *threshold[1:])
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
    finally:
        gc.set_threshold(*threshold)
        sys.setswitchinterval(interval)
