"""PEAPv0 (draft-kamath-pppext-peapv0-00, MS-PEAP) with EAP-MSCHAPv2 inside the TLS tunnel.

After the handshake (eap/tunnel.py) and the peer's acknowledgement of the server's last
flight, the tunnel carries inner EAP packets without their Code, Identifier and Length
(MS-PEAP 2.2.8.1, "compressed" headers): Identity, then EAP-MSCHAPv2 (eap/mschapv2.py, its
credentials those of the inner identity), then on success a Result TLV (MS-PEAP 2.2.8.2:
Extensions, type 33, with its whole header), which the peer answers with its own Result TLV
before the EAP-Success. The outer identity may be anonymous: the inner one is the user.

Keys: MSK = the TLS exporter "client EAP encryption" (TLS 1.2; RFC 9427 2.1 for TLS 1.3),
as eap/tls.py's `keys()`. No crypto-binding TLV is sent: MS-PEAP 3.2.5.2.2 makes it
optional for PEAPv0, and without it the peer's MSK is the one above (hostapd's peer; a
Windows client set to require cryptobinding refuses the server). No I/O.
"""

from __future__ import annotations

import struct
from enum import Enum

from userman.core.authorize import AuthMethod, InnerAuth
from userman.eap.method import Send, Step
from userman.eap.mschapv2 import MschapV2
from userman.eap.packet import Code, Type
from userman.eap.tls import Method as TlsKind
from userman.eap.tunnel import TlsMethod

__all__ = ["Peap", "result_of", "result_tlv"]

EXTENSIONS = 33  # MS-PEAP 2.2.8.2: the EAP type of the TLV packets
RESULT_TLV = 0x8003  # mandatory (M bit) Result TLV
SUCCESS, FAILURE = 1, 2


def result_tlv(code: Code, identifier: int, status: int) -> bytes:
    """An Extensions packet with one Result TLV, whole header included (MS-PEAP 2.2.8.2)."""
    tlv = struct.pack("!HHH", RESULT_TLV, 2, status)
    return struct.pack("!BBHB", code, identifier, 5 + len(tlv), EXTENSIONS) + tlv


def result_of(packet: bytes, identifier: int) -> int | None:
    """The status of the Result TLV in the peer's Extensions Response; None if it has none."""
    if len(packet) < 5 or packet[0] != Code.RESPONSE or packet[1] != identifier:
        return None
    length = int.from_bytes(packet[2:4], "big")
    if length != len(packet) or packet[4] != EXTENSIONS:
        return None
    at = 5
    while at + 4 <= length:
        kind, size = struct.unpack_from("!HH", packet, at)
        value = packet[at + 4 : at + 4 + size]
        if kind & 0x3FFF == RESULT_TLV & 0x3FFF and len(value) == 2:  # M and R bits aside
            return int.from_bytes(value, "big")
        at += 4 + size
    return None


class _Stage(Enum):
    HANDSHAKE = "handshake"
    FINISHED = "finished"  # the server's last flight is out: the peer acknowledges it
    IDENTITY = "identity"  # the inner Request/Identity is out
    INNER = "inner"  # EAP-MSCHAPv2 runs inside
    RESULT = "result"  # the Result TLV is out
    OVER = "over"


class Peap(TlsMethod):
    """One PEAPv0 exchange (see the module)."""

    type = Type.PEAP
    auth = AuthMethod.EAP_PEAP
    kind = TlsKind.PEAP
    stage = _Stage.HANDSHAKE
    over = _Stage.OVER
    inner_auth = InnerAuth.PEAP_MSCHAP2
    result_id = 0

    def _established(self) -> Step:
        records = self.session.outgoing()
        if not records:  # nothing to say (TLS 1.3 without tickets): the inner method begins
            return self._identity()
        self.stage = _Stage.FINISHED
        return self._send(records)

    def _identity(self) -> Step:
        self.stage = _Stage.IDENTITY
        return self._write(bytes([Type.IDENTITY]))

    def _write(self, inner: bytes) -> Send:
        self.session.write(inner)
        return self._flight()

    def _tunnel(self, plaintext: bytes) -> Step:
        stage = self.stage
        if stage is _Stage.FINISHED and not plaintext:
            return self._identity()
        if stage is _Stage.IDENTITY and plaintext[:1] == bytes([Type.IDENTITY]):
            identity = plaintext[1:].decode("utf-8", "surrogateescape")
            self.mschap = MschapV2(identity, self.random)
            self.stage = _Stage.INNER
            return self._inner_request(self.mschap.start())
        if stage is _Stage.INNER and plaintext[:1] == bytes([Type.MSCHAPV2]):
            assert self.mschap is not None
            return self._inner_step(self.mschap.receive(plaintext[1:]))
        return self._end(stage is _Stage.RESULT and result_of(plaintext, self.result_id) == SUCCESS)

    def _inner_request(self, data: bytes) -> Send:
        return self._write(bytes([Type.MSCHAPV2]) + data)

    def _inner_succeeded(self) -> Step:
        # MS-PEAP 3.1.5.8: the inner method succeeded; the Result TLV says so in the tunnel.
        self.stage = _Stage.RESULT
        self.result_id = self.random(1)[0]
        return self._write(result_tlv(Code.REQUEST, self.result_id, SUCCESS))
