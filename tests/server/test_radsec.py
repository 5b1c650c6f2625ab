"""The RadSec port (server/radsec.py) in-process: a `RadiusServer` and its `Radsec` on an
ephemeral 127.0.0.1 port, reached by Python's ssl client with certificates made by
`userman certificate add` (router r at 127.0.0.1, whose certificate names it "r"). Each test
runs in its own event loop and is bounded in time (`run`). The CoA/Disconnect sender (server/coa.py)
reaches a router with an open connection over it, else over UDP (a `StandInRouter`)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

import inmemory
from inmemory import D, accounting, do, exchange
from standin import StandInRouter
from userman.cli.ports import bind_tcp
from userman.radius.packet import (
    Code,
    Packet,
    build,
    decode,
    encode,
    verify_message_authenticator,
    verify_request_authenticator,
    verify_response_authenticator,
)
from userman.server import cache, coa
from userman.server.endpoint import RadiusServer
from userman.server.radsec import Radsec
from userman.services import Actor, Userman
from userman.store import models

SECRET = b"radsec"  # https://www.rfc-editor.org/rfc/rfc6614#section-2.3
LIMIT = 10.0  # seconds: every test's bound


def run(go: Callable[[], Coroutine[Any, Any, None]]) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(LIMIT):
            await go()

    asyncio.run(bounded())


def export(app: Userman, folder: Path, name: str, *, key: bool = True) -> Path:
    words = (name, "include-key") if key else (name,)
    outcome = app.execute(Actor.superuser(), ("certificate",), "export", words)
    path = folder / f"{name}.pem"
    path.write_text(f"{outcome.message}\n")
    return path


def certify(app: Userman, folder: Path) -> None:
    """A CA, the server's certificate, and client certificates: r (router r's), other (a name
    that is no router's), gone (r's, revoked); radsec-certificate and trusted-ca set."""
    do(app, "certificate add", name="ca", **{"common-name": "Office-CA"})
    do(app, "certificate add", name="radius", ca="ca", **{"common-name": "127.0.0.1"})
    for name, cn in (("r", "r"), ("other", "other"), ("gone", "r")):
        do(app, "certificate add", name=name, ca="ca", usage="client", **{"common-name": cn})
    do(app, "certificate revoke", "gone")
    do(app, "database set", **{"radsec-certificate": "radius", "trusted-ca": "ca"})
    export(app, folder, "ca", key=False)
    for name in ("r", "other", "gone"):
        export(app, folder, name)


@pytest.fixture
def folder(app: Userman, tmp_path: Path) -> Path:
    certify(app, tmp_path)
    return tmp_path


def client(folder: Path, name: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # the server's name is not what these tests are about
    ctx.load_verify_locations(folder / "ca.pem")
    ctx.load_cert_chain(folder / f"{name}.pem")
    return ctx


@contextlib.asynccontextmanager
async def serving(app: Userman, **limits: Any) -> AsyncIterator[tuple[Radsec, int]]:
    """The RadSec port of a server (inmemory.serving), on an ephemeral port; its connections
    closed once their answers are written."""
    async with inmemory.serving(app) as server:
        radsec = Radsec(server, **limits)
        sock = bind_tcp("127.0.0.1", 0)
        await radsec.start(sock)
        try:
            yield radsec, sock.getsockname()[1]
        finally:
            await server.drain()
            await radsec.close()


async def fresh_snapshot(server: RadiusServer) -> None:
    """The routers' snapshot read now and trusted for the test's length."""
    server.routers = cache.RouterCache(max_age=3600)
    with ThreadPoolExecutor(max_workers=1) as executor:
        await cache.check(server.routers, server.app, executor)


async def connect(
    port: int, ctx: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, ssl=ctx)


async def read_packet(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(4)
    return head + await reader.readexactly(int.from_bytes(head[2:4], "big") - 4)


async def closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes the connection (nothing more is read, or the TLS alert)."""
    try:
        return await reader.read(1) == b""
    except (ssl.SSLError, ConnectionError):
        return True


