"""RadSec (RADIUS over TLS, RFC 6614) through a real `userman serve`, reached by radsecproxy
(Debian's): radclient sends UDP to radsecproxy on 127.0.0.1, which forwards over TLS, with its
client certificate, to userman's RadSec port. PAP is accepted and rejected as over UDP, and an
Accounting-Request is answered once its record is stored (RFC 2866 2); a radsecproxy whose
certificate no trusted CA signed is refused at the handshake (RFC 6614 2.3).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from served import (
    BASIC_CONFIGURATION,
    Server,
    configure,
    free_tcp_port,
    free_udp_port,
    imported,
    send_start,
    start_server,
    stop_process,
)
from standin import StandInRouter
from support import require_program
from userman.radius.dictionary import default_dictionary
from userman.radius.packet import (
    Code,
    Packet,
    build,
    decode,
    encode,
    verify_message_authenticator,
)

pytestmark = pytest.mark.e2e

# The basic configuration, router1 logging its accepts too (the tests read the log).
CONFIGURATION = BASIC_CONFIGURATION.replace(
    "shared-secret=12345\n", "shared-secret=12345 log=auth-ok,auth-fail\n", 1
)
assert "log=auth-ok" in CONFIGURATION

SECRET = "local"  # between radclient and radsecproxy; over TLS it is "radsec"


@dataclass
class Setup:
    folder: Path
    server: Server
    radsec_port: int


def export(db_url: str, folder: Path, name: str, *, key: bool = False) -> Path:
    args = ["certificate", "export", name, *(["include-key"] if key else [])]
    path = folder / f"{name}.pem"
    path.write_text(configure(db_url, shlex.join(args))[0])
    return path


@pytest.fixture(scope="module")
def radsecproxy() -> str:
    sbin = Path("/usr/sbin/radsecproxy")  # Debian's, outside a user's PATH
    return str(sbin) if sbin.exists() else require_program("radsecproxy")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    folder = tmp_path_factory.mktemp("radsec")
    db_url = imported(folder, CONFIGURATION)
    configure(
        db_url,
        "certificate add name=office-ca common-name=Office-CA",
        "certificate add name=radius common-name=127.0.0.1 ca=office-ca",
        "certificate add name=router1 common-name=router1 ca=office-ca usage=client",
        "certificate add name=other-ca common-name=Other-CA",
        "certificate add name=stranger common-name=router1 ca=other-ca usage=client",
        "database set radsec-certificate=radius trusted-ca=office-ca",
    )
    for name in ("office-ca", "router1", "stranger"):
        export(db_url, folder, name, key=name != "office-ca")
    radsec_port = free_tcp_port()
    server = start_server(db_url, folder / "serve.log", "--radsec-port", str(radsec_port))
    yield Setup(folder, server, radsec_port)
    stop_process(server.process)


@dataclass
class Proxy:
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def start_proxy(radsecproxy: str, setup: Setup, client_cert: str) -> Proxy:
    """radsecproxy in the foreground, UDP on a free loopback port, forwarding over TLS to
    userman's RadSec port with the certificate `client_cert` (exported with its key)."""
    folder = setup.folder
    port = free_udp_port()
    conf = folder / f"radsecproxy-{client_cert}.conf"
    log = folder / f"radsecproxy-{client_cert}.log"
    conf.write_text(
        f"ListenUDP 127.0.0.1:{port}\n"
        "tls default {\n"
        f"    CACertificateFile {folder / 'office-ca.pem'}\n"
        f"    CertificateFile {folder / client_cert}.pem\n"
        f"    CertificateKeyFile {folder / client_cert}.pem\n"
        "}\n"
        "client radclient {\n"
        "    host 127.0.0.1\n"
        "    type udp\n"
        f"    secret {SECRET}\n"
        "}\n"
        "server userman {\n"
        f"    host 127.0.0.1\n    port {setup.radsec_port}\n"
        "    type tls\n    tls default\n    secret radsec\n"
        "    CertificateNameCheck on\n"
        "}\n"
        "realm * {\n    server userman\n    accountingServer userman\n}\n"
    )
    with log.open("w") as out:  # -f: in the foreground, its log (-d 3) on stderr
        process = subprocess.Popen(
            [radsecproxy, "-f", "-d", "3", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=out,
        )
    time.sleep(0.5)  # it binds its UDP port at once; the TLS connection is made on demand
    return Proxy(port, process, log)


def send(radclient: str, proxy: Proxy, kind: str, attributes: str) -> str:
    """One request through radsecproxy (5 s, two tries); radclient's output."""
    result = subprocess.run(
        [radclient, "-x", "-r", "2", "-t", "5", f"127.0.0.1:{proxy.port}", kind, SECRET],
        input=attributes,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def proxy(radsecproxy: str, setup: Setup) -> Iterator[Proxy]:
    started = start_proxy(radsecproxy, setup, "router1")
    yield started
    stop_process(started.process)


def test_pap_is_accepted_and_rejected_over_radsec(
    radclient: str, setup: Setup, proxy: Proxy
) -> None:
    good = send(radclient, proxy, "auth", "User-Name=test,User-Password=test")
    assert "Received Access-Accept" in good, good + proxy.log.read_text()
    bad = send(radclient, proxy, "auth", "User-Name=test,User-Password=wrong")
    assert "Received Access-Reject" in bad, bad


def test_accounting_over_radsec_is_stored_before_its_answer(
    radclient: str, setup: Setup, proxy: Proxy
) -> None:
    attributes = (
        "User-Name=test,Acct-Session-Id=radsec1,Acct-Status-Type=Start,"
        "Framed-IP-Address=10.0.0.7,NAS-IP-Address=127.0.0.1"
    )
    out = send(radclient, proxy, "acct", attributes)
    assert "Received Accounting-Response" in out, out
    sessions = setup.server.json("session", "print")
    assert [s["acct-session-id"] for s in sessions] == ["radsec1"], sessions


def test_a_certificate_no_trusted_ca_signed_is_refused(
    radclient: str, radsecproxy: str, setup: Setup
) -> None:
    stranger = start_proxy(radsecproxy, setup, "stranger")
    try:
        out = send(radclient, stranger, "auth", "User-Name=test,User-Password=test")
    finally:
        stop_process(stranger.process)
    assert "Received" not in out, out
    served = (setup.folder / "serve.log").read_text()
    assert "refused a RadSec connection from 127.0.0.1: TLS handshake failed" in served, served


async def read_packet(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(4)
    return head + await reader.readexactly(int.from_bytes(head[2:4], "big") - 4)


def test_a_disconnect_goes_over_the_routers_radsec_connection(setup: Setup) -> None:
    d, secret = default_dictionary(), b"radsec"
    server = setup.server
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(setup.folder / "office-ca.pem")
    ctx.load_cert_chain(setup.folder / "router1.pem")
    with StandInRouter(mode="ack") as udp:
        for line in (
            "database set allow-local-coa=yes",
            f"router set router1 use-coa=yes coa-port={udp.port}",
        ):
            server.cli(*line.split())
        send_start(server.acct_port, session="radsec-coa")
        sessions = server.json("session", "print")
        [number] = [i for i, s in enumerate(sessions) if s["acct-session-id"] == "radsec-coa"]

        async def router() -> tuple[Packet, list[dict[str, object]]]:
            reader, writer = await asyncio.open_connection("127.0.0.1", setup.radsec_port, ssl=ctx)
            try:
                keepalive = build(d, Code.STATUS_SERVER, 1, os.urandom(16), [])
                writer.write(encode(keepalive, secret, message_authenticator=True))
                assert (await read_packet(reader))[0] == Code.ACCESS_ACCEPT  # admitted
                await asyncio.to_thread(server.cli, "session", "close-session", str(number))
                data = await read_packet(reader)
                assert verify_message_authenticator(data, secret) is True
                pkt = decode(data, d, secret=secret)
                ack = Packet.build(d, Code.DISCONNECT_ACK, pkt.identifier, pkt.authenticator, [])
                writer.write(encode(ack, secret, request_authenticator=pkt.authenticator))
                await writer.drain()
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:  # the connection open until it is stored
                    now = await asyncio.to_thread(server.json, "session", "print")
                    if "close-acked" in str(now[number]["status"]):
                        break
                    await asyncio.sleep(0.1)
                return pkt, now
            finally:
                writer.close()

        async def bounded() -> tuple[Packet, list[dict[str, object]]]:
            async with asyncio.timeout(30):
                return await router()

        pkt, sessions = asyncio.run(bounded())
    assert (pkt.code, pkt.get("Acct-Session-Id")) == (Code.DISCONNECT_REQUEST, "radsec-coa")
    assert udp.received == []
    assert "close-acked" in str(sessions[number]["status"])
