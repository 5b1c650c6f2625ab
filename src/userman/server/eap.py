"""EAP over RADIUS on the server's loop (RFC 3579): Access-Requests with EAP-Message.

The conversations (eap/conversation.py) live in this process's memory, by router and State
(RFC 2865 5.24), bounded (eap/conversations.py: when full, a new one is refused and its
request dropped). Each Access-Challenge carries the EAP Request, the State, a Session-Timeout
hint (RFC 3579 2.6.1) and a Message-Authenticator (RFC 3579 3.2). A request whose State names
no conversation of its router (unknown, or idle too long) gets an Access-Reject with
EAP-Failure; a Response that answers no outstanding Request is dropped (RFC 3748 4.1); a copy
of the Response last answered gets the same answer (RFC 5080 2.2.2 covers an identical
Access-Request before this). The credentials a method proves are decided by the server's one
decision path (endpoint.py `decision`), as a PAP request is: the same rules, logs and usage.
With `serve --workers N`, a router's requests from one source port reach one worker
(server/workers.py), so a conversation stays in the process that holds it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from userman.core.authorize import AccessRequest, AuthMethod, Decision, RejectReason
from userman.eap.conversation import Accept, Challenge, Conversation, Decide, Output, Reject
from userman.eap.conversations import Conversations
from userman.eap.method import METHOD_ATTRIBUTES, verdict
from userman.eap.mschapv2 import MschapV2
from userman.eap.packet import Code as EapCode
from userman.eap.packet import EapDecodeError, EapPacket, Type, decode
from userman.eap.radius import join, split
from userman.radius.errors import DecodeError
from userman.radius.packet import Code, Packet, encode_attribute, encode_response, make_avp
from userman.server import requests

if TYPE_CHECKING:
    from userman.server.endpoint import RadiusServer
    from userman.services import RouterInfo

__all__ = ["CHALLENGE_TIMEOUT", "EapServer"]

CHALLENGE_TIMEOUT = 30  # seconds: the Session-Timeout hint of an Access-Challenge
METHODS = {Type.MSCHAPV2: MschapV2}
TYPES = {AuthMethod.EAP_MSCHAP2: Type.MSCHAPV2}  # the EAP methods implemented, by v7 name
STATE_SIZE = 16


@dataclass(slots=True)
class _Held:
    """A conversation, and the decision on its credentials once made."""

    conversation: Conversation
    request: AccessRequest | None = None
    decision: Decision | None = None


class EapServer:
    """The EAP conversations of one RadiusServer (see the module)."""

    def __init__(self, server: RadiusServer, conversations: Conversations[_Held] | None = None):
        self.server = server
        self.live: Conversations[_Held] = conversations or Conversations()

    def answer(
        self, router: RouterInfo, pkt: Packet, source: str
    ) -> bytes | Coroutine[Any, Any, bytes] | None:
        now = asyncio.get_running_loop().time()
        data = join(pkt.get_all("EAP-Message"))
        state = pkt.get("State")
        if not isinstance(state, bytes):
            return self._begin(router, pkt, source, data, now)
        key = (router.id, state)
        held = self.live.get(key, now)
        try:
            eap = decode(data)
        except EapDecodeError as error:
            raise DecodeError(f"EAP-Message: {error}", offset=20) from None
        if held is None:
            # RFC 3579 2.6.1 / FreeRADIUS: no such conversation (ended, idle, another node's).
            self.server.count("eap-unknown-state", router.id)
            failure = EapPacket(EapCode.FAILURE, eap.identifier)
            return self._final(router, pkt, source, None, Reject(failure))
        return self._continue(router, pkt, source, key, held, data, eap)

    def _begin(
        self, router: RouterInfo, pkt: Packet, source: str, data: bytes, now: float
    ) -> bytes | Coroutine[Any, Any, bytes] | None:
        held = _Held(Conversation(METHODS, self._allowed(router), os.urandom))
        state = os.urandom(STATE_SIZE)
        if data:  # else an EAP-Start (RFC 3579 2.1): the Request/Identity
            try:
                eap = decode(data)
            except EapDecodeError as error:
                raise DecodeError(f"EAP-Message: {error}", offset=20) from None
            if eap.type != Type.IDENTITY:
                failure = EapPacket(EapCode.FAILURE, eap.identifier)
                return self._final(router, pkt, source, None, Reject(failure))
            # The Identity Response answers the Request/Identity the router sent itself.
            held.conversation.pending = dataclasses.replace(
                held.conversation.pending, identifier=eap.identifier
            )
        if not self.live.add((router.id, state), held, now):
            self.server.count("eap-refused", router.id)
            return None  # full: dropped; the router tries again later
        if not data:
            return self._challenge(router, pkt, state, held.conversation.start())
        return self._continue(router, pkt, source, (router.id, state), held, data, eap)

    def _allowed(self, router: RouterInfo) -> Any:
        app = self.server.app

        def allowed(identity: str) -> list[Type]:
            methods = app.outer_auths(router, identity)
            if methods is None:
                return list(METHODS)
            return [TYPES[m] for m in methods if m in TYPES]

        return allowed

    def _continue(  # noqa: PLR0917
        self,
        router: RouterInfo,
        pkt: Packet,
        source: str,
        key: tuple[int, bytes],
        held: _Held,
        data: bytes,
        eap: EapPacket,
    ) -> bytes | Coroutine[Any, Any, bytes] | None:
        out = held.conversation.receive(data, eap)
        if out is None:
            self.server.count("eap-discarded", router.id)
            return None
        if isinstance(out, Decide):
            return self._decide(router, pkt, source, key, held, out)
        return self._reply(router, pkt, source, key, held, out)

    def _decide(  # noqa: PLR0917
        self,
        router: RouterInfo,
        pkt: Packet,
        source: str,
        key: tuple[int, bytes],
        held: _Held,
        out: Decide,
    ) -> bytes | Coroutine[Any, Any, bytes] | None:
        radius = requests.access_request(self.server.dictionary, pkt, source)
        request = AccessRequest(out.username, out.credentials, radius.context, eap=out.method)
        held.request = request
        decided = self.server.decision(router, request)
        if isinstance(decided, Decision):
            return self._decided(router, pkt, source, key, held, decided)
        return self._decided_later(router, pkt, source, key, held, decided)

    async def _decided_later(  # noqa: PLR0917
        self,
        router: RouterInfo,
        pkt: Packet,
        source: str,
        key: tuple[int, bytes],
        held: _Held,
        decided: Coroutine[Any, Any, Decision],
    ) -> bytes:
        decision = await decided
        reply = self._decided(router, pkt, source, key, held, decision)
        assert isinstance(reply, bytes)
        return reply

    def _decided(  # noqa: PLR0917
        self,
        router: RouterInfo,
        pkt: Packet,
        source: str,
        key: tuple[int, bytes],
        held: _Held,
        decision: Decision,
    ) -> bytes | None:
        held.decision = decision
        out = held.conversation.decided(verdict(decision))
        return self._reply(router, pkt, source, key, held, out)

    def _reply(  # noqa: PLR0917
        self,
        router: RouterInfo,
        pkt: Packet,
        source: str,
        key: tuple[int, bytes],
        held: _Held,
        out: Output,
    ) -> bytes | None:
        if isinstance(out, Challenge):
            return self._challenge(router, pkt, key[1], out)
        assert not isinstance(out, Decide)
        self.live.remove(key)
        return self._final(router, pkt, source, held, out)

    def _challenge(self, router: RouterInfo, pkt: Packet, state: bytes, out: Challenge) -> bytes:
        """An Access-Challenge: the EAP Request, State, Session-Timeout, Message-Authenticator."""
        chunks = [self._chunk("EAP-Message", part) for part in split(out.request.encode())]
        chunks.append(self._chunk("State", state))
        chunks.append(self.server.replies.chunk("Session-Timeout", CHALLENGE_TIMEOUT))
        chunks.extend(encode_attribute(avp) for avp in requests.proxy_state(pkt))
        self.server.count("access-challenges", router.id)
        return encode_response(
            Code.ACCESS_CHALLENGE,
            pkt.identifier,
            pkt.authenticator,
            chunks,
            router.secret,
            message_authenticator=True,
        )

    def _chunk(self, name: str, value: bytes) -> bytes:
        """An attribute whose value is this reply's own (not kept, as Replies would)."""
        return encode_attribute(make_avp(self.server.dictionary, name, value))

    def _final(
        self, router: RouterInfo, pkt: Packet, source: str, held: _Held | None, out: Output
    ) -> bytes:
        """The Access-Accept (EAP-Success, the MSK as MPPE keys) or -Reject (EAP-Failure)."""
        decision = None if held is None else held.decision
        request = None if held is None else held.request
        if request is None:
            request = requests.access_request(self.server.dictionary, pkt, source)
        made = decision.reply if decision is not None else ()
        reply = tuple(pair for pair in made if pair[0] not in METHOD_ATTRIBUTES)
        if isinstance(out, Accept) and decision is not None and decision.accept:
            half = len(out.msk) // 2
            keys = (("MS-MPPE-Recv-Key", out.msk[:half]), ("MS-MPPE-Send-Key", out.msk[half:]))
            final = dataclasses.replace(decision, reply=(*reply, *keys))
            eap = out.success
        else:
            assert isinstance(out, Reject | Accept)
            answered = out.success if isinstance(out, Accept) else out.failure
            eap = EapPacket(EapCode.FAILURE, answered.identifier)
            if decision is not None and not decision.accept:
                final = decision
            elif isinstance(out, Reject) and out.no_method:
                final = Decision(False, RejectReason.METHOD_NOT_ALLOWED)
            else:
                final = Decision(False, RejectReason.EAP_FAILED)
        extra = [self._chunk("EAP-Message", eap.encode())]
        return self.server.grant(router, pkt, request, final, extra)
