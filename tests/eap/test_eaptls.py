"""eap/eaptls: EAP-TLS (RFC 5216, RFC 9190) driven by a pyOpenSSL supplicant in-process, over
small fragments: the certificate names the user, a refused one fails with its reason, the MSK
is the one the peer derives, resumption is decided again."""

from __future__ import annotations

import gc
import os
from datetime import timedelta

import pytest
from cryptography import x509
from OpenSSL import SSL

from tlspeer import NOW, PKI, EapTlsPeer, client_context, eap_tls_context, issue, make_pki, run
from userman.core.authorize import CertificateCredentials, RejectReason
from userman.eap.eaptls import EapTls, certificate_user
from userman.eap.method import Finish, Send, Verdict, Verify
from userman.eap.tls import PeerIdentity
from userman.eap.tunnel import TlsSetup

VERSIONS = [
    pytest.param(SSL.TLS1_2_VERSION, id="tls1.2"),
    pytest.param(SSL.TLS1_3_VERSION, id="tls1.3"),
]
SIZE = 300


@pytest.fixture(scope="module")
def pki() -> PKI:
    return make_pki()


@pytest.mark.parametrize("version", VERSIONS)
def test_a_trusted_certificate_names_its_user_and_the_keys_agree(pki: PKI, version: int) -> None:
    method = EapTls(TlsSetup(eap_tls_context(pki), NOW, SIZE), "anything", os.urandom)
    peer = EapTlsPeer(client_context(pki, version, pki.client), size=SIZE)
    seen: list[Verify] = []
    end = run(method, peer, seen=seen)
    assert end.accept
    assert [(v.username, v.credentials) for v in seen] == [
        ("alice", CertificateCredentials(pki.client.cert.serial_number))
    ]
    # RFC 5216 2.3 / RFC 9190 2.3: the peer's exporter gives the same MSK.
    conn = peer.client.conn
    if version == SSL.TLS1_3_VERSION:
        material = conn.export_keying_material(b"EXPORTER_EAP_TLS_Key_Material", 128, b"\x0d")
        # RFC 9190 2.5: the commitment message, one octet 0x00 of application data.
        assert peer.client.received == b"\x00"
    else:
        material = conn.export_keying_material(b"client EAP encryption", 128)
    assert end.msk == material[:64]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_refused_log_on_ends_in_failure(pki: PKI, version: int) -> None:
    method = EapTls(TlsSetup(eap_tls_context(pki), NOW, SIZE), "alice", os.urandom)
    peer = EapTlsPeer(client_context(pki, version, pki.client), size=SIZE)
    end = run(method, peer, lambda step: Verdict(False))
    assert end == Finish(False)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    ("who", "reason"),
    [
        ("revoked", RejectReason.CERTIFICATE_REVOKED),
        ("expired", RejectReason.CERTIFICATE_EXPIRED),
        ("stranger", RejectReason.CERTIFICATE_UNKNOWN_CA),
        (None, RejectReason.CERTIFICATE_MISSING),
    ],
)
def test_a_refused_certificate_fails_with_its_reason(
    pki: PKI, version: int, who: str | None, reason: RejectReason
) -> None:
    # https://www.rfc-editor.org/rfc/rfc5216#section-2.1.3: the alert, then EAP-Failure.
    client = None if who is None else getattr(pki, who)
    method = EapTls(TlsSetup(eap_tls_context(pki), NOW, SIZE), "x", os.urandom)
    peer = EapTlsPeer(client_context(pki, version, client), size=SIZE)
    seen: list[Verify] = []
    end = run(method, peer, seen=seen)
    assert end == Finish(False, reason=reason)
    assert seen == []


