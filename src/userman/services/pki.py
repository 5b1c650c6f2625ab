"""Certificates, keys and CRLs with `cryptography`: made, read and checked; PEM text in and out.

A CA made here is self-signed (basic constraints CA, key usage keyCertSign and cRLSign); a
certificate it signs is for a TLS server (extended key usage serverAuth, RFC 5280 section
4.2.1.12) or a TLS client (clientAuth), never a CA, with the subject alternative names given
(or, by default, the common name as a DNS name for a server, as an e-mail address for a client
whose name has an @). Keys are EC P-256 (the default) or RSA 2048. Every function takes `now`;
none touches the database. Errors are InvalidValueError naming the property that is wrong.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from userman.core.errors import InvalidValueError

__all__ = [
    "ISSUER_KEYS",
    "KEY_TYPES",
    "USAGES",
    "CertificateIssuerPrivateKeyTypes",
    "Made",
    "Summary",
    "chain_pem",
    "crl_pem",
    "is_ca",
    "issued_by",
    "key_pem",
    "load_chain",
    "load_key",
    "make",
    "serves",
    "summary",
]

KEY_TYPES = ("ec", "rsa")
USAGES = ("server", "client")
ISSUER_KEYS = (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)  # the keys made or taken here
RSA_BITS = 2048
BACKDATE = dt.timedelta(minutes=5)  # not-before, for clocks a little behind this one


@dataclass(frozen=True, slots=True)
class Made:
    """A certificate made here: its PEM and its private key's (PKCS#8, unencrypted)."""

    cert: str
    key: str


@dataclass(frozen=True, slots=True)
class Summary:
    """What `certificate print` shows of a certificate (never anything of its key)."""

    subject: str
    issuer: str
    common_name: str
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint: str  # SHA-256 of the DER, colon-separated hex
    serial: int
    is_ca: bool


def _new_key(key_type: str) -> CertificateIssuerPrivateKeyTypes:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise InvalidValueError("key-type", f"is one of {', '.join(KEY_TYPES)}")


def _key_pem(key: PrivateKeyTypes) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _names(common_name: str, usage: str, alt_names: Sequence[str]) -> list[x509.GeneralName]:
    """The subject alternative names: `DNS:host`, `IP:address`, `email:address` (a bare word
    is a DNS name), or by default the common name as a DNS name (a server) or an e-mail
    address (a client whose name has an @)."""
    found: list[x509.GeneralName] = []
    for text in alt_names:
        kind, colon, value = text.partition(":")
        if not colon:
            kind, value = "DNS", text
        try:
            match kind.lower():
                case "dns":
                    found.append(x509.DNSName(value))
                case "ip":
                    found.append(x509.IPAddress(ipaddress.ip_address(value)))
                case "email":
                    found.append(x509.RFC822Name(value))
                case _:
                    raise ValueError(f"{kind} is not DNS, IP or email")
        except ValueError as error:
            raise InvalidValueError("subject-alt-name", f"{text}: {error}") from None
    if found:
        return found
    if usage == "client":
        return [x509.RFC822Name(common_name)] if "@" in common_name else []
    try:
        return [x509.IPAddress(ipaddress.ip_address(common_name))]
    except ValueError:
        return [x509.DNSName(common_name)] if " " not in common_name else []


