"""One EAP conversation, the authenticator's side (RFC 3748 2 and 4): a table-driven machine.

Identity (RFC 3748 5.1) -> the first method the peer's identity may use is proposed -> a Legacy
Nak (5.3.1) moves to another the peer asks for and is allowed, or ends in Failure -> the method
(eap/method.py) runs, its credentials decided by the caller (`Decide` -> `decided`) -> Success
or Failure. A Response must answer the Request outstanding (its Identifier, RFC 3748 4.1); a
copy of the Response last answered gets the same answer again (RFC 3579 2, RFC 5080 2.2.2:
retransmission), anything else is discarded. No I/O, no clock; randomness is a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from userman.core.authorize import AuthMethod, Credentials, InnerAuth, RejectReason
from userman.eap.method import Finish, Method, MethodFactory, Send, Step, Verdict, Verify
from userman.eap.packet import Code, EapPacket, Type, nak_types

__all__ = ["Accept", "Challenge", "Conversation", "Decide", "Output", "Phase", "Reject"]


@dataclass(frozen=True, slots=True)
class Challenge:
    """Send this EAP Request in an Access-Challenge."""

    request: EapPacket


@dataclass(frozen=True, slots=True)
class Decide:
    """Decide these credentials (as `method`'s), then call `decided`."""

    username: str
    credentials: Credentials
    method: AuthMethod
    inner: InnerAuth | None = None  # the method inside the tunnel, for TTLS and PEAP


@dataclass(frozen=True, slots=True)
class Accept:
    """Send EAP-Success in an Access-Accept, with the MSK as MPPE keys."""

    success: EapPacket
    msk: bytes


@dataclass(frozen=True, slots=True)
class Reject:
    """Send EAP-Failure in an Access-Reject; `no_method`: no method both sides would use;
    `reason`: why, when the method said (else the decision's, or EAP_FAILED)."""

    failure: EapPacket
    no_method: bool = False
    reason: RejectReason | None = None


Output = Challenge | Decide | Accept | Reject


class Phase(Enum):
    IDENTITY = "identity"  # Request/Identity sent
    PROPOSED = "proposed"  # a method's first Request sent: a Nak may come
    METHOD = "method"  # the method runs
    DECIDING = "deciding"  # the caller decides the method's credentials
    DONE = "done"  # Success or Failure sent


class Conversation:
    """See the module. `methods`: the implemented methods by Type; `allowed(identity)`: the
    Types that identity may use, best first (a user's group's `outer-auths`); `asked`: the
    Identifier of the Request/Identity the router sent itself."""

    def __init__(
        self,
        methods: Mapping[Type, MethodFactory],
        allowed: Callable[[str], Sequence[Type]],
        random: Callable[[int], bytes],
        *,
        asked: int | None = None,
    ) -> None:
        self.methods = methods
        self.allowed = allowed
        self.random = random
        self.phase = Phase.IDENTITY
        self.identity = ""
        self.method: Method | None = None
        self.tried: set[Type] = set()
        # RFC 3579 2.1: the router may ask for the identity itself (`asked`: that Request's
        # Identifier), or leave it to the server (an EAP-Start: `start`).
        first = random(1)[0] if asked is None else asked
        self.pending = EapPacket(Code.REQUEST, first, Type.IDENTITY)
        self.answered: tuple[bytes, Output] | None = None  # the last Response, and its answer
        self.last = b""  # the Response being answered

    def start(self) -> Challenge:
        """The Request/Identity, for an EAP-Start (RFC 3579 2.1: an empty EAP-Message)."""
        return Challenge(self.pending)

    def receive(self, response: bytes, pkt: EapPacket) -> Output | None:
        """The answer to the peer's Response `pkt` (its octets `response`); None: discard."""
        if self.answered is not None and self.answered[0] == response:
            return self.answered[1]  # a retransmission: the answer already given
        if pkt.code is not Code.RESPONSE or pkt.identifier != self.pending.identifier:
            return None  # RFC 3748 4.1: not the Response to the Request outstanding
        handle = _TABLE.get((self.phase, _kind(pkt, self.method)))
        if handle is None:
            return None
        self.last = response
        out = handle(self, pkt)
        if not isinstance(out, Decide):  # a Decide's answer is `decided`'s
            self.answered = (response, out)
        return out

    def decided(self, verdict: Verdict) -> Output:
        """The answer once `Decide`'s credentials are decided."""
        assert self.method is not None
        assert self.phase is Phase.DECIDING
        self.phase = Phase.METHOD
        out = self._step(self.method.decided(verdict))
        self.answered = (self.last, out)
        return out

    # --- the transitions ------------------------------------------------------------------

    def _identity(self, pkt: EapPacket) -> Output:
        self.identity = pkt.data.decode("utf-8", "surrogateescape")
        wanted = [t for t in self.allowed(self.identity) if t in self.methods]
        # A peer whose group allows none of ours is still offered one: the decision then
        # refuses it with its reason ("auth method not allowed"), logged like any refusal.
        return self._propose(wanted[0] if wanted else next(iter(self.methods)))

    def _propose(self, kind: Type) -> Output:
        self.tried.add(kind)
        self.method = self.methods[kind](self.identity, self.random)
        self.phase = Phase.PROPOSED
        return self._request(kind, self.method.start())

    def _nak(self, pkt: EapPacket) -> Output:
        # RFC 3748 5.3.1: the peer names the types it would use instead.
        allowed = set(self.allowed(self.identity))
        for number in nak_types(pkt):
            kind = next((t for t in self.methods if t == number), None)
            if kind is not None and kind in allowed and kind not in self.tried:
                return self._propose(kind)
        return self._end(Reject(self._final(Code.FAILURE), no_method=True))

    def _method(self, pkt: EapPacket) -> Output:
        assert self.method is not None
        self.phase = Phase.METHOD
        return self._step(self.method.receive(pkt.data))

    def _step(self, step: Step) -> Output:
        assert self.method is not None
        if isinstance(step, Send):
            return self._request(self.method.type, step.data)
        if isinstance(step, Verify):
            self.phase = Phase.DECIDING
            return Decide(step.username, step.credentials, self.method.auth, step.inner)
        return self._finish(step)

    def _finish(self, step: Finish) -> Output:
        if step.accept:
            return self._end(Accept(self._final(Code.SUCCESS), step.msk))
        return self._end(Reject(self._final(Code.FAILURE), reason=step.reason))

    def _end(self, out: Output) -> Output:
        self.phase = Phase.DONE
        return out

    def _request(self, kind: Type, data: bytes) -> Challenge:
        self.pending = EapPacket(Code.REQUEST, (self.pending.identifier + 1) % 256, kind, data)
        return Challenge(self.pending)

    def _final(self, code: Code) -> EapPacket:
        # RFC 3748 4.2: Success and Failure carry the Identifier of the Response they answer.
        return EapPacket(code, self.pending.identifier)


def _kind(pkt: EapPacket, method: Method | None) -> str:
    """What a Response is, for the table: identity, nak, the method's own, or other."""
    if pkt.type == Type.IDENTITY:
        return "identity"
    if pkt.type == Type.NAK:
        return "nak"
    if method is not None and pkt.type == method.type:
        return "method"
    return "other"


# (phase, kind of Response) -> the transition; any pair not here is discarded.
_TABLE: dict[tuple[Phase, str], Callable[[Conversation, EapPacket], Output]] = {
    (Phase.IDENTITY, "identity"): Conversation._identity,
    (Phase.PROPOSED, "nak"): Conversation._nak,
    (Phase.PROPOSED, "method"): Conversation._method,
    (Phase.METHOD, "method"): Conversation._method,
}
