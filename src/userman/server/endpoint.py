"""The UDP endpoints: datagram in, services, reply out; nothing blocks the loop.

One `RadiusServer` serves the authentication and the accounting port, and the packets that
RadSec connections carry (server/radsec.py: both kinds on one connection, from a `Peer`, with
the secret "radsec"), all through the same path. It finds the router by
source address in its snapshot cache (server/cache.py) without a query. It decides an
Access-Request on the loop from the policy in memory (services/access.py); only what a router
relies on (a profile that starts, a caller-id bound) is committed, in a worker thread, before the
Access-Accept; log rows are written by a batch writer after the reply, last-seen every few
seconds with the counters. A datagram from an
address that is no router's, or one that does not decode or authenticate, is dropped and
counted; one that fails its router's Message-Authenticator rules or its shared secret is also
written to the router's log, rate-limited (server/failures.py). Accounting-Response is sent
only after the record is committed (RFC 2866 2). A retransmission gets the reply already sent,
from the duplicate cache (RFC 5080 2.2.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import os
from collections import Counter
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol, cast

from userman.core.authorize import AccessRequest, Decision
from userman.radius.dedup import DuplicateCache, RequestKey, Status, request_key
from userman.radius.dictionary import Dictionary
from userman.radius.errors import DecodeError
from userman.radius.packet import (
    Code,
    Packet,
    decode,
    encode,
    encode_attribute,
    encode_response,
    verify_message_authenticator,
    verify_request_authenticator,
)
from userman.server import requests
from userman.server.cache import RouterCache
from userman.server.eap import EapServer
from userman.server.failures import FailureLog, Throttle
from userman.server.metrics import Histogram
from userman.server.writer import BATCH_LIMIT, GroupCommitWriter
from userman.services import RouterInfo, Userman
from userman.services.access import Effects, LogItem, durable, log_item
from userman.services.routers import Drop, Failure, Requirement

if TYPE_CHECKING:
    from userman.core.accounting import SessionState
    from userman.services.aaa import AccountingItem

__all__ = ["RADSEC_SECRET", "Peer", "RadiusProtocol", "RadiusServer", "Sender"]

log = logging.getLogger("userman.server")

# What a request gets: a reply, None (dropped, counted), or the coroutine that makes either.
Answer = bytes | Coroutine[Any, Any, bytes | None] | None

# Which request codes each port answers (RFC 2865 3, RFC 2866 3, RFC 5997 2).
AUTH_CODES = frozenset({Code.ACCESS_REQUEST, Code.STATUS_SERVER})
ACCT_CODES = frozenset({Code.ACCOUNTING_REQUEST, Code.STATUS_SERVER})
# RadSec carries both on one connection (https://www.rfc-editor.org/rfc/rfc6614#section-2.1).
RADSEC_CODES = AUTH_CODES | ACCT_CODES
# https://www.rfc-editor.org/rfc/rfc6614#section-2.3: the shared secret over TLS is "radsec".
RADSEC_SECRET = b"radsec"


class Sender(Protocol):
    """Where replies go: a UDP port's transport, or a RadSec connection (server/radsec.py)."""

    def sendto(self, data: bytes, addr: Any) -> None: ...


@dataclass(slots=True)
class Peer:
    """The far end of a RadSec connection: the names its certificate holds (its subject's CN
    and its DNS subject alternative names). Its requests are those of the router whose address
    the connection comes from, if that router's name is one of `names`, and are signed with
    the secret "radsec" (RFC 6614 2.3) instead of the router's. `refused`: a request found no
    such router (any more): the connection is closed."""

    names: frozenset[str]
    refused: bool = False
    _seen: tuple[RouterInfo, RouterInfo] | None = None  # a router as read, and as admitted

    def admit(self, router: RouterInfo | None) -> RouterInfo | None:
        """`router` (found by the source address) as this peer's requests are answered for,
        or None when it is not this peer's."""
        if router is None or router.disabled or router.name not in self.names:
            self.refused = True
            return None
        seen = self._seen
        if seen is None or seen[0] is not router:  # once per snapshot, not per request
            seen = self._seen = (router, replace(router, secret=RADSEC_SECRET))
        return seen[1]


