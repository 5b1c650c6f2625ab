"""EAP over RADIUS on the server's loop (RFC 3579): Access-Requests with EAP-Message.

The conversations (eap/conversation.py) live in this process's memory, by router and State
(RFC 2865 5.24), bounded (eap/conversations.py: when full, a new one is refused and its
request dropped). Each Access-Challenge carries the EAP Request, the State, a Session-Timeout
hint (RFC 3579 2) and a Message-Authenticator (RFC 3579 3.2). A request whose State names
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
import datetime as dt
import functools
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from userman.core.authorize import AccessRequest, AuthMethod, Decision, RejectReason
from userman.eap.conversation import Accept, Challenge, Conversation, Decide, Reject
from userman.eap.conversations import Conversations
from userman.eap.eaptls import EapTls
from userman.eap.fragments import fragment_size
from userman.eap.method import METHOD_ATTRIBUTES, MethodFactory, verdict
from userman.eap.mschapv2 import MschapV2
from userman.eap.packet import Code as EapCode
from userman.eap.packet import EapDecodeError, EapPacket, Type, decode
from userman.eap.peap import Peap
from userman.eap.radius import join, split
from userman.eap.ttls import Ttls
from userman.eap.tunnel import TlsSetup
from userman.radius.errors import DecodeError
from userman.radius.packet import Code, Packet, encode_attribute, encode_response, make_avp
from userman.server import requests
from userman.server.tlscontexts import TlsContexts

if TYPE_CHECKING:
    from userman.server.endpoint import RadiusServer
    from userman.services import RouterInfo

__all__ = ["CHALLENGE_TIMEOUT", "EapServer"]

CHALLENGE_TIMEOUT = 30  # seconds: the Session-Timeout hint of an Access-Challenge
# The EAP methods implemented, by v7 name, in the order they are proposed to an identity
# whose group allows several (the peer may Nak to another it is allowed).
TYPES = {
    AuthMethod.EAP_PEAP: Type.PEAP,
    AuthMethod.EAP_TTLS: Type.TTLS,
    AuthMethod.EAP_TLS: Type.TLS,
    AuthMethod.EAP_MSCHAP2: Type.MSCHAPV2,
}
STATE_SIZE = 16


@dataclass(slots=True)
class _Held:
    """A conversation, and the decision on its credentials once made."""

    conversation: Conversation
    request: AccessRequest | None = None
    decision: Decision | None = None


@dataclass(frozen=True, slots=True)
class _Exchange:
    """One Access-Request of a conversation: where it came from, and the conversation's key."""

    router: RouterInfo
    pkt: Packet
    source: str
    key: tuple[int, bytes]  # (router id, State)


Reply = bytes | Coroutine[Any, Any, bytes | None] | None  # None: dropped