async def hello_answer(port: int) -> bytes:
    """What the server sends back to a ClientHello on a plain TCP connection before it closes
    it (the first 5 bytes, a TLS record header; b"": nothing at all)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(outgoing.read())
    try:
        return await reader.read(5)
    except ConnectionError:
        return b""
    finally:
        writer.close()


async def until(check: Callable[[], bool]) -> None:
    while not check():
        await asyncio.sleep(0.01)


def status_server(identifier: int = 9) -> tuple[bytes, bytes]:
    """A Status-Server signed with the secret "radsec" and its Request Authenticator."""
    authenticator = os.urandom(16)
    pkt = build(D, Code.STATUS_SERVER, identifier, authenticator, [])
    return encode(pkt, SECRET, message_authenticator=True), authenticator


# https://www.rfc-editor.org/rfc/rfc6614#section-2.6 and RFC 5997: Status-Server keep-alives
# over the connection are answered (Access-Accept: RadSec has one port for both kinds).
def test_status_server_over_radsec_is_answered(app: Userman, folder: Path) -> None:
    async def go() -> None:
        async with serving(app) as (radsec, port):
            reader, writer = await connect(port, client(folder, "r"))
            for identifier in (1, 2):
                data, authenticator = status_server(identifier)
                writer.write(data)
                reply = await read_packet(reader)
                assert verify_response_authenticator(reply, SECRET, authenticator)
                pkt = decode(reply, D, secret=SECRET)
                assert (pkt.code, pkt.identifier) == (Code.ACCESS_ACCEPT, identifier)
            writer.close()
            assert radsec.server.counters["status-server"] == 2

    run(go)


# https://www.rfc-editor.org/rfc/rfc6614#section-2.3 (RFC 2865 3: 20 to 4096 octets): a Length
# out of bounds leaves no way to find the next packet; the connection is closed.
@pytest.mark.parametrize("length", [5, 4097])
def test_a_length_out_of_bounds_closes_the_connection(
    app: Userman, folder: Path, length: int
) -> None:
    async def go() -> None:
        async with serving(app) as (radsec, port):
            reader, writer = await connect(port, client(folder, "r"))
            writer.write(bytes([Code.ACCESS_REQUEST, 1]) + length.to_bytes(2, "big"))
            assert await closed(reader)
            assert radsec.server.counters["broken-requests"] == 1
            writer.close()

    run(go)


def test_the_connections_from_one_address_are_limited(app: Userman, folder: Path) -> None:
    async def go() -> None:
        async with serving(app, per_address=1) as (radsec, port):
            _, held = await connect(port, client(folder, "r"))
            assert await hello_answer(port) == b""  # closed before any handshake
            assert radsec.server.counters["radsec-refused-limit"] == 1
            held.close()
            await until(lambda: not radsec.open)
            assert (await hello_answer(port))[:1] == b"\x16"  # a handshake record again

    run(go)


def test_the_connections_from_every_router_are_limited(app: Userman, folder: Path) -> None:
    async def go() -> None:
        async with serving(app, max_connections=2) as (radsec, port):
            held = [await connect(port, client(folder, "r")) for _ in range(2)]
            assert await hello_answer(port) == b""
            assert radsec.server.counters["radsec-refused-limit"] == 1
            for _, writer in held:
                writer.close()

    run(go)


def test_the_port_takes_connections_again_after_accept_fails(
    app: Userman, folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Out of descriptors, accept(2) fails (EMFILE) while a connection waits in the backlog:
    the error is said, and the port goes on taking connections, that one first."""
    failed: list[int] = []

    async def go() -> None:
        loop = asyncio.get_running_loop()
        real = loop.sock_accept

        async def sock_accept(listener: socket.socket) -> tuple[socket.socket, Any]:
            if not failed:  # the first time, once a connection waits: EMFILE
                waiting = asyncio.Event()
                loop.add_reader(listener.fileno(), waiting.set)
                try:
                    await waiting.wait()
                finally:
                    loop.remove_reader(listener.fileno())
                failed.append(errno.EMFILE)
                raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))
            return await real(listener)

        monkeypatch.setattr(loop, "sock_accept", sock_accept)
        async with serving(app) as (radsec, port):
            reader, writer = await connect(port, client(folder, "r"))
            data, authenticator = status_server()
            writer.write(data)
            assert verify_response_authenticator(await read_packet(reader), SECRET, authenticator)
            writer.close()
            assert radsec.server.counters["status-server"] == 1

    with caplog.at_level(logging.WARNING, logger="userman.server"):
        run(go)
    assert failed == [errno.EMFILE]
    [said] = [r.getMessage() for r in caplog.records if "could not take" in r.getMessage()]
    assert os.strerror(errno.EMFILE) in said


