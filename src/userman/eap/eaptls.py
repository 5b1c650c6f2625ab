"""EAP-TLS (RFC 5216; RFC 9190 for TLS 1.3): the peer proves itself with a client certificate.

The handshake (eap/tunnel.py) verifies the certificate against the trusted CAs and their CRLs;
the certificate names the user (`certificate_user`), whose log-on is then decided as any
(`Verify` with `CertificateCredentials`). Accepted: the server's last flight goes out (with
TLS 1.3 the commitment message, RFC 9190 2.5), the peer acknowledges it, and EAP-Success
carries the MSK (RFC 5216 2.3). A resumed session (RFC 5216 2.1.2) is decided again, as its
certificate names the user still. No I/O.
"""

from __future__ import annotations

from enum import Enum

from userman.core.authorize import AuthMethod, CertificateCredentials, RejectReason
from userman.eap.method import Step, Verdict, Verify
from userman.eap.packet import Type
from userman.eap.tls import Method as TlsKind
from userman.eap.tls import PeerIdentity
from userman.eap.tunnel import TlsMethod

__all__ = ["EapTls", "certificate_user"]

# https://www.rfc-editor.org/rfc/rfc9190#section-2.5: the one octet of application data by
# which the server says the handshake is over and no more post-handshake messages follow.
COMMITMENT = b"\x00"


def certificate_user(peer: PeerIdentity) -> str | None:
    """The user a verified client certificate names: its subject's Common Name; without one,
    the first User Principal Name of its subjectAltName, else its first e-mail address."""
    if peer.common_name:
        return peer.common_name
    for names in (peer.upns, peer.emails):
        if names:
            return names[0]
    return None


class _Stage(Enum):
    HANDSHAKE = "handshake"
    DECIDING = "deciding"  # the certificate's user is with the decision
    FINAL = "final"  # the last flight is out: its acknowledgement ends it
    OVER = "over"


class EapTls(TlsMethod):
    """One EAP-TLS exchange (see the module)."""

    type = Type.TLS
    auth = AuthMethod.EAP_TLS
    kind = TlsKind.TLS
    stage = _Stage.HANDSHAKE
    over = _Stage.OVER
    deciding = _Stage.DECIDING

    def _established(self) -> Step:
        peer = self.session.peer
        name = None if peer is None else certificate_user(peer)
        if peer is None or name is None:
            self.stage = _Stage.OVER
            return self._fail(RejectReason.CERTIFICATE_MISSING)
        if self.session.version == "TLSv1.3":
            self.session.write(COMMITMENT)
        self.stage = _Stage.DECIDING
        return Verify(name, CertificateCredentials(peer.serial))

    def _accepted(self, verdict: Verdict) -> Step:
        records = self.session.outgoing()
        if not records:
            # RFC 5216 2.1.2: a resumed TLS 1.2 session ends with the peer's Finished.
            return self._end(True)
        self.stage = _Stage.FINAL
        return self._send(records)

    def _tunnel(self, plaintext: bytes) -> Step:
        return self._end(self.stage is _Stage.FINAL and not plaintext)