class EapServer:
    """The EAP conversations of one RadiusServer (see the module)."""

    def __init__(self, server: RadiusServer, conversations: Conversations[_Held] | None = None):
        self.server = server
        self.live: Conversations[_Held] = conversations or Conversations()
        self.contexts = TlsContexts()  # kept current by server/tlscontexts.py's watch

    def answer(self, router: RouterInfo, pkt: Packet, source: str) -> Reply:
        """The reply to an Access-Request with EAP-Message; None: dropped."""
        now = asyncio.get_running_loop().time()
        data = join(pkt.get_all("EAP-Message"))
        state = pkt.get("State")
        if not isinstance(state, bytes):
            return self._begin(_Exchange(router, pkt, source, (router.id, b"")), data, now)
        at = _Exchange(router, pkt, source, (router.id, state))
        held = self.live.get(at.key, now)
        eap = _decode(data)
        if held is None:
            # No such conversation (ended, idle too long, or another node's or worker's).
            self.server.count("eap-unknown-state", router.id)
            return self._final(at, None, Reject(EapPacket(EapCode.FAILURE, eap.identifier)))
        return self._continue(at, held, data, eap)

    def _begin(self, at: _Exchange, data: bytes, now: float) -> Reply:
        """A request without State: an EAP-Start (RFC 3579 2.1: no octets), or the peer's
        Identity Response to the Request/Identity the router sent itself."""
        eap = _decode(data) if data else None
        if eap is not None and eap.type != Type.IDENTITY:
            return self._final(at, None, Reject(EapPacket(EapCode.FAILURE, eap.identifier)))
        asked = None if eap is None else eap.identifier
        methods = self._methods(at.pkt)
        allowed = self._allowed(at.router)
        conversation = Conversation(methods, allowed, os.urandom, asked=asked)
        held = _Held(conversation)
        at = dataclasses.replace(at, key=(at.router.id, os.urandom(STATE_SIZE)))
        if not self.live.add(at.key, held, now):
            self.server.count("eap-refused", at.router.id)
            return None  # full: dropped; the router tries again later
        if eap is None:
            return self._challenge(at, conversation.start())
        return self._continue(at, held, data, eap)

    def _methods(self, pkt: Packet) -> dict[Type, MethodFactory]:
        """The methods a new conversation may use: the TLS ones with the contexts in effect
        now (none without a certificate), their fragments of the eap-fragment-size setting fit
        to the router's Framed-MTU."""
        contexts = self.contexts
        mtu = pkt.get("Framed-MTU")
        size = fragment_size(contexts.fragment_size, mtu if isinstance(mtu, int) else None)
        now = dt.datetime.now(dt.UTC)
        methods: dict[Type, MethodFactory] = {}
        if contexts.peap is not None:
            methods[Type.PEAP] = functools.partial(Peap, TlsSetup(contexts.peap, now, size))
        if contexts.ttls is not None:
            methods[Type.TTLS] = functools.partial(Ttls, TlsSetup(contexts.ttls, now, size))
        if contexts.tls is not None:
            methods[Type.TLS] = functools.partial(EapTls, TlsSetup(contexts.tls, now, size))
        methods[Type.MSCHAPV2] = MschapV2
        return methods

    def _allowed(self, router: RouterInfo) -> Callable[[str], list[Type]]:
        """The EAP methods an identity may use: those its group's outer-auths name."""
        app = self.server.app

        def allowed(identity: str) -> list[Type]:
            methods = app.outer_auths(router, identity)
            return [kind for name, kind in TYPES.items() if methods is None or name in methods]

        return allowed

    def _continue(self, at: _Exchange, held: _Held, data: bytes, eap: EapPacket) -> Reply:
        out = held.conversation.receive(data, eap)
        if out is None:
            self.server.count("eap-discarded", at.router.id)
            return None
        if isinstance(out, Decide):
            return self._decide(at, held, out)
        return self._reply(at, held, out)

    def _decide(self, at: _Exchange, held: _Held, out: Decide) -> Reply:
        """Decide the method's credentials by the server's one decision path."""
        radius = requests.access_request(self.server.dictionary, at.pkt, at.source)
        request = AccessRequest(
            out.username, out.credentials, radius.context, eap=out.method, inner=out.inner
        )
        held.request = request
        decided = self.server.decision(at.router, request)
        if isinstance(decided, Decision):
            return self._decided(at, held, decided)
        return self._decided_later(at, held, decided)

    async def _decided_later(
        self, at: _Exchange, held: _Held, decided: Coroutine[Any, Any, Decision]
    ) -> bytes | None:
        reply = self._decided(at, held, await decided)
        return await reply if isinstance(reply, Coroutine) else reply

    def _decided(self, at: _Exchange, held: _Held, decision: Decision) -> Reply:
        held.decision = decision
        out = held.conversation.decided(verdict(decision))
        if isinstance(out, Decide):  # a method with more to prove (inner credentials)
            return self._decide(at, held, out)
        return self._reply(at, held, out)

    def _reply(self, at: _Exchange, held: _Held, out: Challenge | Accept | Reject) -> bytes:
        if isinstance(out, Challenge):
            return self._challenge(at, out)
        self.live.remove(at.key)
        return self._final(at, held, out)

    def _challenge(self, at: _Exchange, out: Challenge) -> bytes:
        """An Access-Challenge: the EAP Request, State, Session-Timeout, Message-Authenticator."""
        chunks = [self._chunk("EAP-Message", part) for part in split(out.request.encode())]
        chunks.append(self._chunk("State", at.key[1]))
        chunks.append(self.server.replies.chunk("Session-Timeout", CHALLENGE_TIMEOUT))
        # https://www.rfc-editor.org/rfc/rfc2865#section-5.33: Proxy-State echoed, in order.
        chunks.extend(encode_attribute(avp) for avp in requests.proxy_state(at.pkt))
        self.server.count("access-challenges", at.router.id)
        pkt = at.pkt
        return encode_response(
            Code.ACCESS_CHALLENGE,
            pkt.identifier,
            pkt.authenticator,
            chunks,
            at.router.secret,
            message_authenticator=True,
        )

    def _chunk(self, name: str, value: bytes) -> bytes:
        """An attribute whose value is this reply's own (not kept, as Replies would)."""
        return encode_attribute(make_avp(self.server.dictionary, name, value))

    def _final(self, at: _Exchange, held: _Held | None, out: Accept | Reject) -> bytes:
        """The Access-Accept (EAP-Success, the MSK as MPPE keys) or -Reject (EAP-Failure),
        by the server's `grant`, as any decision's reply."""
        decision = None if held is None else held.decision
        request = None if held is None else held.request
        if request is None:
            request = requests.access_request(self.server.dictionary, at.pkt, at.source)
        if isinstance(out, Accept) and decision is not None and decision.accept:
            kept = tuple(pair for pair in decision.reply if pair[0] not in METHOD_ATTRIBUTES)
            # RFC 2548 2.4.2-2.4.3 as RFC 3579 uses them: the MSK, receive key first.
            half = len(out.msk) // 2
            keys: tuple[tuple[str, object], ...] = (
                ("MS-MPPE-Recv-Key", out.msk[:half]),
                ("MS-MPPE-Send-Key", out.msk[half:]),
            )
            if at.pkt.get("User-Name") != request.username.encode("utf-8", "surrogateescape"):
                # An anonymous outer identity (PEAP, TTLS): RFC 2865 5.1, the router uses
                # this User-Name in its accounting; Class names the user in any case.
                keys = (("User-Name", request.username), *keys)
            final = dataclasses.replace(decision, reply=(*kept, *keys))
            eap = out.success
        else:
            answered = out.success if isinstance(out, Accept) else out.failure
            eap = EapPacket(EapCode.FAILURE, answered.identifier)
            if decision is not None and not decision.accept:
                final = decision
            elif isinstance(out, Reject) and (out.no_method or out.reason is not None):
                # No method the identity may use, or the method's own refusal (a refused
                # certificate): logged as the decision's would be.
                final = Decision(False, out.reason or RejectReason.METHOD_NOT_ALLOWED)
                self.server.refused(at.router, request, final)
            else:
                final = Decision(False, RejectReason.EAP_FAILED)
        extra = [self._chunk("EAP-Message", eap.encode())]
        return self.server.grant(at.router, at.pkt, request, final, extra)


def _decode(data: bytes) -> EapPacket:
    """The EAP packet of the EAP-Messages; a bad one drops the request as malformed."""
    try:
        return decode(data)
    except EapDecodeError as error:
        raise DecodeError(f"EAP-Message: {error}", offset=20) from None
