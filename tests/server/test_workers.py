"""server/workers.py: the shared RADIUS ports and what a worker inherits from its parent."""

from __future__ import annotations

import asyncio
import errno
import os
import socket

import pytest

from userman.server.main import Role, bind_udp
from userman.server.workers import Inherited, bind_shared, orphaned, ready_signal


def test_every_worker_gets_a_socket_of_the_same_port() -> None:
    sockets = bind_shared("127.0.0.1", 0, 3)
    try:
        assert len({sock.getsockname() for sock in sockets}) == 1
        assert all(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


def test_a_port_in_use_is_refused_even_to_a_second_group() -> None:
    """Without the probe, a second `serve --workers` would join the first one's group and take
    some of its routers' datagrams."""
    sockets = bind_shared("127.0.0.1", 0, 2)
    port = sockets[0].getsockname()[1]
    try:
        with pytest.raises(OSError, match="in use") as raised:
            bind_shared("127.0.0.1", port, 2)
        assert raised.value.errno == errno.EADDRINUSE
        with pytest.raises(OSError, match="in use"):
            bind_udp("127.0.0.1", port)
    finally:
        for sock in sockets:
            sock.close()


def test_a_port_of_a_single_server_is_refused() -> None:
    sock = bind_udp("127.0.0.1", 0)
    try:
        with pytest.raises(OSError, match="in use"):
            bind_shared("127.0.0.1", sock.getsockname()[1], 2)
    finally:
        sock.close()


def test_the_spec_a_worker_is_started_with() -> None:
    inherited = Inherited(1, 2, 7, 8, -1, -1, -1, 9, 1234)
    assert Inherited.parse(inherited.spec()) == inherited
    assert inherited.fds == (7, 8)
    primary = Inherited(0, 2, 3, 4, 5, 6, 10, 9, 1234)  # web, metrics, control: worker 0's
    assert primary.fds == (3, 4, 5, 6, 10)
    with pytest.raises(ValueError, match="not a worker's spec"):
        Inherited.parse("1,2,3")
    with pytest.raises(ValueError, match="invalid literal"):
        Inherited.parse("a,b,c,d,e,f,g,h,i")


def test_only_worker_0_runs_the_once_only_tasks() -> None:
    assert Role().primary
    assert Role(0, 2).primary
    assert not Role(1, 2).primary


def test_a_worker_says_it_is_ready_on_its_pipe() -> None:
    read, write = os.pipe()
    ready_signal(write)()
    with os.fdopen(read, "rb") as pipe:
        assert pipe.read() == b"ready\n"  # and the end: the worker closed its side


def test_a_worker_whose_parent_is_gone_stops() -> None:
    """Its parent killed with SIGKILL, a worker leaves the ports rather than holding them."""

    async def run() -> bool:
        stop = asyncio.Event()
        await orphaned(os.getppid() + 1)(stop)  # not the parent: as if it had gone
        return stop.is_set()

    assert asyncio.run(run())
