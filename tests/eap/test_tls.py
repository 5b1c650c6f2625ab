"""eap/tls: real TLS handshakes (a pyOpenSSL client over memory BIOs) through the EAP-TLS
framing with small fragments, TLS 1.2 and 1.3: keys, client certificates, resumption."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

import pytest
from OpenSSL import SSL

from tlspeer import (
    NOW,
    PKI,
    Client,
    client_context,
    drain,
    eap_tls_context,
    make_pki,
    tunnel_context,
)
from userman.eap.fragments import Fragmenter, Frame, Reassembly, encode
from userman.eap.tls import (
    Failure,
    HandshakeError,
    Method,
    ServerContext,
    ServerSession,
    TLSError,
)

SIZE = 200  # a small fragment size, so every flight goes in several fragments


@pytest.fixture(scope="module")
def pki() -> PKI:
    return make_pki()


def carry(message: bytes) -> bytes:
    """`message` through the EAP-TLS framing in SIZE-octet fragments, each acknowledged."""
    sender, receiver = Fragmenter(message, SIZE), Reassembly()
    got = receiver.feed(sender.next_fragment())
    while sender.pending:
        assert got is None
        sender.acknowledge(encode(Frame()))
        got = receiver.feed(sender.next_fragment())
    assert got == message
    return got


def handshake(
    context: ServerContext,
    client_ctx: SSL.Context,
    *,
    session: SSL.Session | None = None,
    now: datetime = NOW,
) -> tuple[ServerSession, Client]:
    """Run the handshake to its end, every flight in fragments; the server's error escapes."""
    server, client = ServerSession(context, now), Client(client_ctx, session)
    exchange(server, client)
    assert server.handshake_done
    return server, client


def exchange(server: ServerSession, client: Client) -> None:
    """Carry the flights both ways until neither side has anything to say."""
    client.step()
    for _ in range(10):
        to_server = drain(client.conn)
        if to_server:
            server.receive(carry(to_server))
        to_client = server.outgoing()
        if to_client:
            client.step(carry(to_client))
        if not to_server and not to_client:
            break


VERSIONS = [
    pytest.param(SSL.TLS1_2_VERSION, "TLSv1.2", id="tls1.2"),
    pytest.param(SSL.TLS1_3_VERSION, "TLSv1.3", id="tls1.3"),
]


def p_sha256(secret: bytes, seed: bytes, size: int) -> bytes:
    """The TLS 1.2 PRF's P_SHA256 (RFC 5246 section 5), written out for an independent check."""
    out, a = b"", seed
    while len(out) < size:
        a = hmac.new(secret, a, hashlib.sha256).digest()
        out += hmac.new(secret, a + seed, hashlib.sha256).digest()
    return out[:size]


@pytest.mark.parametrize(("version", "name"), VERSIONS)
@pytest.mark.parametrize("method", [Method.TLS, Method.TTLS, Method.PEAP])
def test_both_ends_derive_the_same_keys(pki: PKI, version: int, name: str, method: Method) -> None:
    if method is Method.TLS:
        context, client_ctx = eap_tls_context(pki), client_context(pki, version, pki.client)
    else:
        context, client_ctx = tunnel_context(pki), client_context(pki, version)
    server, client = handshake(context, client_ctx)
    assert server.version == name
    assert not server.resumed
    keys = server.keys(method)
    type_code = bytes([method])
    if version == SSL.TLS1_3_VERSION:
        # https://www.rfc-editor.org/rfc/rfc9190#section-2.3 (RFC 9427 2.1 for TTLS, PEAP)
        material = client.conn.export_keying_material(
            b"EXPORTER_EAP_TLS_Key_Material", 128, type_code
        )
        method_id = client.conn.export_keying_material(b"EXPORTER_EAP_TLS_Method-Id", 64, type_code)
    else:
        # https://www.rfc-editor.org/rfc/rfc5216#section-2.3, RFC 5281 section 8: the PRF
        # over the client's master secret, computed here without OpenSSL's exporter.
        label = b"ttls keying material" if method is Method.TTLS else b"client EAP encryption"
        randoms = client.conn.client_random() or b""
        randoms += client.conn.server_random() or b""
        master = client.conn.master_key()
        assert master is not None
        material = p_sha256(master, label + randoms, 128)
        method_id = randoms
    assert keys.msk == material[:64]
    assert keys.emsk == material[64:]
    assert keys.session_id == type_code + method_id
    # MS-MPPE-Recv-Key = MSK[0:32], MS-MPPE-Send-Key = MSK[32:64] (RFC 2716 3.5)
    assert keys.mppe_recv_key + keys.mppe_send_key == keys.msk
    assert len(keys.mppe_recv_key) == 32


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_the_tunnel_carries_application_data_both_ways(pki: PKI, version: int, name: str) -> None:
    server, client = handshake(tunnel_context(pki, "ttls"), client_context(pki, version))
    client.conn.sendall(b"inner EAP-Response/Identity")
    server.receive(carry(drain(client.conn)))
    assert server.read() == b"inner EAP-Response/Identity"
    assert server.read() == b""
    server.write(b"inner EAP-Request/MSCHAPv2")
    client.step(carry(server.outgoing()))
    assert client.received.endswith(b"inner EAP-Request/MSCHAPv2")


