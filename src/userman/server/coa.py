"""The Disconnect/CoA sender (RFC 5176): claim the queued requests, send them, store the answers.

The requests are rows the services wrote (services/coa.py) in this process or another one, on
this node or another. Once a second `poll()` claims the due ones in a worker thread; each is
sent from one UDP socket and sent again every `timeout` seconds until its router answers
(an ACK or NAK whose Response Authenticator proves the router's secret) or `tries` run out;
the answer is stored from a worker thread. The event loop never waits on the database.
A router that keeps a RadSec connection open to this process (server/radsec.py, a `Stream`)
gets its requests over that connection instead, once, signed with the secret "radsec" (RFC
6614 2.3), its answer matched by the connection's own Identifiers; UDP when it has none, or
when it closes before the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, cast

from userman.radius.dictionary import Dictionary
from userman.radius.errors import DecodeError, EncodeError
from userman.radius.packet import (
    Code,
    build,
    decode,
    encode,
    verify_message_authenticator,
    verify_response_authenticator,
)
from userman.server.endpoint import RADSEC_SECRET
from userman.services.coa import Answer, CoaJob, Result

if TYPE_CHECKING:
    from userman.server.endpoint import RadiusServer

__all__ = ["CoaSender", "Stream", "enforce", "poll", "poll_once", "start_sender"]

log = logging.getLogger("userman.server")

# https://www.rfc-editor.org/rfc/rfc5176#section-2.3: each request and its two answers.
REQUESTS = {"disconnect": Code.DISCONNECT_REQUEST, "coa": Code.COA_REQUEST}
ANSWERS = {
    Code.DISCONNECT_REQUEST: {Code.DISCONNECT_ACK: Answer.ACK, Code.DISCONNECT_NAK: Answer.NAK},
    Code.COA_REQUEST: {Code.COA_ACK: Answer.ACK, Code.COA_NAK: Answer.NAK},
}
TIMEOUT = 3.0  # seconds to wait for an answer before sending again
TRIES = 3
BATCH = 64  # requests claimed at a time
NO_ANSWER = "no answer"
# An answer to a request sent over a stream, or None: the stream closed.
Receive = Callable[[bytes | None], None]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(slots=True)
class _Waiting:
    job: CoaJob
    code: Code
    authenticator: bytes  # the Request Authenticator the answer is computed over
    answer: asyncio.Future[bytes]


def _same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b


class Stream(Protocol):
    """A router's RadSec connection (server/radsec.py) as a way to send it requests: each with
    an Identifier of the connection's own, whose answers it hands to the request's `Receive`
    (None when it closes)."""

    def bind(self, receive: Receive) -> int | None:
        """A free Identifier whose answers go to `receive`; None when all are in flight."""
        ...

    def unbind(self, identifier: int) -> None: ...

    def write(self, data: bytes) -> bool:
        """Send a request; False when the connection is closing."""
        ...


def _no_stream(address: str) -> Stream | None:
    return None


class _Socket(asyncio.DatagramProtocol):
    """A further socket of a sender (the other address family): answers go to the sender."""

    def __init__(self, sender: CoaSender) -> None:
        self.sender = sender

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.sender.datagram_received(data, addr)


def _family(address: str) -> int:
    """6 for an IPv6 address, else 4 (an IPv4 address, or a name)."""
    try:
        return ipaddress.ip_address(address).version
    except ValueError:
        return 4


class CoaSender(asyncio.DatagramProtocol):
    """UDP sockets, one per address family, that send the requests and match the answers by
    Identifier (one Identifier space for both)."""

    def __init__(
        self,
        dictionary: Dictionary,
        counters: Counter[str],
        *,
        timeout: float = TIMEOUT,
        tries: int = TRIES,
    ) -> None:
        self.dictionary = dictionary
        self.counters = counters
        self.timeout = timeout
        self.tries = tries
        self.transport: asyncio.DatagramTransport | None = None
        # The sockets by family (4, 6): the one made with this protocol and `add_socket`'s.
        self.transports: dict[int, asyncio.DatagramTransport] = {}
        self._waiting: dict[int, _Waiting] = {}
        self._next = 0
        # The open RadSec connection of a router's address, if this process holds one.
        self.streams: Callable[[str], Stream | None] = _no_stream

    @property
    def free(self) -> int:
        """How many more requests may be in flight (one per Identifier)."""
        return 256 - len(self._waiting)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport: before Python 3.12 the selector loop's does not
        # derive from asyncio.DatagramTransport, though it has its methods (sendto).
        self.transport = cast("asyncio.DatagramTransport", transport)
        sockname = self.transport.get_extra_info("sockname")
        self.transports.setdefault(_family(sockname[0]), self.transport)

    async def add_socket(self, bind: str) -> None:
        """Send to routers of `bind`'s address family from a socket of its own."""
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: _Socket(self), local_addr=(bind, 0)
        )
        self.transports[_family(bind)] = transport

    def close(self) -> None:
        for transport in {self.transport, *self.transports.values()}:
            if transport is not None:
                transport.close()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        waiting = self._waiting.get(data[1]) if len(data) >= 20 else None
        if waiting is None or not _same_address(str(addr[0]), waiting.job.address):
            self.counters["coa-unexpected-answers"] += 1
            return
        self._answered(waiting, data)

    def _answered(self, waiting: _Waiting, data: bytes) -> None:
        """Take an answer with the request's Identifier if it proves the request's secret."""
        secret = waiting.job.secret
        valid = (
            data[0] in ANSWERS[waiting.code]
            and verify_response_authenticator(data, secret, waiting.authenticator)
            # RFC 5176 3.3: a Message-Authenticator, when present, must be right.
            and verify_message_authenticator(data, secret, waiting.authenticator) is not False
        )
        if not valid:
            self.counters["coa-bad-answers"] += 1
            log.warning(
                "dropped a bad answer from router %s to a %s", waiting.job.router, waiting.code.name
            )
            return
        if not waiting.answer.done():
            waiting.answer.set_result(data)

    def _identifier(self) -> int:
        for _ in range(256):
            identifier, self._next = self._next, (self._next + 1) % 256
            if identifier not in self._waiting:
                return identifier
        raise RuntimeError("every Identifier is in flight")

    async def send(self, job: CoaJob) -> Result:
        """Send the request over the router's RadSec connection when it keeps one open, else
        (or when it closes first) over UDP."""
        stream = self.streams(job.address)
        if stream is not None:
            result = await self._send_stream(replace(job, secret=RADSEC_SECRET), stream)
            if result is not None:
                return result
        return await self._send_datagram(job)

    async def _send_stream(self, job: CoaJob, stream: Stream) -> Result | None:
        """Send the request once over a RadSec connection and wait `timeout` x `tries` for its
        answer (RFC 6613: no retransmission over a reliable connection); None when it
        could not be sent there or the connection closed first."""
        code = REQUESTS[job.kind]
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        waiting: _Waiting | None = None

        def receive(data: bytes | None) -> None:
            if answer.done() or waiting is None:
                return
            if data is None:
                answer.set_exception(ConnectionError("the RadSec connection closed"))
            else:
                self._answered(waiting, data)

        identifier = stream.bind(receive)
        if identifier is None:
            return None
        try:
            try:
                pkt = build(self.dictionary, code, identifier, bytes(16), job.attributes)
                data = encode(pkt, job.secret, message_authenticator=True)
            except EncodeError as error:
                return Result(Answer.TIMEOUT, 0, f"cannot be sent: {error}")
            waiting = _Waiting(job, code, data[4:20], answer)
            if not stream.write(data):
                return None
            try:
                reply = await asyncio.wait_for(answer, self.timeout * self.tries)
            except TimeoutError:
                return Result(Answer.TIMEOUT, 1, NO_ANSWER)
            except ConnectionError:
                log.info("the RadSec connection of router %s closed: over UDP", job.router)
                return None
            return self._result(job, code, data[4:20], reply, 1)
        finally:
            stream.unbind(identifier)

    async def _send_datagram(self, job: CoaJob) -> Result:
        """Send the request, again after each timeout, until answered or `tries` are spent."""
        transport = self.transports.get(_family(job.address), self.transport)
        if transport is None:
            return Result(Answer.TIMEOUT, 0, "cannot be sent: the sender has no socket")
        code = REQUESTS[job.kind]
        identifier = self._identifier()
        try:
            pkt = build(self.dictionary, code, identifier, bytes(16), job.attributes)
            data = encode(pkt, job.secret, message_authenticator=True)
        except EncodeError as error:
            return Result(Answer.TIMEOUT, 0, f"cannot be sent: {error}")
        answer = asyncio.get_running_loop().create_future()
        self._waiting[identifier] = _Waiting(job, code, data[4:20], answer)
        try:
            for attempt in range(1, self.tries + 1):
                transport.sendto(data, (job.address, job.port))
                try:
                    reply = await asyncio.wait_for(asyncio.shield(answer), self.timeout)
                except TimeoutError:
                    continue
                return self._result(job, code, data[4:20], reply, attempt)
            return Result(Answer.TIMEOUT, self.tries, NO_ANSWER)
        finally:
            del self._waiting[identifier]

    def _result(
        self, job: CoaJob, code: Code, authenticator: bytes, reply: bytes, attempts: int
    ) -> Result:
        answer = ANSWERS[code][Code(reply[0])]
        if answer is Answer.ACK:
            return Result(answer, attempts)
        try:
            pkt = decode(
                reply, self.dictionary, secret=job.secret, request_authenticator=authenticator
            )
        except DecodeError:
            return Result(answer, attempts, "NAK")
        # https://www.rfc-editor.org/rfc/rfc5176#section-3.5: why the router refused.
        cause = pkt.get("Error-Cause")
        if not isinstance(cause, int):
            return Result(answer, attempts, "NAK")
        name = self.dictionary.attribute("Error-Cause").value_name(cause) or str(cause)
        return Result(answer, attempts, f"NAK: Error-Cause {name}")