_ACCOUNTING_REQUEST = bytes([Code.ACCOUNTING_REQUEST])


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RadiusServer:
    """The request handling shared by both ports, with its counters."""

    def __init__(
        self,
        app: Userman,
        dictionary: Dictionary,
        workers: int = 8,
        *,
        batch_limit: int = BATCH_LIMIT,
        interim_interval: int = 0,
    ) -> None:
        self.app = app
        self.dictionary = dictionary
        self.interim_interval = interim_interval  # seconds; 0: the router's own setting
        # Per router, since the start: what `flush_counters` adds to the database's totals for
        # `router monitor` is what they grew by since its last flush; /metrics reads them too.
        self.router_counters: Counter[tuple[int, str]] = Counter()
        self._flushed: dict[tuple[int, str], int] = {}
        # For /metrics (server/metrics.py): reply latency by port (accounting?), rejects by reason.
        self.latency = {False: Histogram(), True: Histogram()}
        self.rejects: Counter[str | None] = Counter()  # RejectReason values
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="userman-db")
        # Accounting is stored by one group-commit writer: one transaction per batch.
        self.writer: GroupCommitWriter[AccountingItem, SessionState | None] = GroupCommitWriter(
            app.account_many, limit=batch_limit
        )
        # Reply attributes in wire form, kept (server/requests.py).
        self.replies = requests.Replies(dictionary)
        # What decisions from memory change that the router relies on (a profile started, a
        # caller-id bound, a shared-users place claimed in the database), committed in batches
        # before their Accepts (services/access.py store_effects_many).
        self.effects: GroupCommitWriter[Effects, bool] = GroupCommitWriter(
            app.store_effects_many, limit=batch_limit, name="userman-effects"
        )
        # Decisions' log rows, written after the replies, in batches (services/access.py).
        self.decisions: GroupCommitWriter[LogItem, None] = GroupCommitWriter(
            app.log_decisions, limit=batch_limit, name="userman-decisions"
        )
        # Users accepted since the last flush, and when: their last-seen (flush_counters).
        self.seen: dict[int, dt.datetime] = {}
        self.counters: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        # Routers by address, kept current by `cache.watch` (server/main.py runs it); until it
        # has checked, and whenever its check is late, each request reads its router.
        self.routers = RouterCache()
        # Which dropped requests reach the log: one per router and reason a minute, and of
        # those no router is charged with, one per source (or router) and reason a minute.
        self.failures = FailureLog()
        self.quiet = Throttle()
        # require-message-authenticator=auto routers seen sending a signed Access-Request:
        # strict at once, while the database is told (once) and until the snapshot shows it.
        self._signed: dict[int, _Learned] = {}

    async def _call(self, func: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, func, *args)

    def submit(
        self,
        transport: Sender,
        data: bytes,
        addr: Any,
        accounting: bool | None,
        via: Peer | None = None,
    ) -> None:
        """Answer a datagram (or a packet of a RadSec connection: `via` its peer, `accounting`
        None): at once when it needs no wait (a decision from memory, a Status-Server, a
        drop), else in a task of its own."""
        work = self.receive(transport, data, addr, accounting, via)
        if work is not None:
            self._spawn(work)

    async def handle(
        self,
        transport: Sender,
        data: bytes,
        addr: Any,
        accounting: bool | None,
        via: Peer | None = None,
    ) -> None:
        """Answer a datagram, waiting for whatever that takes."""
        work = self.receive(transport, data, addr, accounting, via)
        if work is not None:
            await work

    @functools.cached_property
    def duplicates(self) -> DuplicateCache:
        """Requests being decided and the replies sent, by request (RFC 5080 2.2.2)."""
        return DuplicateCache()

    def count(self, name: str, router_id: int | None = None) -> None:
        """Count `name` for the whole server, and for the router when there is one."""
        self.counters[name] += 1
        if router_id is not None:
            self.router_counters[(router_id, name)] += 1

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a coroutine beside the requests; `drain` waits for it."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush_counters(self, *, final: bool = False) -> None:
        """Add the per-router counts since the last flush to the database's totals, and write
        the dropped requests that the log owes (server/failures.py; `final`: all it owes)."""
        owed = self.failures.due(asyncio.get_running_loop().time(), final=final)
        for failure, unwritten in owed:
            log.warning("dropped requests: %s", failure.describe(unwritten))
        if owed:
            await self._write_failures(owed)
        seen, self.seen = self.seen, {}
        if seen:
            try:
                await self._call(self.app.store_last_seen, seen)
            except Exception:
                for user_id, time in seen.items():  # kept for the next flush
                    self.seen[user_id] = max(time, self.seen.get(user_id, time))
                raise
        counts, flushed = dict(self.router_counters), self._flushed
        grown = {key: n - flushed.get(key, 0) for key, n in counts.items() if n != flushed.get(key)}
        if grown:
            await self._call(self.app.add_counters, grown)  # failed: added at the next flush
        self._flushed = counts

    def receive(
        self,
        transport: Sender,
        data: bytes,
        addr: Any,
        accounting: bool | None,
        via: Peer | None = None,
    ) -> Coroutine[Any, Any, None] | None:
        """Answer what can be answered now; what must wait (a router to read while the
        snapshot is not fresh, a decision to commit, accounting) is the coroutine returned.
        `accounting`: which port it came to; None: a RadSec connection's, from `via`."""
        source = str(addr[0])
        began = perf_counter()  # the reply's latency, for /metrics
        if not self.routers.fresh(asyncio.get_running_loop().time()):
            return self._read_router(transport, data, addr, (accounting, via), began)
        router = self.routers.get(source)
        return self._receive(router, transport, data, addr, (accounting, via), began)

    async def find_router(self, source: str) -> RouterInfo | None:
        """The router with the address `source`: from the snapshot while it is fresh, else
        read from the database."""
        if self.routers.fresh(asyncio.get_running_loop().time()):
            return self.routers.get(source)
        router: RouterInfo | None = await self._call(self.app.find_router, source)
        return router

    async def _read_router(
        self,
        transport: Sender,
        data: bytes,
        addr: Any,
        port: tuple[bool | None, Peer | None],
        began: float,
    ) -> None:
        router: RouterInfo | None = await self._call(self.app.find_router, str(addr[0]))
        work = self._receive(router, transport, data, addr, port, began)
        if work is not None:
            await work

    def _receive(  # noqa: PLR0917
        self,
        router: RouterInfo | None,
        transport: Sender,
        data: bytes,
        addr: Any,
        port: tuple[bool | None, Peer | None],
        began: float,
    ) -> Coroutine[Any, Any, None] | None:
        source = str(addr[0])
        now = asyncio.get_running_loop().time()
        to_accounting, via = port
        # A RadSec connection carries both kinds: its accounting requests are told by their code.
        accounting = bool(to_accounting) if via is None else data[:1] == _ACCOUNTING_REQUEST
        if via is not None:
            router = via.admit(router)
        if router is None or router.disabled:
            self.counters["unknown-requests"] += 1
            unwritten = self.quiet.note((source, "unknown"), now)
            if unwritten is not None:
                log.warning(
                    "dropped a request from %s: no router with that address%s%s",
                    source,
                    "" if via is None else " and certificate",
                    _since(unwritten),
                )
            return None
        codes = RADSEC_CODES if via is not None else ACCT_CODES if accounting else AUTH_CODES
        # https://www.rfc-editor.org/rfc/rfc5080#section-2.2.2: a retransmission is not decided
        # (nor accounted) again: it gets the reply sent, or nothing while the first is decided.
        key = request_key(data, source, int(addr[1]), accounting=accounting)
        if key is not None:
            seen = self.duplicates.check(key, now)
            if seen.status is not Status.NEW:
                self.count("duplicates", router.id)
                if seen.reply is not None:
                    transport.sendto(seen.reply, addr)
                return None
        try:
            answer = self._answer(router, data, source, codes)
        except Exception as error:
            self._failed(router, error)
            answer = None
        latency = self.latency[accounting]
        if answer is None or isinstance(answer, bytes):  # concrete: quicker than an ABC
            self._send(answer, key, transport, addr, (latency, began))
            return None
        return self._finish(answer, router, key, transport, addr, (latency, began))

    async def _finish(  # noqa: PLR0917
        self,
        answer: Coroutine[Any, Any, bytes | None],
        router: RouterInfo,
        key: RequestKey | None,
        transport: Sender,
        addr: Any,
        timing: tuple[Histogram, float],
    ) -> None:
        reply: bytes | None = None
        try:
            reply = await answer
        except Exception as error:
            self._failed(router, error)
        finally:
            self._send(reply, key, transport, addr, timing)

    def _send(
        self,
        reply: bytes | None,
        key: RequestKey | None,
        transport: Sender,
        addr: Any,
        timing: tuple[Histogram, float],
    ) -> None:
        """Send the reply (None: none), remembered for retransmissions, its latency observed
        in `timing`'s histogram from `timing`'s start."""
        if key is not None:
            self._remember(key, reply, asyncio.get_running_loop().time())
        if reply is not None:
            transport.sendto(reply, addr)
            latency, began = timing
            latency.observe(perf_counter() - began)

    def _failed(self, router: RouterInfo, error: Exception) -> None:
        """Count and log a request dropped because it could not be answered."""
        if isinstance(error, DecodeError):
            self.count("broken-requests", router.id)
            now = asyncio.get_running_loop().time()
            unwritten = self.quiet.note((router.id, "malformed"), now)
            if unwritten is not None:
                log.warning(
                    "dropped a malformed request from router %s: %s%s",
                    router.name,
                    error,
                    _since(unwritten),
                )
        else:
            self.count("failed-requests", router.id)
            log.error("could not answer a request from router %s", router.name, exc_info=error)

    def _remember(self, key: RequestKey, reply: bytes | None, now: float) -> None:
        # A dropped request is forgotten: a later copy is checked afresh, and may be answered.
        if reply is None:
            self.duplicates.forget(key, now)
        else:
            self.duplicates.finish(key, reply, now)

    def _answer(
        self, router: RouterInfo, data: bytes, source: str, codes: frozenset[Code]
    ) -> Answer:
        secret = router.secret
        pkt = decode(data, self.dictionary, secret=secret)
        if pkt.code not in codes:
            raise DecodeError(f"{pkt.code.name} is not answered on this port", offset=0)
        # RFC 3579 3.2: a wrong Message-Authenticator means a silent discard.
        signed = verify_message_authenticator(data, secret)
        if signed is False:
            self._drop(router, Drop.WRONG_MESSAGE_AUTHENTICATOR, pkt, source)
            return None
        if signed is None:
            drop = _unsigned(router, pkt, must_sign=self._must_sign(router))
            if drop is not None:
                self._drop(router, drop, pkt, source)
                return None
        elif pkt.code is Code.ACCESS_REQUEST and router.learns and not self._must_sign(router):
            self._learn(router)
        if pkt.code is Code.STATUS_SERVER:
            # RFC 5997 3: Access-Accept on the auth port, Accounting-Response on the acct port;
            # over RadSec, which has one port for both, Access-Accept (as FreeRADIUS answers).
            answer = Code.ACCESS_ACCEPT if codes >= AUTH_CODES else Code.ACCOUNTING_RESPONSE
            self.count("status-server", router.id)
            return self._encode(pkt.reply(answer, ()), secret, pkt, sign=True)
        if pkt.code is Code.ACCOUNTING_REQUEST:
            return self._account(router, pkt, data, source)
        return self._authenticate(router, pkt, source)

    def _authenticate(self, router: RouterInfo, pkt: Packet, source: str) -> Answer:
        """The Access-Accept or -Reject, now when memory decides alone, else later; EAP's
        Access-Challenges and final replies come from server/eap.py."""
        if requests.carries_eap(pkt):
            return self.eap.answer(router, pkt, source)
        request = requests.access_request(self.dictionary, pkt, source)
        decided = self.decision(router, request)
        if isinstance(decided, Decision):  # a concrete class: quicker to ask than an ABC
            return self.grant(router, pkt, request, decided)
        return self._grant_later(router, pkt, request, decided)

    @functools.cached_property
    def eap(self) -> EapServer:
        """The EAP conversations in progress (server/eap.py)."""
        return EapServer(self)

    def decision(
        self, router: RouterInfo, request: AccessRequest
    ) -> Decision | Coroutine[Any, Any, Decision]:
        """The one decision path of every log-on (plain or over EAP): from memory when it
        decides alone and nothing must be stored first, else the coroutine that stores or
        asks the database."""
        now = utcnow()
        found = self.app.decide(router, request, now)
        if found is not None:
            decision, user_id = found
            if user_id is None or not durable(decision):
                self.counters["decided-in-memory"] += 1
                self._after(router, request, decision, user_id, now)
                return decision
        return self._decide(router, request, found, now)

    async def _grant_later(
        self,
        router: RouterInfo,
        pkt: Packet,
        request: AccessRequest,
        decided: Coroutine[Any, Any, Decision],
    ) -> bytes:
        return self.grant(router, pkt, request, await decided)

    def grant(
        self,
        router: RouterInfo,
        pkt: Packet,
        request: AccessRequest,
        decision: Decision,
        extra: Sequence[bytes] = (),
    ) -> bytes:
        """The reply that tells the router the decision, with `extra` attributes (wire form)."""
        self.count("access-requests", router.id)
        self.count("accepts" if decision.accept else "rejects", router.id)
        if not decision.accept:
            reason = decision.reason  # counted by its text: an Enum member hashes slowly
            self.rejects[None if reason is None else reason._value_] += 1
        code = Code.ACCESS_ACCEPT if decision.accept else Code.ACCESS_REJECT
        secret = router.secret
        chunks, problems = self.replies.chunks(
            decision, request.username, secret, pkt.authenticator
        )
        for problem in problems:
            self.counters["attributes-left-out"] += 1
            log.warning("left an attribute out of the reply to %s: %s", request.username, problem)
        if decision.accept and self.interim_interval:
            # RFC 2869 5.16: how often the router sends Interim-Updates (limits hold in-session).
            chunks.append(self.replies.chunk("Acct-Interim-Interval", self.interim_interval))
        chunks.extend(extra)
        # https://www.rfc-editor.org/rfc/rfc2865#section-5.33: Proxy-State echoed, in order.
        chunks.extend(encode_attribute(avp) for avp in requests.proxy_state(pkt))
        return encode_response(
            code, pkt.identifier, pkt.authenticator, chunks, secret, message_authenticator=True
        )

    async def _decide(
        self,
        router: RouterInfo,
        request: AccessRequest,
        found: tuple[Decision, int | None] | None,
        now: dt.datetime,
    ) -> Decision:
        """Commit first what the router will rely on of a decision from memory (`found`);
        let the database decide when memory cannot, or when a row changed under it."""
        decision, user_id = found or (None, None)
        if decision is not None and user_id is not None:
            stored = await self.effects.write(Effects(router, request, decision, user_id, now))
            if stored:
                self.counters["decided-in-memory"] += 1
                return decision
        self.counters["decided-by-database"] += 1
        result: Decision = await self._call(self.app.authenticate, router, request, now)
        return result

    def _after(
        self,
        router: RouterInfo,
        request: AccessRequest,
        decision: Decision,
        user_id: int | None,
        now: dt.datetime,
    ) -> None:
        """What a decision leaves to write after the reply: its log row, the last-seen."""
        if decision.accept and user_id is not None:
            self.seen[user_id] = now
        item = log_item(router, request, decision, now)
        if item is not None:
            self.decisions.submit(item).add_done_callback(self._logged)

    def refused(self, router: RouterInfo, request: AccessRequest, decision: Decision) -> None:
        """Log a refusal no decision made (EAP: no method allowed, a refused certificate)."""
        self._after(router, request, decision, None, utcnow())

    def _logged(self, future: Future[None]) -> None:
        if future.exception() is not None:
            self.counters["unwritten-log-rows"] += 1
            log.error("could not write a decision's log row: %s", future.exception())

    async def _account(
        self, router: RouterInfo, pkt: Packet, data: bytes, source: str
    ) -> bytes | None:
        # RFC 2866 3: the Request Authenticator of an Accounting-Request proves the secret.
        if not verify_request_authenticator(data, router.secret):
            self._drop(router, Drop.WRONG_REQUEST_AUTHENTICATOR, pkt, source)
            return None
        record = requests.accounting_record(self.dictionary, pkt, source)
        if record is None:
            raise DecodeError("Acct-Status-Type missing or unknown", offset=20)
        # RFC 2866 2: answered only once the writer has committed the record.
        await self.writer.write((router, record, utcnow()))
        self.count("accounting-requests", router.id)
        return self._encode(pkt.reply(Code.ACCOUNTING_RESPONSE, ()), router.secret, pkt)

    def _must_sign(self, router: RouterInfo) -> bool:
        """Whether this router's Access-Requests must carry a Message-Authenticator now."""
        learned = self._signed.get(router.id)
        if learned is not None and not self._holds(learned, router):
            del self._signed[router.id]
            learned = None
        return router.must_sign or learned is not None

    def _holds(self, learned: _Learned, router: RouterInfo) -> bool:
        """Whether what this server learned still stands beside the router as read now: not
        once its row is another (what the row says holds), nor once the snapshot was checked
        after the database was told (it has the row as told, or as an operator set it since:
        even back to what it was, which leaves the stamp as it was)."""
        if learned.router != router:
            return False
        checked = self.routers.checked
        return learned.told is None or checked is None or checked < learned.told

    def _learn(self, router: RouterInfo) -> None:
        """An `auto` router signed an Access-Request (FreeRADIUS 3.2.5's `auto`): from now on
        it must. Strict here at once; the database is told in a worker, once."""
        learned = self._signed[router.id] = _Learned(router)
        self._spawn(self._note_signed(learned))

    async def _note_signed(self, learned: _Learned) -> None:
        router = learned.router
        try:
            noted = await self._call(self.app.note_signed, router.id, utcnow())
        except Exception:
            if self._signed.get(router.id) is learned:
                del self._signed[router.id]  # the next signed request tries again
            log.exception("could not note that router %s sends Message-Authenticator", router.name)
            return
        learned.told = asyncio.get_running_loop().time()
        if noted:
            log.info(
                "router %s sent a Message-Authenticator: from now on it must"
                " (require-message-authenticator=auto)",
                router.name,
            )

    def _drop(self, router: RouterInfo, drop: Drop, pkt: Packet, source: str) -> None:
        """Count a dropped request, and log it unless its router and reason were logged less
        than a minute ago (the next entry then says how many were not)."""
        self.count(drop.counter, router.id)
        request = requests.access_request(self.dictionary, pkt, source)
        failure = Failure(router, drop, request.username, request.context, utcnow())
        unwritten = self.failures.note(failure, asyncio.get_running_loop().time())
        if unwritten is None:
            return
        kind = pkt.code.name.replace("_", "-").title()  # Access-Request, Status-Server, ...
        log.warning("dropped %s from %s: %s", kind, source, failure.describe(unwritten))
        self._spawn(self._write_failures([(failure, unwritten)]))

    async def _write_failures(self, failures: list[tuple[Failure, int]]) -> None:
        try:
            await self._call(self.app.log_failures, failures)
        except Exception:
            log.exception("could not write %d dropped requests to the log", len(failures))

    @staticmethod
    def _encode(reply: Packet, secret: bytes, request: Packet, *, sign: bool = False) -> bytes:
        # https://www.rfc-editor.org/rfc/rfc2865#section-5.33: every Proxy-State of the
        # request goes back in the reply, unmodified and in order.
        echoed = Packet(
            reply.code,
            reply.identifier,
            reply.authenticator,
            (*reply.attributes, *requests.proxy_state(request)),
        )
        return encode(
            echoed,
            secret,
            request_authenticator=request.authenticator,
            message_authenticator=sign,
            salt=os.urandom,
            request_code=request.code,  # RFC 5997 3: signs the reply to a Status-Server
        )

    async def drain(self, timeout: float = 10.0) -> None:
        """Let the requests already received finish and send their answers (on shutdown)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def close(self) -> None:
        """Store the accounting records still queued, then stop the workers."""
        self.writer.close()
        self.effects.close()
        self.decisions.close()
        self.pool.shutdown(wait=True)


def _since(unwritten: int) -> str:
    """What a log line adds about the like drops it stood for since the one before."""
    return f" ({unwritten} more since the last such entry)" if unwritten else ""


def _unsigned(router: RouterInfo, pkt: Packet, *, must_sign: bool) -> Drop | None:
    """Why a request without a Message-Authenticator is dropped; None: it is answered."""
    if pkt.code is Code.STATUS_SERVER:
        # https://www.rfc-editor.org/rfc/rfc5997#section-3: Status-Server MUST carry one.
        return Drop.STATUS_SERVER
    if pkt.code is not Code.ACCESS_REQUEST:
        return None  # RFC 2866 3, RFC 5176 3.3: the Request Authenticator signs the packet
    if "EAP-Message" in pkt:
        return Drop.EAP_MESSAGE  # https://www.rfc-editor.org/rfc/rfc3579#section-3.2
    # The BlastRADIUS defence (CVE-2024-3596): the router's require-message-authenticator.
    if must_sign:
        return Drop.NO_MESSAGE_AUTHENTICATOR
    # Under `auto`, as FreeRADIUS 3.2.5's limit_proxy_state: the forged reply's MD5 collision
    # travels in a Proxy-State the reply echoes, and a router that is no proxy sends none.
    auto = router.require_message_authenticator is Requirement.AUTO
    return Drop.PROXY_STATE if auto and "Proxy-State" in pkt else None


@dataclass(slots=True)
class _Learned:
    """An `auto` router seen signing, as it was read then; `told`: when the database had it
    (the loop's clock; None while it is being told)."""

    router: RouterInfo
    told: float | None = None


class RadiusProtocol(asyncio.DatagramProtocol):
    """One UDP port of the server."""

    def __init__(self, server: RadiusServer, *, accounting: bool) -> None:
        self.server = server
        self.accounting = accounting
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A datagram endpoint's transport: before Python 3.12 the selector loop's does not
        # derive from asyncio.DatagramTransport, though it has its methods (sendto).
        self.transport = cast("asyncio.DatagramTransport", transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.transport is not None:
            self.server.submit(self.transport, data, addr, self.accounting)

    def refuse(self) -> None:
        """Take no more requests (the server stops): what arrives from now is left unread,
        or dropped where the loop's transport cannot pause; the answers to what was taken
        still go out through the transport each request holds."""
        transport, self.transport = self.transport, None
        if transport is not None:
            with contextlib.suppress(AttributeError, NotImplementedError, RuntimeError):
                transport.pause_reading()  # type: ignore[attr-defined]
