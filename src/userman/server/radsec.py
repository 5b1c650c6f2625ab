"""RadSec (RADIUS over TLS, RFC 6614): the TCP port (2083), its connections, and the TLS context
built from the installation's `radsec-certificate` and `trusted-ca` (services/certificates.py).

A connection is taken only from a router's address, and within the limits (MAX_CONNECTIONS,
PER_ADDRESS); its TLS handshake (TLS 1.2 or newer) must show a client certificate that a
trusted CA signed (and, when every trusted CA has a CRL, not revoked), whose subject CN or one
of whose DNS subject alternative names is that router's name. Then every RADIUS packet it
carries, cut from the stream by its Length (radius/stream.py), takes the UDP ports' own path
(server/endpoint.py, with the secret "radsec"), and the answer is written back to it. A
connection silent for IDLE_SECONDS, one whose Length is out of bounds, or whose router is
gone, is closed. New connections use the context as the settings say now: `watch` builds it
again when the certificates' stamp changes. A router's open connection also carries the
Disconnect and CoA-Requests sent to it (server/coa.py, `stream`), and their answers back.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import ssl
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from userman.radius.errors import DecodeError
from userman.radius.packet import Code
from userman.radius.stream import Framer
from userman.server.endpoint import Peer, RadiusServer

if TYPE_CHECKING:
    from userman.services.certificates import TlsMaterial

__all__ = [
    "HANDSHAKE_SECONDS",
    "IDLE_SECONDS",
    "MAX_CONNECTIONS",
    "PER_ADDRESS",
    "PORT",
    "Radsec",
    "context",
    "peer_names",
]

log = logging.getLogger("userman.server")

PORT = 2083  # https://www.rfc-editor.org/rfc/rfc6614#section-2.1
MAX_CONNECTIONS = 256  # at once, from every router
PER_ADDRESS = 4  # at once, from one address (a router keeps one; RFC 6614 2.5)
IDLE_SECONDS = 120.0  # a connection that carried nothing for this long is closed
HANDSHAKE_SECONDS = 10.0  # the TLS handshake's limit
CLOSE_SECONDS = 1.0  # the wait for the peer's close_notify when a connection is closed
MAX_BUFFERED = 1 << 20  # answers a peer has not read: more, and the connection is closed
POLL_SECONDS = 1.0  # between two reads of the certificates' stamp
READ_SIZE = 65536


def context(material: TlsMaterial) -> ssl.SSLContext | None:
    """The server's TLS context from the settings, or None while `radsec-certificate` or
    `trusted-ca` is not set (every connection is then refused). ssl.SSLError when the
    certificates do not load."""
    if material.radsec is None or not material.trusted:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # https://www.rfc-editor.org/rfc/rfc6614#section-2.3: TLS 1.1 or newer; 1.2 here (RFC 8996).
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED  # mutual authentication (RFC 6614 2.3)
    # load_cert_chain and CRLs take files only: written to a private directory, then removed.
    with tempfile.TemporaryDirectory(prefix="userman-radsec-") as folder:
        chain, key = Path(folder, "chain.pem"), Path(folder, "key.pem")
        chain.write_text(material.radsec.chain)
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(material.radsec.key)
        ctx.load_cert_chain(chain, key)
        trusted = Path(folder, "trusted.pem")
        trusted.write_text("".join(material.trusted) + "".join(material.crls))
        ctx.load_verify_locations(cafile=trusted)
    # A CRL is checked when every trusted CA has one (OpenSSL refuses a leaf whose CA has none).
    if material.crls and len(material.crls) == len(material.trusted):
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return ctx


def peer_names(cert: dict[str, Any]) -> frozenset[str]:
    """The names a verified peer certificate (ssl's getpeercert()) gives its holder: its
    subject's common names and its DNS subject alternative names."""
    names = {value for rdn in cert.get("subject", ()) for key, value in rdn if key == "commonName"}
    names |= {value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS"}
    return frozenset(names)


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close a connection with TLS's close_notify, waiting CLOSE_SECONDS at most for the peer's
    own (then, or when cancelled, it is cut): its transport is gone when this returns, so that
    the event loop keeps no half-closed connection and no file descriptor of it."""
    writer.close()
    try:
        async with asyncio.timeout(CLOSE_SECONDS):
            await writer.wait_closed()
    except (TimeoutError, ConnectionError, ssl.SSLError, OSError):
        writer.transport.abort()
    except asyncio.CancelledError:
        writer.transport.abort()
        raise


# https://www.rfc-editor.org/rfc/rfc5176#section-2.3: what a router answers to the server's
# Disconnect and CoA-Requests (RFC 6614 2.1: they may go over the router's connection).
COA_ANSWERS = frozenset({Code.DISCONNECT_ACK, Code.DISCONNECT_NAK, Code.COA_ACK, Code.COA_NAK})


def _address(text: str) -> str:
    """An address as one spelling (an IPv6 address compressed), to match a router's."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


class _Link:
    """A router's connection as the CoA sender's way to it (coa.Stream): requests written to it
    with Identifiers of its own, their answers handed back by Identifier."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.waiting: dict[int, Callable[[bytes | None], None]] = {}
        self._next = 0

    def bind(self, receive: Callable[[bytes | None], None]) -> int | None:
        for _ in range(256):
            identifier, self._next = self._next, (self._next + 1) % 256
            if identifier not in self.waiting:
                self.waiting[identifier] = receive
                return identifier
        return None

    def unbind(self, identifier: int) -> None:
        self.waiting.pop(identifier, None)

    def write(self, data: bytes) -> bool:
        if self.writer.is_closing():
            return False
        self.writer.write(data)
        return True

    def answered(self, data: bytes) -> bool:
        """Hand an answer to its request; False when none waits for its Identifier."""
        receive = self.waiting.get(data[1])
        if receive is None:
            return False
        receive(data)
        return True

    def lost(self) -> None:
        """The connection ended: every request waiting on it is told."""
        for receive in list(self.waiting.values()):
            receive(None)


class _Replies:
    """A connection as the endpoint's reply sender: answers written to it, in order."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    def sendto(self, data: bytes, addr: Any) -> None:
        writer = self.writer
        if writer.is_closing():
            return  # closed while the request was decided: the router sends it again
        writer.write(data)
        if writer.transport.get_write_buffer_size() > MAX_BUFFERED:
            log.warning("closed a RadSec connection from %s: it does not read its answers", addr[0])
            writer.transport.abort()


class Radsec:
    """The RadSec port of one `RadiusServer`: its listener, connections and TLS context."""

    def __init__(
        self,
        server: RadiusServer,
        *,
        max_connections: int = MAX_CONNECTIONS,
        per_address: int = PER_ADDRESS,
        idle: float = IDLE_SECONDS,
    ) -> None:
        self.server = server
        self.max_connections = max_connections
        self.per_address = per_address
        self.idle = idle
        self.context: ssl.SSLContext | None = None
        self.stamp: str | None = None
        self.open: Counter[str] = Counter()  # connections by source address
        self.links: dict[str, list[_Link]] = {}  # routers' admitted connections, by address
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._listener: socket.socket | None = None
        self._acceptor: asyncio.Task[None] | None = None
        self._closing = False

    async def load(self) -> None:
        """Build the context from the settings when the certificates' stamp changed."""
        loop = asyncio.get_running_loop()
        app = self.server.app
        stamp = await loop.run_in_executor(None, app.tls_stamp)
        if stamp == self.stamp:
            return
        material = await loop.run_in_executor(None, app.tls_material)
        try:
            self.context = await loop.run_in_executor(None, context, material)
        except (ssl.SSLError, OSError, ValueError) as error:
            self.context = None
            log.error("RadSec refuses every connection: its certificates do not load: %s", error)
        else:
            if self.context is None:
                log.warning(
                    "RadSec refuses every connection: set radsec-certificate and trusted-ca"
                    " (userman database set radsec-certificate=NAME trusted-ca=CA)"
                )
            else:
                name = material.radsec.name if material.radsec else ""
                log.info(
                    "RadSec serves the certificate %s, trusting %d CAs", name, len(material.trusted)
                )
        self.stamp = material.stamp

    async def start(self, sock: socket.socket) -> None:
        """Load the context and take connections on `sock` (bound and listening: `serve`
        binds it, cli/ports.py)."""
        sock.setblocking(False)  # accepted on the event loop (sock_accept)
        await self.load()
        self._listener = sock
        self._acceptor = asyncio.create_task(self._accept(sock))

    async def _accept(self, listener: socket.socket) -> None:
        """Each connection is accepted here and handed to TLS by the event loop itself
        (connect_accepted_socket): no byte of the ClientHello can be read as plain data first,
        and a connection is refused on its address alone before any handshake work."""
        loop = asyncio.get_running_loop()
        while not self._closing:
            try:
                conn, peername = await loop.sock_accept(listener)
            except OSError as error:  # out of descriptors: said, and tried again
                log.warning("RadSec could not take a connection: %s", error)
                await asyncio.sleep(0.1)
                continue
            task = asyncio.create_task(self._connected(conn, (str(peername[0]), peername[1])))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def watch(self, stop: asyncio.Event, interval: float = POLL_SECONDS) -> None:
        """Follow the certificates' settings until `stop` (new connections use the new ones)."""
        failing = False
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            if stop.is_set():
                return
            try:
                await self.load()
                failing = False
            except Exception:
                if not failing:
                    log.exception("could not read the RadSec certificates")
                failing = True

    def refuse(self) -> None:
        """Take no more connections nor requests (the server stops); the answers to what was
        taken still go out."""
        self._closing = True
        if self._acceptor is not None:
            self._acceptor.cancel()
        for writer in self._writers:
            with contextlib.suppress(AttributeError, NotImplementedError, RuntimeError):
                writer.transport.pause_reading()  # type: ignore[attr-defined]

    async def close(self) -> None:
        """Close every connection (after `RadiusServer.drain`: their answers are written)."""
        self.refuse()
        tasks = [*self._tasks, *([self._acceptor] if self._acceptor is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._listener is not None:
            self._listener.close()

    def stream(self, address: str) -> _Link | None:
        """The open connection of the router at `address` (its latest), for the CoA sender."""
        links = self.links.get(_address(address))
        return links[-1] if links else None

    def _refused(self, source: str, why: str, reason: str) -> None:
        """Count a refused connection, and log it once per source and reason a minute."""
        self.server.counters[f"radsec-refused-{reason}"] += 1
        now = asyncio.get_running_loop().time()
        unwritten = self.server.quiet.note((source, f"radsec-{reason}"), now)
        if unwritten is not None:
            more = f" ({unwritten} more since the last such entry)" if unwritten else ""
            log.warning("refused a RadSec connection from %s: %s%s", source, why, more)

    async def _connected(self, conn: socket.socket, addr: tuple[str, int]) -> None:
        """One accepted connection, from its checks and handshake to its end."""
        source = addr[0]
        self.open[source] += 1
        writer: asyncio.StreamWriter | None = None
        try:
            opened = await self._handshake(conn, addr)
            if opened is not None:
                reader, writer, peer = opened
                self._writers.add(writer)
                link = _Link(writer)
                links = self.links.setdefault(_address(source), [])
                links.append(link)
                try:
                    await self._requests(reader, writer, addr, peer, link)
                finally:
                    links.remove(link)
                    if not links:
                        del self.links[_address(source)]
                    link.lost()
        except (ConnectionError, ssl.SSLError, OSError):
            pass  # the peer went: nothing to answer
        finally:
            self.open[source] -= 1
            if not self.open[source]:
                del self.open[source]
            if writer is None:
                conn.close()  # no transport holds it (_handshake closed any it made)
            else:
                self._writers.discard(writer)
                await _close(writer)

    async def _handshake(
        self, conn: socket.socket, addr: tuple[str, int]
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Peer] | None:
        """The connection's checks before TLS (limits, a router's address, a context), its
        handshake and its certificate's names against the router's: its stream and peer once
        they pass, None (said and counted) when one does not."""
        source = addr[0]
        if self._closing:
            return None
        if len(self._tasks) > self.max_connections:
            self._refused(source, f"{self.max_connections} connections are open", "limit")
            return None
        if self.open[source] > self.per_address:
            self._refused(source, f"{self.per_address} connections from it are open", "limit")
            return None
        loop = asyncio.get_running_loop()
        routers = self.server.routers
        fresh = routers.fresh(loop.time())
        router = routers.get(source) if fresh else None
        if fresh and (router is None or router.disabled):  # refused before the handshake
            self._refused(source, "no router with that address", "unknown")
            return None
        ctx = self.context
        if ctx is None:
            self._refused(source, "no radsec-certificate and trusted-ca are set", "unset")
            return None
        reader = asyncio.StreamReader(limit=READ_SIZE)
        protocol = asyncio.StreamReaderProtocol(reader)
        try:
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol, conn, ssl=ctx, ssl_handshake_timeout=HANDSHAKE_SECONDS
            )
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError) as error:
            why = getattr(error, "verify_message", None) or getattr(error, "reason", None)
            why = why or str(error) or type(error).__name__
            self._refused(source, f"TLS handshake failed: {why}", "handshake")
            return None
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        try:
            if router is None:  # the snapshot was not fresh: the database says
                router = await self.server.find_router(source)
        except BaseException:
            transport.abort()
            raise
        if router is None or router.disabled:
            self._refused(source, "no router with that address", "unknown")
            await _close(writer)
            return None
        tls = writer.get_extra_info("ssl_object")
        cert = tls.getpeercert() if tls is not None else None
        peer = Peer(peer_names(cert or {}))
        if peer.admit(router) is None:
            names = ", ".join(sorted(peer.names)) or "no name"
            why = f"its certificate names {names}, not the router {router.name}"
            self._refused(source, why, "certificate")
            await _close(writer)
            return None
        log.info("RadSec connection from router %s (%s)", router.name, source)
        return reader, writer, peer

    async def _requests(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        addr: tuple[str, int],
        peer: Peer,
        link: _Link,
    ) -> None:
        """Answer the connection's packets until it ends, goes silent, breaks or is refused;
        hand the answers to the server's own requests to `link`."""
        framer = Framer()
        replies = _Replies(writer)
        server = self.server
        while True:
            try:
                async with asyncio.timeout(self.idle):
                    data = await reader.read(READ_SIZE)
            except TimeoutError:
                log.info("closed a RadSec connection from %s: idle %.0f s", addr[0], self.idle)
                return
            if not data:
                return
            try:
                packets = framer.feed(data)
            except DecodeError as error:
                server.counters["broken-requests"] += 1
                log.warning("closed a RadSec connection from %s: %s", addr[0], error)
                return
            for packet in packets:
                if packet[0] in COA_ANSWERS:
                    if not link.answered(packet):
                        server.counters["coa-unexpected-answers"] += 1
                    continue
                server.submit(replies, packet, addr, None, peer)
            if peer.refused:
                log.warning(
                    "closed a RadSec connection from %s: its router is gone or disabled", addr[0]
                )
                return