async def start_sender(
    server: RadiusServer, bind: str, *, timeout: float = TIMEOUT, tries: int = TRIES
) -> CoaSender:
    """The sender, on a free UDP port of `bind`, counting in the server's counters; and on one
    of the other address family (:: beside an IPv4 `bind`, 0.0.0.0 beside an IPv6 one), so
    routers with IPv6 addresses are reached too. A host without IPv6 goes on without."""
    sender = CoaSender(server.dictionary, server.counters, timeout=timeout, tries=tries)
    await asyncio.get_running_loop().create_datagram_endpoint(lambda: sender, local_addr=(bind, 0))
    other = "0.0.0.0" if _family(bind) == 6 else "::"
    try:
        await sender.add_socket(other)
    except OSError as error:
        log.warning("CoA/Disconnect requests go out on %s only: %s", bind, error)
    return sender


def _counter(job: CoaJob, result: Result) -> str:
    if result.answer is Answer.TIMEOUT:
        return "coa-timeouts" if result.error == NO_ANSWER else "coa-errors"
    return f"{job.kind}-{'ack' if result.answer is Answer.ACK else 'nak'}"


async def _deliver(server: RadiusServer, sender: CoaSender, job: CoaJob) -> None:
    result = await sender.send(job)
    server.count(_counter(job, result), job.router_id or None)
    log.log(
        logging.INFO if result.answer is Answer.ACK else logging.WARNING,
        "%s-request to router %s (%s): %s after %d tries%s",
        job.kind,
        job.router,
        job.cause,
        result.answer.name,
        result.attempts,
        f", {result.error}" if result.error else "",
    )
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(server.pool, server.app.record_coa, job, result, utcnow())
    except Exception:
        log.exception("could not store the answer to %s-request %d", job.kind, job.id)