def test_no_keys_nor_data_before_the_handshake(pki: PKI) -> None:
    server = ServerSession(tunnel_context(pki), NOW)
    with pytest.raises(TLSError):
        server.keys(Method.PEAP)
    with pytest.raises(TLSError):
        server.write(b"x")


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_a_valid_client_certificate_names_its_user(pki: PKI, version: int, name: str) -> None:
    server, _ = handshake(eap_tls_context(pki), client_context(pki, version, pki.client))
    assert server.peer is not None
    assert server.peer.common_name == "alice"
    assert server.peer.emails == ("alice@example.org",)
    assert server.peer.dns_names == ("laptop.example.org",)
    assert server.peer.upns == ("alice@corp.local",)
    assert server.peer.serial == pki.client.cert.serial_number


@pytest.mark.parametrize(("version", "name"), VERSIONS)
@pytest.mark.parametrize(
    ("who", "reason"),
    [
        ("expired", Failure.EXPIRED),
        ("revoked", Failure.REVOKED),
        ("stranger", Failure.UNKNOWN_CA),
        (None, Failure.NO_CERTIFICATE),
    ],
)
def test_a_bad_client_certificate_fails_the_handshake_with_its_reason(
    pki: PKI, version: int, name: str, who: str | None, reason: Failure
) -> None:
    client_cert = getattr(pki, who) if who else None
    server = ServerSession(eap_tls_context(pki), NOW)
    client = Client(client_context(pki, version, client_cert))
    with pytest.raises(HandshakeError) as failed:
        exchange(server, client)
    assert failed.value.reason is reason
    # The alert is left to send before the EAP-Failure (RFC 5216 2.1.3); the client sees it.
    alert = server.outgoing()
    assert alert
    client.conn.bio_write(carry(alert))
    with pytest.raises(SSL.Error):
        client.step()


def test_a_client_ca_is_needed_to_require_a_certificate(pki: PKI) -> None:
    with pytest.raises(ValueError, match="client CA"):
        ServerContext(
            pki.server.cert_pem,
            pki.server.key_pem,
            purpose="tls",
            require_client_certificate=True,
        )


# Resumption: https://www.rfc-editor.org/rfc/rfc5216#section-2.1.2 (TLS 1.2 session id or
# ticket) and https://www.rfc-editor.org/rfc/rfc9190#section-2.1.3 (TLS 1.3 tickets).
@pytest.mark.parametrize(
    ("version", "tickets"),
    [
        pytest.param(SSL.TLS1_2_VERSION, False, id="tls1.2-session-id"),
        pytest.param(SSL.TLS1_2_VERSION, True, id="tls1.2-ticket"),
        pytest.param(SSL.TLS1_3_VERSION, True, id="tls1.3-ticket"),
    ],
)
def test_the_second_handshake_resumes(pki: PKI, version: int, tickets: bool) -> None:
    context = eap_tls_context(pki)
    client_ctx = client_context(pki, version, pki.client)
    if not tickets:
        client_ctx.set_options(SSL.OP_NO_TICKET)
    first, client = handshake(context, client_ctx)
    session = client.conn.get_session()
    assert session is not None
    second, _ = handshake(context, client_ctx, session=session)
    assert not first.resumed
    assert second.resumed
    assert second.peer == first.peer  # the certificate's names survive resumption
    assert second.keys(Method.TLS).msk != first.keys(Method.TLS).msk


@pytest.mark.parametrize(("version", "name"), VERSIONS)
def test_a_certificate_expired_since_is_refused_on_resumption(
    pki: PKI, version: int, name: str
) -> None:
    context = eap_tls_context(pki)
    client_ctx = client_context(pki, version, pki.client)
    _, client = handshake(context, client_ctx)
    session = client.conn.get_session()
    assert session is not None
    later = pki.client.cert.not_valid_after_utc + timedelta(seconds=1)
    with pytest.raises(HandshakeError) as failed:
        handshake(context, client_ctx, session=session, now=later)
    assert failed.value.reason is Failure.EXPIRED


def test_a_session_of_another_context_is_not_resumed(pki: PKI) -> None:
    client_ctx = client_context(pki, SSL.TLS1_3_VERSION, pki.client)
    _, client = handshake(tunnel_context(pki), client_ctx)
    session = client.conn.get_session()
    assert session is not None
    server, _ = handshake(eap_tls_context(pki), client_ctx, session=session)
    assert not server.resumed
    assert server.peer is not None  # a full handshake, with the certificate verified
