"""eap/ttls: EAP-TTLSv0 (RFC 5281) driven by a pyOpenSSL supplicant in-process (TLS 1.2 and
1.3): inner PAP, CHAP, MS-CHAP, MS-CHAP-V2 (11.2.2-11.2.5, challenges from the "ttls
challenge" material, 11.1) and EAP-MSCHAPv2 (11.2.1), the MSK from "ttls keying material"."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from OpenSSL import SSL

from tlspeer import (
    NOW,
    PKI,
    EapTlsPeer,
    client_context,
    make_pki,
    mschapv2_peer_response,
    mschapv2_verdict,
    run,
    tunnel_context,
)
from userman.core.authorize import (
    ChapCredentials,
    InnerAuth,
    MschapV1Credentials,
    MschapV2Credentials,
    PapCredentials,
)
from userman.eap.avp import MICROSOFT, Avp, decode_avps, encode_avps
from userman.eap.method import Finish, Verdict, Verify
from userman.eap.packet import Code, EapPacket, Type, decode
from userman.eap.ttls import Ttls
from userman.eap.tunnel import TlsSetup
from userman.radius import chap, mschap

VERSIONS = [
    pytest.param(SSL.TLS1_2_VERSION, id="tls1.2"),
    pytest.param(SSL.TLS1_3_VERSION, id="tls1.3"),
]
PASSWORD = "secret"


@pytest.fixture(scope="module")
def pki() -> PKI:
    return make_pki()


def decide(step: Verify) -> Verdict:
    """The decision on the inner credentials for a user whose password is PASSWORD."""
    creds = step.credentials
    if isinstance(creds, PapCredentials):
        return Verdict(creds.password == PASSWORD.encode())
    if isinstance(creds, ChapCredentials):
        return Verdict(chap.verify_chap(creds.chap_password, creds.challenge, PASSWORD.encode()))
    if isinstance(creds, MschapV1Credentials):
        found = mschap.verify_mschap_v1(PASSWORD, creds.challenge, creds.response)
        return Verdict(found is not None)
    return mschapv2_verdict(step.username, creds, PASSWORD)


def name(user: str) -> Avp:
    return Avp(1, user.encode(), mandatory=True)


class TtlsPeer:
    """The inner side of a TTLS supplicant for `method`: its AVPs after the handshake."""

    def __init__(self, method: str, password: str, user: str = "alice") -> None:
        self.method, self.password, self.user = method, password, user
        self.conn: SSL.Connection | None = None
        self.seen: list[bytes] = []

    def material(self, size: int) -> bytes:
        assert self.conn is not None
        return self.conn.export_keying_material(b"ttls challenge", size)

    def __call__(self, plaintext: bytes) -> bytes:
        self.seen.append(plaintext)
        if plaintext:
            return self.answer(plaintext)
        secret, user = self.password.encode(), self.user.encode()
        if self.method == "pap":
            return encode_avps([name(self.user), Avp(2, secret, mandatory=True)])
        if self.method == "chap":
            got = self.material(17)
            response = bytes([got[16]]) + chap.chap_response(got[16], secret, got[:16])
            avps = [Avp(60, got[:16], mandatory=True), Avp(3, response, mandatory=True)]
            return encode_avps([name(self.user), *avps])
        if self.method == "mschap1":
            got = self.material(9)
            response = mschap.mschap_v1_response(got[8], self.password, got[:8])
            avps = [
                Avp(11, got[:8], MICROSOFT, mandatory=True),
                Avp(1, response, MICROSOFT, mandatory=True),
            ]
            return encode_avps([name(self.user), *avps])
        if self.method == "mschap2":
            got = self.material(17)
            response = mschap.mschap_v2_response(
                got[16], user, self.password, got[:16], bytes(range(16))
            )
            avps = [
                Avp(11, got[:16], MICROSOFT, mandatory=True),
                Avp(25, response, MICROSOFT, mandatory=True),
            ]
            return encode_avps([name(self.user), *avps])
        identity = EapPacket(Code.RESPONSE, 0, Type.IDENTITY, user).encode()
        return encode_avps([Avp(79, identity, mandatory=True)])

    def answer(self, plaintext: bytes) -> bytes:
        (avp,) = decode_avps(plaintext)
        if (avp.vendor, avp.code) == (MICROSOFT, 26):  # MS-CHAP2-Success: an empty answer
            return b""
        request = decode(avp.data)  # inner EAP: EAP-MSCHAPv2
        assert request.type == Type.MSCHAPV2
        data = mschapv2_peer_response(request.data, self.user.encode(), self.password)
        response = EapPacket(Code.RESPONSE, request.identifier, Type.MSCHAPV2, data).encode()
        return encode_avps([Avp(79, response, mandatory=True)])


def ttls(
    pki: PKI, version: int, method: str, password: str, judge: Callable[[Verify], Verdict] = decide
) -> tuple[Finish, list[Verify], EapTlsPeer]:
    inner = TtlsPeer(method, password)
    peer = EapTlsPeer(client_context(pki, version), tunnel=inner)
    inner.conn = peer.client.conn
    method_ = Ttls(TlsSetup(tunnel_context(pki, "ttls"), NOW, 300), "anonymous", os.urandom)
    seen: list[Verify] = []
    return run(method_, peer, judge, seen), seen, peer


INNER = {
    "pap": (InnerAuth.TTLS_PAP, PapCredentials),
    "chap": (InnerAuth.TTLS_CHAP, ChapCredentials),
    "mschap1": (InnerAuth.TTLS_MSCHAP1, MschapV1Credentials),
    "mschap2": (InnerAuth.TTLS_MSCHAP2, MschapV2Credentials),
    "eap": (InnerAuth.TTLS_EAP, MschapV2Credentials),
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("method", list(INNER))
def test_the_right_credentials_inside_are_accepted_as_the_inner_user(
    pki: PKI, version: int, method: str
) -> None:
    end, seen, peer = ttls(pki, version, method, PASSWORD)
    assert end.accept
    inner, kind = INNER[method]
    assert [(v.username, type(v.credentials), v.inner) for v in seen] == [("alice", kind, inner)]
    conn = peer.client.conn
    if version == SSL.TLS1_3_VERSION:  # RFC 9427 2.1
        material = conn.export_keying_material(b"EXPORTER_EAP_TLS_Key_Material", 128, b"\x15")
    else:  # RFC 5281 8
        material = conn.export_keying_material(b"ttls keying material", 128)
    assert end.msk == material[:64]


@pytest.mark.parametrize("method", list(INNER))
def test_wrong_credentials_inside_are_refused(pki: PKI, method: str) -> None:
    end, seen, _ = ttls(pki, SSL.TLS1_2_VERSION, method, "wrong")
    assert end == Finish(False)
    assert len(seen) == 1


def test_a_chap_challenge_of_the_peers_choosing_is_refused(pki: PKI) -> None:
    # RFC 5281 11.2.2: the challenge must be the tunnel's, else a response captured
    # elsewhere could be replayed inside.
    class Chosen(TtlsPeer):
        def material(self, size: int) -> bytes:
            return bytes(size)

    inner = Chosen("chap", PASSWORD)
    peer = EapTlsPeer(client_context(pki, SSL.TLS1_2_VERSION), tunnel=inner)
    inner.conn = peer.client.conn
    method = Ttls(TlsSetup(tunnel_context(pki, "ttls"), NOW, 300), "x", os.urandom)
    seen: list[Verify] = []
    assert run(method, peer, decide, seen) == Finish(False)
    assert seen == []