async def poll_once(server: RadiusServer, sender: CoaSender, tasks: set[asyncio.Task[None]]) -> int:
    """Claim the due requests and start sending each (added to `tasks`); how many."""
    limit = min(BATCH, sender.free)
    if limit <= 0:
        return 0
    loop = asyncio.get_running_loop()
    try:
        jobs = await loop.run_in_executor(server.pool, server.app.claim_coa, utcnow(), limit)
    except Exception:
        log.exception("could not claim the queued CoA/Disconnect requests")
        return 0
    for job in jobs:
        task = asyncio.ensure_future(_deliver(server, sender, job))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    return len(jobs)


async def poll(
    server: RadiusServer, sender: CoaSender, stop: asyncio.Event, interval: float = 1.0
) -> None:
    """Claim and send every `interval` seconds until stopped; then let those in flight end
    (each within tries x timeout)."""
    tasks: set[asyncio.Task[None]] = set()
    while not stop.is_set():
        await poll_once(server, sender, tasks)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
    if tasks:
        await asyncio.wait(set(tasks))


# The longest wait between two rechecks of the open sessions; a window boundary or a profile's
# end due sooner is waited for exactly.
RECHECK_EVERY = 60.0


async def enforce(server: RadiusServer, stop: asyncio.Event, every: float = RECHECK_EVERY) -> None:
    """Until stopped: recheck the open sessions of use-coa routers (services/enforce.py) every
    `every` seconds, and at the moment the next decision changes by time (a window boundary, a
    profile's end), so a night-time rate reaches the router within a second of its hour."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        now = utcnow()
        wait = every
        try:
            due = await loop.run_in_executor(server.pool, server.app.enforce, now)
            if due is not None:
                wait = min(every, max((due - utcnow()).total_seconds(), 0.0) + 0.5)
        except Exception:
            log.exception("could not recheck the open sessions")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
