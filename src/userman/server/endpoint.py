"""The UDP endpoints: datagram in, services in a worker thread, reply out; nothing blocks the loop.

One `RadiusServer` serves the authentication and the accounting port. A datagram from an
address that is no router's, or one that does not decode or authenticate, is dropped and
counted. Accounting-Response is sent only after the record is committed (RFC 2866 2).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from userman.radius.dictionary import Dictionary
from userman.radius.errors import DecodeError
from userman.radius.packet import (
    Code,
    Packet,
    decode,
    encode,
    verify_message_authenticator,
    verify_request_authenticator,
)
from userman.server import requests
from userman.services import RouterInfo, Userman

__all__ = ["RadiusProtocol", "RadiusServer"]

log = logging.getLogger("userman.server")

# Which request codes each port answers (RFC 2865 3, RFC 2866 3, RFC 5997 2).
AUTH_CODES = frozenset({Code.ACCESS_REQUEST, Code.STATUS_SERVER})
ACCT_CODES = frozenset({Code.ACCOUNTING_REQUEST, Code.STATUS_SERVER})


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class RadiusServer:
    """The request handling shared by both ports, with its counters."""

    def __init__(self, app: Userman, dictionary: Dictionary, workers: int = 8) -> None:
        self.app = app
        self.dictionary = dictionary
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="userman-db")
        self.counters: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()

    async def _call(self, func: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.pool, func, *args)

    def submit(
        self, transport: asyncio.DatagramTransport, data: bytes, addr: Any, accounting: bool
    ) -> None:
        task = asyncio.ensure_future(self.handle(transport, data, addr, accounting))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def handle(
        self, transport: asyncio.DatagramTransport, data: bytes, addr: Any, accounting: bool
    ) -> None:
        source = str(addr[0])
        router: RouterInfo | None = await self._call(self.app.find_router, source)
        if router is None or router.disabled:
            self.counters["unknown-requests"] += 1
            log.warning("dropped a request from %s: no router with that address", source)
            return
        try:
            reply = await self._answer(router, data, source, accounting)
        except DecodeError as error:
            self.counters["broken-requests"] += 1
            log.warning("dropped a malformed request from router %s: %s", router.name, error)
            return
        except Exception:
            self.counters["failed-requests"] += 1
            log.exception("could not answer a request from router %s", router.name)
            return
        if reply is not None:
            transport.sendto(reply, addr)

    async def _answer(
        self, router: RouterInfo, data: bytes, source: str, accounting: bool
    ) -> bytes | None:
        secret = router.secret
        pkt = decode(data, self.dictionary, secret=secret)
        if pkt.code not in (ACCT_CODES if accounting else AUTH_CODES):
            raise DecodeError(f"{pkt.code.name} is not answered on this port", offset=0)
        # RFC 3579 3.2: a wrong Message-Authenticator means a silent discard.
        if verify_message_authenticator(data, secret) is False:
            raise DecodeError("Message-Authenticator does not match", offset=0)
        if pkt.code is Code.STATUS_SERVER:
            # RFC 5997 3: Access-Accept on the auth port, Accounting-Response on the acct port.
            answer = Code.ACCOUNTING_RESPONSE if accounting else Code.ACCESS_ACCEPT
            self.counters["status-server"] += 1
            return self._encode(pkt.reply(answer, ()), secret, pkt, sign=True)
        if pkt.code is Code.ACCOUNTING_REQUEST:
            return await self._account(router, pkt, data, source)
        return await self._authenticate(router, pkt, source)

    async def _authenticate(self, router: RouterInfo, pkt: Packet, source: str) -> bytes:
        request = requests.access_request(self.dictionary, pkt, source)
        decision = await self._call(self.app.authenticate, router, request, utcnow())
        self.counters["accepts" if decision.accept else "rejects"] += 1
        code = Code.ACCESS_ACCEPT if decision.accept else Code.ACCESS_REJECT
        attributes = requests.reply_attributes(self.dictionary, decision, request.username)
        return self._encode(pkt.reply(code, attributes), router.secret, pkt, sign=True)

    async def _account(
        self, router: RouterInfo, pkt: Packet, data: bytes, source: str
    ) -> bytes | None:
        # RFC 2866 3: the Request Authenticator of an Accounting-Request proves the secret.
        if not verify_request_authenticator(data, router.secret):
            raise DecodeError("Accounting-Request authenticator does not match", offset=4)
        record = requests.accounting_record(self.dictionary, pkt, source)
        if record is None:
            raise DecodeError("Acct-Status-Type missing or unknown", offset=20)
        await self._call(self.app.account, router, record, utcnow())
        self.counters["accounting-requests"] += 1
        return self._encode(pkt.reply(Code.ACCOUNTING_RESPONSE, ()), router.secret, pkt)

    @staticmethod
    def _encode(reply: Packet, secret: bytes, request: Packet, *, sign: bool = False) -> bytes:
        return encode(
            reply,
            secret,
            request_authenticator=request.authenticator,
            message_authenticator=sign,
            salt=os.urandom,
        )

    def close(self) -> None:
        self.pool.shutdown(wait=True)


class RadiusProtocol(asyncio.DatagramProtocol):
    """One UDP port of the server."""

    def __init__(self, server: RadiusServer, *, accounting: bool) -> None:
        self.server = server
        self.accounting = accounting
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if self.transport is not None:
            self.server.submit(self.transport, data, addr, self.accounting)
