"""server/tlscontexts: the EAP methods' TLS contexts as the certificate settings give them."""

from __future__ import annotations

import pytest

from tlspeer import make_pki
from userman.server.tlscontexts import TlsContexts
from userman.services.certificates import ServerTls, TlsMaterial


def material(*, eap: bool = True, trusted: bool = True, stamp: str = "1") -> TlsMaterial:
    pki = make_pki()
    server = ServerTls("radius", pki.server.cert_pem.decode(), pki.server.key_pem.decode())
    return TlsMaterial(
        stamp,
        server if eap else None,
        None,
        (pki.ca.cert_pem.decode(),) if trusted else (),
        (pki.crl_pem.decode(),) if trusted else (),
    )


def test_a_certificate_and_a_trusted_ca_give_every_tls_method() -> None:
    contexts = TlsContexts()
    contexts.update(material())
    assert contexts.stamp == "1"
    assert contexts.tls is not None
    assert contexts.tls.require_client_certificate
    assert len(contexts.tls.crls) == 1
    assert contexts.ttls is not None
    assert contexts.peap is not None


def test_without_a_trusted_ca_there_is_no_eap_tls_and_without_a_certificate_nothing() -> None:
    contexts = TlsContexts()
    contexts.update(material(trusted=False))
    assert contexts.tls is None
    assert contexts.peap is not None
    contexts.update(material(eap=False, stamp="2"))
    assert (contexts.tls, contexts.ttls, contexts.peap, contexts.stamp) == (None, None, None, "2")


def test_a_key_that_is_not_the_certificates_is_refused_and_changes_nothing() -> None:
    contexts = TlsContexts()
    contexts.update(material())
    before = contexts.peap
    good, other = material(), make_pki()
    assert good.eap is not None
    bad = TlsMaterial(
        "3", ServerTls("x", good.eap.chain, other.server.key_pem.decode()), None, (), ()
    )
    with pytest.raises(Exception):  # noqa: B017, PT011 - OpenSSL's own error
        contexts.update(bad)
    assert contexts.peap is before
