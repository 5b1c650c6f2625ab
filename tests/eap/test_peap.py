"""eap/peap: PEAPv0 with inner EAP-MSCHAPv2, driven by a pyOpenSSL supplicant in-process
(TLS 1.2 and 1.3): compressed inner headers (MS-PEAP 2.2.8.1), the Result TLV (2.2.8.2),
the inner identity as the user, the MSK from the TLS exporter."""

from __future__ import annotations

import os

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
from userman.core.authorize import InnerAuth, MschapV2Credentials
from userman.eap.method import Finish, Verify
from userman.eap.packet import Code
from userman.eap.peap import SUCCESS, Peap, result_of, result_tlv
from userman.eap.tunnel import TlsSetup

VERSIONS = [
    pytest.param(SSL.TLS1_2_VERSION, id="tls1.2"),
    pytest.param(SSL.TLS1_3_VERSION, id="tls1.3"),
]


@pytest.fixture(scope="module")
def pki() -> PKI:
    return make_pki()


class PeapPeer:
    """The inner side of a PEAPv0 supplicant: what it writes into the tunnel."""

    def __init__(self, name: str, password: str) -> None:
        self.name, self.password = name, password
        self.seen: list[bytes] = []

    def __call__(self, plaintext: bytes) -> bytes:
        self.seen.append(plaintext)
        if not plaintext:
            return b""  # the handshake is over: the server begins the inner method
        if plaintext == b"\x01":  # Request/Identity, compressed: the Type alone
            return b"\x01" + self.name.encode()
        if plaintext[0] == 26:
            return b"\x1a" + mschapv2_peer_response(
                plaintext[1:], self.name.encode(), self.password
            )
        if plaintext[0] == Code.REQUEST and plaintext[4] == 33:  # Extensions, whole header
            return result_tlv(Code.RESPONSE, plaintext[1], SUCCESS)
        raise AssertionError(plaintext)


def peap(pki: PKI, version: int, name: str, password: str) -> tuple[Finish, list[Verify], PeapPeer]:
    inner = PeapPeer(name, password)
    peer = EapTlsPeer(client_context(pki, version), tunnel=inner)
    method = Peap(TlsSetup(tunnel_context(pki), NOW, 300), "anonymous@example.org", os.urandom)
    seen: list[Verify] = []
    end = run(method, peer, lambda v: mschapv2_verdict(v.username, v.credentials, "secret"), seen)
    if end.accept:
        conn = peer.client.conn
        if version == SSL.TLS1_3_VERSION:  # RFC 9427 2.1
            material = conn.export_keying_material(b"EXPORTER_EAP_TLS_Key_Material", 128, b"\x19")
        else:  # PEAPv0's MSK without crypto-binding: the label of EAP-TLS
            material = conn.export_keying_material(b"client EAP encryption", 128)
        assert end.msk == material[:64]
    return end, seen, inner


@pytest.mark.parametrize("version", VERSIONS)
def test_the_right_password_inside_is_accepted_as_the_inner_user(pki: PKI, version: int) -> None:
    end, seen, inner = peap(pki, version, "alice", "secret")
    assert end.accept
    assert [(v.username, type(v.credentials), v.inner) for v in seen] == [
        ("alice", MschapV2Credentials, InnerAuth.PEAP_MSCHAP2)
    ]
    # MS-PEAP 2.2.8.1: the inner Requests go without Code, Identifier and Length.
    assert inner.seen[1] == b"\x01"
    assert inner.seen[2][:2] == b"\x1a\x01"  # EAP-MSCHAPv2 Challenge
    assert inner.seen[3][:2] == b"\x1a\x03"  # its Success-Request


@pytest.mark.parametrize("version", VERSIONS)
def test_a_wrong_password_inside_is_refused(pki: PKI, version: int) -> None:
    end, seen, inner = peap(pki, version, "alice", "wrong")
    assert end == Finish(False)
    assert len(seen) == 1
    assert inner.seen[-1][:2] == b"\x1a\x04"  # the Failure-Request, answered before the end


def test_the_result_tlv_is_read_with_its_flags_and_identifier() -> None:
    # MS-PEAP 2.2.8.2: Result TLV, M bit set, status 1 (success) or 2 (failure).
    assert result_of(result_tlv(Code.RESPONSE, 7, 1), 7) == 1
    assert result_of(result_tlv(Code.RESPONSE, 7, 2), 7) == 2
    assert result_of(result_tlv(Code.RESPONSE, 7, 1), 8) is None
    assert result_of(result_tlv(Code.REQUEST, 7, 1), 7) is None
    assert result_of(b"\x02\x07\x00\x05\x21", 7) is None
    assert result_of(b"\x02", 7) is None