def make(
    common_name: str,
    days: int,
    now: dt.datetime,
    *,
    key_type: str = "ec",
    usage: str = "server",
    alt_names: Sequence[str] = (),
    issuer: tuple[x509.Certificate, CertificateIssuerPrivateKeyTypes] | None = None,
) -> Made:
    """A self-signed CA (no `issuer`), or a server or client certificate that `issuer` (a CA's
    certificate and key) signs, valid for `days` from `now`."""
    if not common_name or len(common_name) > 64:  # RFC 5280 ub-common-name
        raise InvalidValueError("common-name", "is 1 to 64 characters")
    if days < 1:
        raise InvalidValueError("days", "is at least 1")
    if usage not in USAGES:
        raise InvalidValueError("usage", f"is one of {', '.join(USAGES)}")
    key = _new_key(key_type)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is None:
        signer: CertificateIssuerPrivateKeyTypes = key
        builder = (
            builder.issuer_name(subject)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=True, encipher=False), critical=True)
        )
    else:
        ca_cert, signer = issuer
        if now + dt.timedelta(days=days) > ca_cert.not_valid_after_utc:
            raise InvalidValueError("days", "would outlast the CA's own certificate")
        names = _names(common_name, usage, alt_names)
        builder = (
            builder.issuer_name(ca_cert.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                _key_usage(cert_sign=False, encipher=isinstance(key, rsa.RSAPrivateKey)),
                critical=True,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [
                        ExtendedKeyUsageOID.SERVER_AUTH
                        if usage == "server"
                        else ExtendedKeyUsageOID.CLIENT_AUTH
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    ca_cert.public_key()  # type: ignore[arg-type]
                ),
                critical=False,
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(signer, hashes.SHA256())
    return Made(_cert_pem(cert), _key_pem(key))


def _key_usage(*, cert_sign: bool, encipher: bool) -> x509.KeyUsage:
    """RFC 5280 section 4.2.1.3: a CA signs certificates and CRLs; a TLS end entity signs
    (ECDHE), and an RSA one may also encipher keys (TLS 1.2's RSA key exchange)."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=encipher,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def load_chain(text: str, prop: str, now: dt.datetime) -> list[x509.Certificate]:
    """The certificates of a PEM file, the first being the one it is for and each issued by
    the next; refused when there is none, one is not valid now, or they are out of order."""
    try:
        chain = x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise InvalidValueError(prop, "holds no PEM certificate that can be read") from None
    for number, cert in enumerate(chain, 1):
        which = "the certificate" if number == 1 else f"certificate {number} of the chain"
        if cert.not_valid_after_utc < now:
            raise InvalidValueError(
                prop, f"{which} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC"
            )
        if cert.not_valid_before_utc > now:
            raise InvalidValueError(
                prop,
                f"{which} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC",
            )
    for number, (cert, parent) in enumerate(itertools.pairwise(chain), 1):
        if not issued_by(cert, parent):
            raise InvalidValueError(
                prop, f"certificate {number} of the chain is not issued by certificate {number + 1}"
            )
    return chain


def load_key(text: str, prop: str, cert: x509.Certificate) -> CertificateIssuerPrivateKeyTypes:
    """The private key of a PEM file (unencrypted), refused unless it is `cert`'s."""
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except TypeError:
        raise InvalidValueError(prop, "is encrypted: give the key without a passphrase") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidValueError(prop, "holds no PEM private key that can be read") from None
    if not isinstance(key, ISSUER_KEYS):
        raise InvalidValueError(prop, "is neither an EC nor an RSA key")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != cert.public_key().public_bytes(der, public):
        raise InvalidValueError(prop, "is not the key of the certificate (they do not match)")
    return key


def key_pem(key: PrivateKeyTypes) -> str:
    return _key_pem(key)


def chain_pem(chain: Sequence[x509.Certificate]) -> str:
    return "".join(_cert_pem(cert) for cert in chain)


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer` signed `cert` (its subject is cert's issuer and the signature holds)."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def serves(cert: x509.Certificate) -> bool:
    """Whether a TLS server may present it: no extended key usage (any), or serverAuth."""
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    any_usage = ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE
    return ExtendedKeyUsageOID.SERVER_AUTH in usage or any_usage in usage


def summary(cert: x509.Certificate) -> Summary:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return Summary(
        cert.subject.rfc4514_string(),
        cert.issuer.rfc4514_string(),
        common_name,
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
        cert.serial_number,
        is_ca(cert),
    )


def crl_pem(  # noqa: PLR0917 - a CRL is these things
    ca_cert: x509.Certificate,
    ca_key: CertificateIssuerPrivateKeyTypes,
    previous: str,
    revoked: Sequence[tuple[int, dt.datetime]],
    number: int,
    now: dt.datetime,
) -> str:
    """The CA's CRL (RFC 5280 section 5): the serials `previous` (its last CRL's PEM, or "")
    lists and those of `revoked` (serial, when), numbered `number`. Its next update is the
    CA's own expiry: a CRL made here changes only when a certificate is revoked."""
    entries: dict[int, dt.datetime] = {}
    if previous:
        for entry in x509.load_pem_x509_crl(previous.encode()):
            entries[entry.serial_number] = entry.revocation_date_utc
    for serial, when in revoked:
        entries.setdefault(serial, when)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - BACKDATE)
        .next_update(max(ca_cert.not_valid_after_utc, now + dt.timedelta(days=1)))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_cert.public_key()  # type: ignore[arg-type]
            ),
            critical=False,
        )
    )
    for serial, when in sorted(entries.items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.PEM).decode("ascii")
