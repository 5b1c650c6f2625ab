"""eap/tunnel: whatever a peer sends, a TLS method answers with a Step and never raises
(eap/method.py: bad data ends in Finish(False)), before and after the handshake."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from OpenSSL import SSL

from tlspeer import NOW, EapTlsPeer, client_context, eap_tls_context, make_pki, tunnel_context
from userman.core.authorize import RejectReason
from userman.eap.eaptls import EapTls
from userman.eap.method import Finish, Send, Verdict, Verify
from userman.eap.peap import Peap
from userman.eap.ttls import Ttls
from userman.eap.tunnel import FAILURE_REASONS, TlsMethod, TlsSetup

PKI = make_pki()
CONTEXTS = {
    EapTls: eap_tls_context(PKI),
    Peap: tunnel_context(PKI, "peap"),
    Ttls: tunnel_context(PKI, "ttls"),
}
KINDS = list(CONTEXTS)

frames = st.lists(
    st.one_of(
        st.binary(max_size=40),
        st.builds(lambda flags, data: bytes([flags]) + data, st.integers(0, 255), st.binary()),
    ),
    max_size=6,
)


def method(kind: type[TlsMethod]) -> TlsMethod:
    return kind(TlsSetup(CONTEXTS[kind], NOW, 200), "x", os.urandom)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(KINDS), responses=frames)
def test_any_data_before_the_handshake_gets_a_step(
    kind: type[TlsMethod], responses: list[bytes]
) -> None:
    m = method(kind)
    m.start()
    for data in responses:
        step = m.receive(data)
        assert isinstance(step, Send | Finish)
        if isinstance(step, Finish):
            assert not step.accept
            break


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from([Peap, Ttls]), garbage=st.binary(min_size=1, max_size=64))
def test_any_data_in_the_tunnel_ends_in_failure(kind: type[TlsMethod], garbage: bytes) -> None:
    # After the handshake, the peer writes `garbage` into the tunnel where its inner
    # method's data belongs.
    sent = []

    def tunnel(plaintext: bytes) -> bytes:
        sent.append(plaintext)
        return garbage

    peer = EapTlsPeer(client_context(PKI, SSL.TLS1_2_VERSION), tunnel=tunnel)
    m = method(kind)
    data = m.start()
    for _ in range(30):
        step = m.receive(peer.answer(data))
        if isinstance(step, Verify):
            step = m.decided(Verdict(False))
        if isinstance(step, Finish):
            assert not step.accept
            return
        data = step.data
    pytest.fail("no end")


def test_every_handshake_failure_has_a_reason() -> None:
    assert all(isinstance(r, RejectReason) for r in FAILURE_REASONS.values())