@pytest.mark.parametrize("version", VERSIONS)
def test_a_resumed_session_is_decided_again(pki: PKI, version: int) -> None:
    # https://www.rfc-editor.org/rfc/rfc5216#section-2.1.2 (RFC 9190 2.1.3 with tickets)
    context = eap_tls_context(pki)
    ctx = client_context(pki, version, pki.client)
    first = EapTlsPeer(ctx, size=SIZE)
    assert run(EapTls(TlsSetup(context, NOW, SIZE), "a", os.urandom), first).accept
    session = first.client.conn.get_session()
    assert session is not None
    again = EapTls(TlsSetup(context, NOW, SIZE), "a", os.urandom)
    seen: list[Verify] = []
    peer = EapTlsPeer(ctx, session=session, size=SIZE)
    end = run(again, peer, seen=seen)
    assert again.session.resumed
    assert end.accept
    assert [v.username for v in seen] == ["alice"]
    assert run(
        EapTls(TlsSetup(context, NOW, SIZE), "a", os.urandom),
        EapTlsPeer(ctx, session=session, size=SIZE),
        lambda step: Verdict(False),
    ) == Finish(False)


def test_a_resumed_session_of_a_certificate_expired_since_is_refused(pki: PKI) -> None:
    context = eap_tls_context(pki)
    ctx = client_context(pki, SSL.TLS1_2_VERSION, pki.client)
    first = EapTlsPeer(ctx, size=SIZE)
    assert run(EapTls(TlsSetup(context, NOW, SIZE), "a", os.urandom), first).accept
    later = NOW + timedelta(days=60)
    peer = EapTlsPeer(ctx, session=first.client.conn.get_session(), size=SIZE)
    end = run(EapTls(TlsSetup(context, later, SIZE), "a", os.urandom), peer)
    assert end == Finish(False, reason=RejectReason.CERTIFICATE_EXPIRED)


def test_garbage_instead_of_tls_fails() -> None:
    pki = make_pki()
    method = EapTls(TlsSetup(eap_tls_context(pki), NOW, SIZE), "x", os.urandom)
    method.start()
    step = method.receive(b"\x00" + b"\x16\x03\x01\x00\x05hello")
    if isinstance(step, Send):  # the alert
        step = method.receive(b"\x00")
    assert step == Finish(False, reason=RejectReason.TLS_FAILED)
    assert EapTls(TlsSetup(eap_tls_context(pki), NOW), "x", os.urandom).receive(b"") == Finish(
        False
    )


def test_the_user_is_the_common_name_else_the_upn_else_the_email() -> None:
    ca = issue("CA", ca=True)
    upn = x509.OtherName(x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3"), b"\x0c\x03bob")
    mail = x509.RFC822Name("carol@example.org")
    named = PeerIdentity.of(issue("alice", ca, sans=[upn, mail]).cert)
    assert certificate_user(named) == "alice"
    unnamed = PeerIdentity.of(issue("alice", ca, sans=[upn, mail]).cert)
    unnamed = PeerIdentity(None, unnamed.emails, (), unnamed.upns, 1, NOW, NOW)
    assert certificate_user(unnamed) == "bob"
    assert certificate_user(PeerIdentity(None, ("carol@x",), (), (), 1, NOW, NOW)) == "carol@x"
    assert certificate_user(PeerIdentity(None, (), ("host",), (), 1, NOW, NOW)) is None


def test_a_session_id_resumes_after_the_first_conversation_is_gone(pki: PKI) -> None:
    # wpa_supplicant offers no ticket (SSL_OP_NO_TICKET): TLS 1.2 resumes by session id from
    # the server's cache, which OpenSSL empties of a session whose connection is freed
    # without a shutdown, unless the method marked it shut down (ServerSession.close).
    context = eap_tls_context(pki)
    ctx = client_context(pki, SSL.TLS1_2_VERSION, pki.client)
    ctx.set_options(SSL.OP_NO_TICKET)
    first = EapTlsPeer(ctx, size=SIZE)
    method = EapTls(TlsSetup(context, NOW, SIZE), "a", os.urandom)
    assert run(method, first).accept
    del method
    gc.collect()
    again = EapTls(TlsSetup(context, NOW, SIZE), "a", os.urandom)
    peer = EapTlsPeer(ctx, session=first.client.conn.get_session(), size=SIZE)
    assert run(again, peer).accept
    assert again.session.resumed