def test_a_silent_connection_is_closed_after_the_idle_time(app: Userman, folder: Path) -> None:
    async def go() -> None:
        async with serving(app, idle=0.3) as (radsec, port):
            reader, writer = await connect(port, client(folder, "r"))
            data, _ = status_server()
            writer.write(data)
            await read_packet(reader)  # a request restarts the idle time
            began = time.monotonic()
            assert await closed(reader)
            assert 0.25 <= time.monotonic() - began < 5
            await until(lambda: not radsec.open)
            writer.close()

    run(go)


def test_a_context_built_again_is_used_for_new_connections(app: Userman, folder: Path) -> None:
    def served_name(writer: asyncio.StreamWriter) -> str:
        cert = writer.get_extra_info("ssl_object").getpeercert()
        return str(dict(rdn[0] for rdn in cert["subject"])["commonName"])

    async def go() -> None:
        async with serving(app) as (radsec, port):
            reader, before = await connect(port, client(folder, "r"))
            assert served_name(before) == "127.0.0.1"
            do(app, "certificate add", name="second", ca="ca", **{"common-name": "second"})
            do(app, "database set", **{"radsec-certificate": "second"})
            await radsec.load()
            _, after = await connect(port, client(folder, "r"))
            assert served_name(after) == "second"
            data, _ = status_server()  # the connection made before is served still
            before.write(data)
            assert decode(await read_packet(reader), D).code is Code.ACCESS_ACCEPT
            before.close()
            after.close()

    run(go)


async def refused_after_handshake(port: int, ctx: ssl.SSLContext) -> None:
    """The connection ends without an answer to a Status-Server, whether the handshake fails
    at the client (TLS 1.2) or the server's alert or close follows it (TLS 1.3)."""
    try:
        reader, writer = await connect(port, ctx)
    except (ssl.SSLError, ConnectionError):
        return
    writer.write(status_server()[0])
    assert await closed(reader)
    writer.close()


# https://www.rfc-editor.org/rfc/rfc6614#section-2.3: the client's certificate is checked,
# its revocation too (the CRL of the CA here that signed it).
def test_a_revoked_client_certificate_is_refused(app: Userman, folder: Path) -> None:
    async def go() -> None:
        async with serving(app) as (radsec, port):
            await refused_after_handshake(port, client(folder, "gone"))
            counters = radsec.server.counters
            await until(lambda: counters["radsec-refused-handshake"] == 1)

    run(go)


# https://www.rfc-editor.org/rfc/rfc6614#section-2.4: the router is identified by its
# certificate; one that names another is refused.
@pytest.mark.parametrize("snapshot", [False, True])
def test_a_certificate_that_does_not_name_the_router_is_refused(
    app: Userman, folder: Path, snapshot: bool
) -> None:
    async def go() -> None:
        async with serving(app) as (radsec, port):
            if snapshot:
                await fresh_snapshot(radsec.server)
            await refused_after_handshake(port, client(folder, "other"))
            counters = radsec.server.counters
            await until(lambda: counters["radsec-refused-certificate"] == 1)
            assert counters["status-server"] == 0

    run(go)


