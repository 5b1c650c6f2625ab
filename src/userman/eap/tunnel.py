"""What EAP-TLS, EAP-TTLS and PEAP share as methods (eap/method.py): the TLS handshake of
eap/tls.py carried in the framing of eap/fragments.py, one TLS message per Request/Response.

`TlsMethod` starts with the S flag, reassembles the peer's fragments (acknowledging each with
an empty message), sends every flight of the server in fragments that each wait for the
peer's acknowledgement (RFC 5216 2.1.5), and on a refused handshake sends the TLS alert,
then fails with the reason (RFC 5216 2.1.3). Once the handshake is done, a subclass takes
over: `_established()` once, then `_tunnel(plaintext)` for each message of the peer after it
(b"": an empty acknowledgement); `_flight()` sends what the session has to send, and `_end`
ends the method. `decided()` is the same for all: the verdict on the method's own credentials
(while its stage is `deciding`) ends the method when refused and goes to `_accepted` when
accepted; an inner EAP-MSCHAPv2 (PEAP, TTLS's inner EAP) gets its own verdict, and its steps
go through the tunnel (`_inner_step`). No I/O: `now` and randomness are parameters; the TLS
context is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from userman.core.authorize import AuthMethod, InnerAuth, RejectReason
from userman.eap.fragments import (
    FRAGMENT_SIZE,
    Fragmenter,
    FragmentError,
    Frame,
    Reassembly,
    encode,
)
from userman.eap.method import Finish, Send, Step, Verdict, Verify
from userman.eap.mschapv2 import MschapV2
from userman.eap.packet import Type
from userman.eap.tls import Failure, HandshakeError, Keys, ServerContext, ServerSession, TLSError
from userman.eap.tls import Method as TlsKind

__all__ = ["FAILURE_REASONS", "TlsMethod", "TlsSetup"]

# A refused handshake's reason, for the log and the Reply-Message.
FAILURE_REASONS = {
    Failure.EXPIRED: RejectReason.CERTIFICATE_EXPIRED,
    Failure.NOT_YET_VALID: RejectReason.CERTIFICATE_EXPIRED,
    Failure.REVOKED: RejectReason.CERTIFICATE_REVOKED,
    Failure.UNKNOWN_CA: RejectReason.CERTIFICATE_UNKNOWN_CA,
    Failure.NO_CERTIFICATE: RejectReason.CERTIFICATE_MISSING,
    Failure.UNVERIFIED: RejectReason.CERTIFICATE_REFUSED,
    Failure.PROTOCOL: RejectReason.TLS_FAILED,
}


@dataclass(frozen=True, slots=True)
class TlsSetup:
    """What a conversation's TLS method is made with: the context (the settings' certificate,
    eap/tls.py), the time of the conversation and the fragment size for its router."""

    context: ServerContext
    now: datetime
    fragment_size: int = FRAGMENT_SIZE


class TlsMethod:
    """The TLS part of a method (see the module); subclasses set `type`, `auth`, `kind`, and
    their stages: the first (`stage`), the last (`over`), and the one in which the method's
    own credentials are with the decision (`deciding`, if it has any)."""

    type: Type
    auth: AuthMethod
    kind: TlsKind
    version = 0  # the version bits of the Flags octet (TTLS and PEAP: 0)
    stage: Enum
    over: Enum  # the method has ended: whatever comes after fails it
    deciding: Enum | None = None
    inner_auth: InnerAuth  # what an inner EAP-MSCHAPv2's credentials came in
    mschap: MschapV2 | None = None  # the inner EAP-MSCHAPv2, once it runs

    def __init__(self, setup: TlsSetup, identity: str, random: Callable[[int], bytes]) -> None:
        self.setup = setup
        self.identity = identity
        self.random = random
        self.session = ServerSession(setup.context, setup.now)
        self._in = Reassembly()
        self._out: Fragmenter | None = None
        self._refused: RejectReason | None = None  # the alert is out: the peer's answer ends it

    def start(self) -> bytes:
        # https://www.rfc-editor.org/rfc/rfc5216#section-2.1.1: EAP-TLS/Start, the S flag.
        return encode(Frame(start=True, version=self.version))

    def receive(self, data: bytes) -> Step:
        try:
            if self._out is not None and self._out.pending:
                self._out.acknowledge(data)
                return Send(self._out.next_fragment())
            message = self._in.feed(data)
        except FragmentError:
            return self._fail(self._refused)
        if message is None:  # more fragments to come: acknowledge this one
            return Send(encode(Frame(version=self.version)))
        if self._refused is not None:
            return self._fail(self._refused)  # the peer's answer to the alert
        if not self.session.handshake_done:
            return self._handshake(message)
        try:
            self.session.receive(message)
        except TLSError:
            return self._fail(None)
        if self.session.closed:
            return self._fail(None)
        return self._tunnel(self.session.read())

    def _handshake(self, message: bytes) -> Step:
        try:
            self.session.receive(message)
        except HandshakeError as error:
            self._refused = FAILURE_REASONS[error.reason]
            alert = self.session.outgoing()
            if not alert:
                return self._fail(self._refused)
            return self._send(alert)
        except TLSError:
            return self._fail(RejectReason.TLS_FAILED)
        if not self.session.handshake_done:
            return self._flight()
        return self._established()

    def _flight(self) -> Send:
        """Send what the TLS session has to send (the next flight, or tunnelled data)."""
        return self._send(self.session.outgoing())

    def _send(self, records: bytes) -> Send:
        self._out = Fragmenter(records, self.setup.fragment_size, self.version)
        return Send(self._out.next_fragment())

    def _fail(self, reason: RejectReason | None) -> Finish:
        return Finish(False, reason=reason)

    def keys(self) -> Keys:
        return self.session.keys(self.kind)

    def _success(self) -> Finish:
        """EAP-Success with the MSK; the TLS session stays resumable (ServerSession.close)."""
        msk = self.keys().msk
        self.session.close()
        return Finish(True, msk)

    def _end(self, accept: bool) -> Finish:
        """The method is over: EAP-Success with the MSK when `accept`, else EAP-Failure."""
        self.stage = self.over
        return self._success() if accept else Finish(False)

    def decided(self, verdict: Verdict) -> Step:
        """The verdict on the last `Verify`: the inner EAP-MSCHAPv2's when one runs, else the
        method's own (refused, or out of its `deciding` stage: EAP-Failure)."""
        if self.mschap is not None:
            return self._inner_step(self.mschap.decided(verdict))
        if self.stage is not self.deciding or not verdict.accept:
            return self._end(False)
        return self._accepted(verdict)

    def _inner_step(self, step: Step) -> Step:
        """A step of the inner EAP-MSCHAPv2: its Request goes through the tunnel, its
        credentials to the decision (as `inner_auth`'s); its failure ends the method, its
        success goes to `_inner_succeeded`."""
        if isinstance(step, Send):
            return self._inner_request(step.data)
        if isinstance(step, Verify):
            return Verify(step.username, step.credentials, self.inner_auth)
        if not step.accept:
            return self._end(False)
        return self._inner_succeeded()

    # --- what a subclass does once the handshake is done ------------------------------------

    def _established(self) -> Step:
        raise NotImplementedError

    def _tunnel(self, plaintext: bytes) -> Step:
        raise NotImplementedError

    def _accepted(self, verdict: Verdict) -> Step:
        """The method's own credentials are accepted (`verdict`)."""
        raise NotImplementedError

    def _inner_request(self, data: bytes) -> Send:
        """Send the inner EAP-MSCHAPv2's Request (its Type-Data `data`) through the tunnel."""
        raise NotImplementedError

    def _inner_succeeded(self) -> Step:
        """The inner EAP-MSCHAPv2 succeeded: EAP-Success, unless the method says more."""
        return self._end(True)
