"""EAP-TTLSv0 (RFC 5281): inner PAP, CHAP, MS-CHAP, MS-CHAP-V2 or EAP-MSCHAPv2 in AVPs.

After the handshake (eap/tunnel.py) the peer speaks first (RFC 5281 7.3): its AVPs
(eap/avp.py) name the inner user and carry its credentials, handed to the decision as any
log-on's (`Verify`; PAP through core/authorize.py's `check_plain_password`, so a one-time
code after the password works). CHAP's and MS-CHAP's challenge and Ident must be the tunnel's
"ttls challenge" material (11.1). Accepted: EAP-Success, after MS-CHAP2-Success and the peer's
empty answer for MS-CHAP-V2 (11.2.4). Inner EAP (11.2.1) runs EAP-MSCHAPv2 (eap/mschapv2.py)
with whole EAP packets in EAP-Message AVPs. MSK: "ttls keying material" (RFC 5281 8; RFC 9427
2.1 for TLS 1.3), as eap/tls.py's `keys()`. No I/O.
"""

from __future__ import annotations

from enum import Enum

from userman.core.authorize import AuthMethod, InnerAuth, MschapV2Credentials
from userman.eap.avp import (
    CHALLENGE_LABEL,
    AvpError,
    InnerCredentials,
    InnerEap,
    InnerMethod,
    eap_message,
    mschap2_success,
    parse_inner,
)
from userman.eap.method import Send, Step, Verdict, Verify
from userman.eap.mschapv2 import MschapV2
from userman.eap.packet import Code, EapDecodeError, EapPacket, Type, decode
from userman.eap.tls import Method as TlsKind
from userman.eap.tunnel import TlsMethod

__all__ = ["INNER_AUTHS", "Ttls"]

# The v7 `inner-auths` name of each inner method.
INNER_AUTHS = {
    InnerMethod.PAP: InnerAuth.TTLS_PAP,
    InnerMethod.CHAP: InnerAuth.TTLS_CHAP,
    InnerMethod.MSCHAP1: InnerAuth.TTLS_MSCHAP1,
    InnerMethod.MSCHAP2: InnerAuth.TTLS_MSCHAP2,
    InnerMethod.EAP: InnerAuth.TTLS_EAP,
}
PROMPTS = 3  # empty Requests the server sends at most while waiting for the peer's AVPs


class _Stage(Enum):
    HANDSHAKE = "handshake"
    WAITING = "waiting"  # the handshake is over: the peer's AVPs are awaited
    DECIDING = "deciding"  # the credentials are with the decision
    SUCCEEDED = "succeeded"  # MS-CHAP2-Success is out: the peer's empty answer ends it
    INNER_EAP = "inner-eap"  # inner EAP-MSCHAPv2 runs
    OVER = "over"


class Ttls(TlsMethod):
    """One EAP-TTLSv0 exchange (see the module)."""

    type = Type.TTLS
    auth = AuthMethod.EAP_TTLS
    kind = TlsKind.TTLS
    stage = _Stage.HANDSHAKE
    over = _Stage.OVER
    deciding = _Stage.DECIDING
    inner_auth = InnerAuth.TTLS_EAP
    prompts = 0
    inner: InnerCredentials | None = None
    inner_id = 0

    def _established(self) -> Step:
        self.stage = _Stage.WAITING
        plaintext = self.session.read()  # AVPs may come with the peer's Finished (TLS 1.3)
        if plaintext:
            return self._tunnel(plaintext)
        return self._flight()  # the server's last flight, or an empty Request: "your turn"

    def _tunnel(self, plaintext: bytes) -> Step:
        stage = self.stage
        if stage is _Stage.SUCCEEDED and not plaintext:
            return self._end(True)
        if stage is _Stage.WAITING and not plaintext and self.prompts < PROMPTS:
            self.prompts += 1
            return self._flight()
        if stage not in (_Stage.WAITING, _Stage.INNER_EAP) or not plaintext:
            return self._end(False)
        try:
            found = parse_inner(plaintext, lambda size: self.session.export(CHALLENGE_LABEL, size))
        except AvpError:
            return self._end(False)
        if isinstance(found, InnerEap):
            return self._eap(found)
        if stage is not _Stage.WAITING:
            return self._end(False)
        self.inner = found
        self.stage = _Stage.DECIDING
        return Verify(found.username, found.credentials, INNER_AUTHS[found.method])

    def _eap(self, found: InnerEap) -> Step:
        """RFC 5281 11.2.1: the inner EAP conversation, EAP-MSCHAPv2 its one method."""
        try:
            pkt = decode(found.message)
        except EapDecodeError:
            return self._end(False)
        if pkt.code is not Code.RESPONSE:
            return self._end(False)
        if self.mschap is None:
            # The peer begins, unasked, with its Response/Identity: its Identifier is taken.
            if pkt.type != Type.IDENTITY:
                return self._end(False)
            self.inner_id = pkt.identifier
            identity = pkt.data.decode("utf-8", "surrogateescape")
            self.mschap = MschapV2(identity, self.random)
            self.stage = _Stage.INNER_EAP
            return self._inner_request(self.mschap.start())
        if pkt.type != Type.MSCHAPV2 or pkt.identifier != self.inner_id:
            return self._end(False)  # a Nak (no other inner EAP method is offered), or stale
        return self._inner_step(self.mschap.receive(pkt.data))

    def _inner_request(self, data: bytes) -> Send:
        self.inner_id = (self.inner_id + 1) % 256
        request = EapPacket(Code.REQUEST, self.inner_id, Type.MSCHAPV2, data)
        self.session.write(eap_message(request.encode()))
        return self._flight()

    def _accepted(self, verdict: Verdict) -> Step:
        if self.inner is None:
            return self._end(False)
        credentials = self.inner.credentials
        if isinstance(credentials, MschapV2Credentials):
            # RFC 5281 11.2.4: MS-CHAP2-Success with the response's Ident; the peer answers
            # with no data, then EAP-Success.
            ident = credentials.response[0]
            self.session.write(mschap2_success(ident, verdict.authenticator_response))
            self.stage = _Stage.SUCCEEDED
            return self._flight()
        return self._end(True)