def test_an_address_that_is_no_routers_is_refused_before_the_handshake(
    app: Userman, folder: Path
) -> None:
    do(app, "router set", "r", **{"ip-address": "127.0.0.9"})

    async def go() -> None:
        async with serving(app) as (radsec, port):
            await fresh_snapshot(radsec.server)
            assert await hello_answer(port) == b""  # no ServerHello
            assert radsec.server.counters["radsec-refused-unknown"] == 1

    run(go)


def test_without_a_fresh_snapshot_an_unknown_address_is_refused_after_the_handshake(
    app: Userman, folder: Path
) -> None:
    do(app, "router set", "r", **{"ip-address": "127.0.0.9"})

    async def go() -> None:
        async with serving(app) as (radsec, port):
            await refused_after_handshake(port, client(folder, "r"))
            counters = radsec.server.counters
            await until(lambda: counters["radsec-refused-unknown"] == 1)

    run(go)


# -- Disconnect and CoA-Requests over the router's connection ------------------------------------


def close_session(app: Userman, udp: StandInRouter) -> None:
    """A session of router r closed by hand: a Disconnect-Request queued for it."""
    do(app, "router set", "r", **{"use-coa": "yes", "coa-port": str(udp.port)})
    exchange(app, accounting("test", "Start"), acct=True)
    do(app, "session close-session", "0")


def coa_state(app: Userman) -> tuple[str, int, str]:
    with app.database.begin() as db:
        request = db.scalars(select(models.CoaRequest)).one()
        return request.state, request.attempts, request.last_error


@contextlib.asynccontextmanager
async def routers_connection(
    app: Userman, folder: Path
) -> AsyncIterator[tuple[Radsec, asyncio.StreamReader, asyncio.StreamWriter]]:
    """A server on `app` and router r's connection to it, once the server holds it as r's
    (where a CoA/Disconnect-Request for r goes); closed at the end."""
    async with serving(app) as (radsec, port):
        reader, writer = await connect(port, client(folder, "r"))
        await until(lambda: radsec.stream("127.0.0.1") is not None)
        try:
            yield radsec, reader, writer
        finally:
            writer.close()


async def deliver(
    radsec: Radsec, router: Callable[[], Coroutine[Any, Any, None]] | None = None
) -> None:
    """Claim the queued request and deliver it, `router` acting meanwhile."""
    server = radsec.server
    sender = await coa.start_sender(server, "127.0.0.1", timeout=0.2, tries=2)
    sender.streams = radsec.stream
    tasks: set[asyncio.Task[None]] = set()
    try:
        assert await coa.poll_once(server, sender, tasks) == 1
        await asyncio.gather(*tasks, *([router()] if router else []))
    finally:
        sender.close()


async def read_request(reader: asyncio.StreamReader) -> Packet:
    """The router's side: a request over the connection, both its authenticators checked with
    the secret "radsec"."""
    data = await read_packet(reader)
    assert verify_request_authenticator(data, SECRET)
    assert verify_message_authenticator(data, SECRET) is True
    return decode(data, D, secret=SECRET)


def answer(pkt: Packet, code: Code, secret: bytes = SECRET) -> bytes:
    reply = Packet.build(D, code, pkt.identifier, pkt.authenticator, [])
    return encode(reply, secret, request_authenticator=pkt.authenticator)


# https://www.rfc-editor.org/rfc/rfc6614#section-2.1 and RFC 5176: the Disconnect-Request goes
# over the router's RadSec connection, and its ACK comes back on it (secret "radsec").
def test_a_disconnect_goes_over_the_routers_connection(app: Userman, folder: Path) -> None:
    with StandInRouter(mode="ack") as udp:
        close_session(app, udp)

        async def go() -> None:
            async with routers_connection(app, folder) as (radsec, reader, writer):

                async def router() -> None:
                    pkt = await read_request(reader)
                    assert pkt.code is Code.DISCONNECT_REQUEST
                    assert pkt.get("Acct-Session-Id") == "81d0009b"
                    writer.write(answer(pkt, Code.DISCONNECT_ACK))

                await deliver(radsec, router)
                assert radsec.server.counters["disconnect-ack"] == 1

        run(go)
    assert udp.received == []
    assert coa_state(app) == ("acked", 1, "")


def test_an_answer_with_the_routers_own_secret_is_dropped(app: Userman, folder: Path) -> None:
    with StandInRouter(mode="ack") as udp:
        close_session(app, udp)

        async def go() -> None:
            async with routers_connection(app, folder) as (radsec, reader, writer):

                async def router() -> None:
                    pkt = await read_request(reader)
                    writer.write(answer(pkt, Code.DISCONNECT_ACK, b"12345"))

                await deliver(radsec, router)
                counters = radsec.server.counters
                assert (counters["coa-bad-answers"], counters["coa-timeouts"]) == (1, 1)

        run(go)
    assert udp.received == []  # sent once over the connection, not again over UDP (RFC 6613)
    assert coa_state(app)[0] == "failed"


def test_a_connection_closed_before_the_answer_leaves_it_to_udp(app: Userman, folder: Path) -> None:
    with StandInRouter(mode="ack") as udp:
        close_session(app, udp)

        async def go() -> None:
            async with routers_connection(app, folder) as (radsec, reader, writer):

                async def router() -> None:
                    await read_request(reader)
                    writer.close()

                await deliver(radsec, router)

        run(go)
    [pkt] = udp.received
    assert pkt.code is Code.DISCONNECT_REQUEST
    assert udp.signed == [True]  # with the router's own secret over UDP
    assert coa_state(app) == ("acked", 1, "")


def test_without_a_connection_the_disconnect_goes_over_udp(app: Userman, folder: Path) -> None:
    with StandInRouter(mode="ack") as udp:
        close_session(app, udp)

        async def go() -> None:
            async with serving(app) as (radsec, _):
                await deliver(radsec)

        run(go)
    assert len(udp.received) == 1
    assert coa_state(app) == ("acked", 1, "")


# RFC 5176 3 over RFC 6614: an edited limitation reaches the router as a CoA-Request over its
# connection; the router's CoA-NAK brings a Disconnect-Request, over the same connection.
def test_a_coa_and_the_disconnect_after_its_nak_go_over_the_routers_connection(
    app: Userman, folder: Path
) -> None:
    do(app, "limitation add", name="l", **{"rate-limit-rx": "10M", "rate-limit-tx": "20M"})
    do(app, "profile-limitation add", profile="p", limitation="l")
    do(app, "user-profile add", user="test", profile="p")
    with StandInRouter(mode="ack") as udp:
        do(app, "router set", "r", **{"use-coa": "yes", "coa-port": str(udp.port)})
        exchange(app, accounting("test", "Start"), acct=True)
        do(app, "limitation set", "l", **{"rate-limit-tx": "4M"})

        async def go() -> None:
            async with routers_connection(app, folder) as (radsec, reader, writer):

                async def router() -> None:
                    pkt = await read_request(reader)
                    assert pkt.code is Code.COA_REQUEST
                    assert pkt.get("Acct-Session-Id") == "81d0009b"
                    assert pkt.get("Mikrotik-Rate-Limit") == "10M/4M"
                    writer.write(answer(pkt, Code.COA_NAK))

                await deliver(radsec, router)

                async def router_again() -> None:
                    pkt = await read_request(reader)
                    assert pkt.code is Code.DISCONNECT_REQUEST
                    writer.write(answer(pkt, Code.DISCONNECT_ACK))

                await deliver(radsec, router_again)

        run(go)
    assert udp.received == []
    with app.database.begin() as db:
        rows = db.scalars(select(models.CoaRequest).order_by(models.CoaRequest.id))
        assert [(r.kind, r.state) for r in rows] == [("coa", "naked"), ("disconnect", "acked")]
