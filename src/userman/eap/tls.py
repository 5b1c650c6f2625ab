"""The TLS server of EAP-TLS, EAP-TTLS and PEAP, with no socket: records in, records out.

Owns the OpenSSL context built from PEM (server chain and key, optional client CAs and CRLs),
one handshake per conversation driven through memory BIOs, the verified peer's names, the
tunnel's application data, session resumption and the keys (MSK, EMSK, Session-Id, MPPE).
Must not know EAP framing (fragments.py), the conversation, users or the settings.

Why pyOpenSSL and not the standard `ssl.MemoryBIO`: the MSK is a TLS exporter (RFC 5705 for
TLS 1.2, where it is the PRF over the master secret; RFC 8446 7.5 for TLS 1.3), and Python's
`ssl` module (3.11 to 3.13) exposes neither SSL_export_keying_material nor the master secret,
so the keys EAP needs cannot be had from it. pyOpenSSL's Connection takes the same memory-BIO
drive and has `export_keying_material`.

    TLSError                    the TLS side of a conversation failed
    └── HandshakeError          the handshake failed; `reason` (a Failure) says why in words a
                                log and a reject reason can use: expired, revoked, unknown CA...
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtensionOID, NameOID
from OpenSSL import SSL, crypto

__all__ = [
    "Failure",
    "HandshakeError",
    "Keys",
    "Method",
    "PeerIdentity",
    "ServerContext",
    "ServerSession",
    "TLSError",
]


class Method(enum.IntEnum):
    """The EAP methods that run over TLS, by EAP Type code (their exporter context)."""

    TLS = 13
    TTLS = 21
    PEAP = 25


class Failure(enum.Enum):
    """Why a handshake failed, for the caller's reject reason and log."""

    EXPIRED = "certificate expired"
    NOT_YET_VALID = "certificate not yet valid"
    REVOKED = "certificate revoked"
    UNKNOWN_CA = "certificate from an unknown CA"
    NO_CERTIFICATE = "no client certificate"
    UNVERIFIED = "certificate not verified"
    PROTOCOL = "TLS handshake failed"


class TLSError(Exception):
    """The TLS side of a conversation failed."""


class HandshakeError(TLSError):
    """The handshake failed for `reason`; `detail` is OpenSSL's words, for a log."""

    def __init__(self, reason: Failure, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


# X509_V_ERR_* of OpenSSL's x509_vfy.h, stable across versions, for the verify callback.
_VERIFY_FAILURES = {
    2: Failure.UNKNOWN_CA,  # UNABLE_TO_GET_ISSUER_CERT
    9: Failure.NOT_YET_VALID,  # CERT_NOT_YET_VALID
    10: Failure.EXPIRED,  # CERT_HAS_EXPIRED
    18: Failure.UNKNOWN_CA,  # DEPTH_ZERO_SELF_SIGNED_CERT
    19: Failure.UNKNOWN_CA,  # SELF_SIGNED_CERT_IN_CHAIN
    20: Failure.UNKNOWN_CA,  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21: Failure.UNKNOWN_CA,  # UNABLE_TO_VERIFY_LEAF_SIGNATURE
    23: Failure.REVOKED,  # CERT_REVOKED
}
_UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")  # Microsoft User Principal Name
_READ_SIZE = 16384


@dataclass(frozen=True, slots=True)
class Keys:
    """The keys of a finished handshake: RFC 5216 2.3, RFC 9190 2.3, RFC 5281 8, RFC 9427 2.

    `session_id` is the EAP Session-Id (Type-Code || Method-Id). The MPPE keys are the MSK's
    halves as EAP-TLS's first definition put them (RFC 2716 3.5) and as hostapd and
    FreeRADIUS send them: MS-MPPE-Recv-Key = MSK[0:32], MS-MPPE-Send-Key = MSK[32:64].
    """

    msk: bytes
    emsk: bytes
    session_id: bytes

    @property
    def mppe_recv_key(self) -> bytes:
        return self.msk[:32]

    @property
    def mppe_send_key(self) -> bytes:
        return self.msk[32:64]


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """The names in the verified client certificate, for mapping it to a user."""

    common_name: str | None
    emails: tuple[str, ...]
    dns_names: tuple[str, ...]
    upns: tuple[str, ...]
    serial: int
    not_before: datetime
    not_after: datetime

    @classmethod
    def of(cls, cert: x509.Certificate) -> PeerIdentity:
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else None
        emails: list[str] = []
        dns_names: list[str] = []
        upns: list[str] = []
        try:
            san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        except x509.ExtensionNotFound:
            pass
        else:
            alt = san.value
            assert isinstance(alt, x509.SubjectAlternativeName)
            emails = alt.get_values_for_type(x509.RFC822Name)
            dns_names = alt.get_values_for_type(x509.DNSName)
            for other in alt.get_values_for_type(x509.OtherName):
                if other.type_id == _UPN_OID and (upn := _utf8_string(other.value)) is not None:
                    upns.append(upn)
        return cls(
            common_name=common_name,
            emails=tuple(emails),
            dns_names=tuple(dns_names),
            upns=tuple(upns),
            serial=cert.serial_number,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )


def _utf8_string(der: bytes) -> str | None:
    """The text of a DER UTF8String (an otherName UPN's value), None if it is not one."""
    if len(der) < 2 or der[0] != 0x0C:
        return None
    size, offset = der[1], 2
    if size & 0x80:
        count = size & 0x7F
        size, offset = int.from_bytes(der[2 : 2 + count], "big"), 2 + count
    if offset + size != len(der):
        return None
    try:
        return der[offset:].decode("utf-8")
    except UnicodeDecodeError:
        return None


class ServerContext:
    """The TLS settings of one EAP method (or one group of them): chain, key, client CAs, and
    `crl`: their CRLs (one or more PEM blocks; the leaf is checked against its issuer's).

    Build one per purpose and per settings change: each has its own session cache and
    ticket keys, so a session made for PEAP cannot be resumed as EAP-TLS (and its session-id
    context `purpose` separates them too). TLS 1.2 and 1.3 only; ciphers, groups and
    signature algorithms are OpenSSL's defaults at its default security level.

    Resumption (RFC 5216 2.1.2, RFC 9190 2.1.3): TLS 1.2 by session id from OpenSSL's
    in-memory cache (bounded by OpenSSL at 20480 sessions, the oldest dropped first;
    entries live `session_lifetime` seconds) or by a session ticket; TLS 1.3 by tickets.
    Tickets cost the server no memory; their key is random per context, so they resume only
    on the process that issued them, and not after the context is rebuilt.
    """

    def __init__(
        self,
        certificate_chain: bytes,
        private_key: bytes,
        *,
        purpose: str,
        client_ca: bytes | None = None,
        crl: bytes | None = None,
        require_client_certificate: bool = False,
        session_lifetime: int = 3600,
    ) -> None:
        chain = x509.load_pem_x509_certificates(certificate_chain)
        key = serialization.load_pem_private_key(private_key, password=None)
        ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.set_max_proto_version(SSL.TLS1_3_VERSION)
        ctx.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_NO_RENEGOTIATION)
        ctx.use_certificate(chain[0])
        for cert in chain[1:]:
            ctx.add_extra_chain_cert(cert)
        ctx.use_privatekey(key)  # type: ignore[arg-type]
        ctx.check_privatekey()
        ctx.set_session_id(b"userman-eap-" + purpose.encode())
        ctx.set_session_cache_mode(SSL.SESS_CACHE_SERVER)
        ctx.set_timeout(session_lifetime)
        self.crls = _load_crls(crl) if crl is not None else []
        self.require_client_certificate = require_client_certificate
        if client_ca is not None:
            store = ctx.get_cert_store()
            assert store is not None
            for ca in x509.load_pem_x509_certificates(client_ca):
                store.add_cert(crypto.X509.from_cryptography(ca))
            for one in self.crls:
                store.add_crl(one)
            if self.crls:
                store.set_flags(crypto.X509StoreFlags.CRL_CHECK)
            mode = SSL.VERIFY_PEER
            if require_client_certificate:
                mode |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT
            ctx.set_verify(mode)
        elif require_client_certificate:
            raise ValueError("a client certificate is required but no client CA is given")
        self.context = ctx


def _load_crls(pem: bytes) -> list[x509.CertificateRevocationList]:
    """Every CRL in `pem` (one or more PEM blocks, one per trusted CA that has one)."""
    marker = b"-----BEGIN X509 CRL-----"
    blocks = [marker + part for part in pem.split(marker)[1:]]
    if not blocks:
        raise ValueError("no PEM CRL found")
    return [x509.load_pem_x509_crl(block) for block in blocks]


class ServerSession:
    """One TLS handshake and tunnel, driven by the conversation with whole TLS messages.

    `receive()` takes what the peer sent (reassembled), `outgoing()` hands back what to send
    (to be fragmented). On a HandshakeError, `outgoing()` still holds the alert to send the
    peer before the EAP-Failure (RFC 5216 2.1.3). `now` is the time of the conversation:
    a resumed session's certificate is checked again against it and the CRL (RFC 9190 5.7).
    After a TLS 1.3 EAP-TLS handshake the conversation writes the one-octet commitment
    b"\\x00" (RFC 9190 2.5) with `write()`; TTLS and PEAP write their inner messages.
    """

    def __init__(self, context: ServerContext, now: datetime) -> None:
        self._context = context
        self._now = now
        self._verify_error: int | None = None
        conn = SSL.Connection(context.context, None)
        if context.context.get_verify_mode() != SSL.VERIFY_NONE:
            conn.set_verify(context.context.get_verify_mode(), self._on_verify)
        conn.set_accept_state()
        self._conn = conn
        self._handshake_done = False
        self._closed = False
        self._plaintext: list[bytes] = []
        self._peer_cert: x509.Certificate | None = None
        self.peer: PeerIdentity | None = None

    @property
    def handshake_done(self) -> bool:
        return self._handshake_done

    @property
    def closed(self) -> bool:
        """The peer sent close_notify."""
        return self._closed

    @property
    def version(self) -> str:
        """ "TLSv1.2" or "TLSv1.3" once negotiated."""
        return self._conn.get_protocol_version_name()

    @property
    def cipher(self) -> str | None:
        return self._conn.get_cipher_name()

    @property
    def resumed(self) -> bool:
        """The handshake resumed an earlier session (no certificate was exchanged)."""
        # pyOpenSSL has no session_reused(); its own binding is the one way to ask OpenSSL.
        return bool(SSL._lib.SSL_session_reused(self._conn._ssl))  # type: ignore[attr-defined]

    def receive(self, records: bytes) -> None:
        """Take TLS records from the peer; advances the handshake, then decrypts the tunnel."""
        if records:
            self._conn.bio_write(records)
        if not self._handshake_done:
            try:
                self._conn.do_handshake()
            except SSL.WantReadError:
                return
            except SSL.Error as exc:
                raise self._failure(exc) from exc
            self._finish_handshake()
        self._read_application_data()

    def outgoing(self) -> bytes:
        """The TLS records waiting to go to the peer (empty if none)."""
        parts = []
        while True:
            try:
                parts.append(self._conn.bio_read(_READ_SIZE))
            except SSL.WantReadError:
                break
        return b"".join(parts)

    def read(self) -> bytes:
        """The tunnel's application data received so far, and forget it."""
        data, self._plaintext = b"".join(self._plaintext), []
        return data

    def write(self, data: bytes) -> None:
        """Put `data` into the tunnel; its records then wait in `outgoing()`."""
        if not self._handshake_done:
            raise TLSError("no application data before the handshake is done")
        try:
            self._conn.sendall(data)
        except SSL.Error as exc:
            raise TLSError(f"cannot write to the tunnel: {exc}") from exc

    def close(self) -> None:
        """The conversation is over and succeeded: keep its session for resumption. OpenSSL
        drops a session from the server's cache when its connection is freed without a
        shutdown (ssl_clear_bad_session); EAP has no TLS close_notify, so the connection is
        marked as shut down both ways, and takes no more data."""
        self._conn.set_shutdown(SSL.SENT_SHUTDOWN | SSL.RECEIVED_SHUTDOWN)

    def keys(self, method: Method) -> Keys:
        """MSK, EMSK and Session-Id of the finished handshake for `method`.

        TLS 1.2: Key_Material = TLS-PRF-128(master_secret, label, client.random ||
        server.random), which is the RFC 5705 exporter without a context; the label is
        "client EAP encryption" for EAP-TLS (RFC 5216 2.3) and PEAPv0, "ttls keying
        material" for TTLS (RFC 5281 8). Session-Id = Type || client.random || server.random.
        TLS 1.3 (RFC 9190 2.3 for EAP-TLS, RFC 9427 2.1 for TTLS and PEAP): Key_Material =
        TLS-Exporter("EXPORTER_EAP_TLS_Key_Material", Type, 128), Method-Id =
        TLS-Exporter("EXPORTER_EAP_TLS_Method-Id", Type, 64), Session-Id = Type || Method-Id.
        MSK = Key_Material[0:64], EMSK = Key_Material[64:128]. (PEAP's crypto-binding, which
        would mix the inner method's keys in, is not used: PEAPv0 with MS-CHAPv2 goes without.)
        """
        if not self._handshake_done:
            raise TLSError("no keys before the handshake is done")
        export = self._conn.export_keying_material
        type_code = bytes([method])
        if self.version == "TLSv1.3":
            material = export(b"EXPORTER_EAP_TLS_Key_Material", 128, type_code)
            method_id = export(b"EXPORTER_EAP_TLS_Method-Id", 64, type_code)
        else:
            label = b"ttls keying material" if method is Method.TTLS else b"client EAP encryption"
            material = export(label, 128)
            client_random = self._conn.client_random()
            server_random = self._conn.server_random()
            assert client_random is not None
            assert server_random is not None
            method_id = client_random + server_random
        return Keys(msk=material[:64], emsk=material[64:128], session_id=type_code + method_id)

    def export(self, label: bytes, size: int) -> bytes:
        """`size` octets of the TLS exporter with `label` and no context (RFC 5705; RFC 8446
        7.5): TTLS's challenge material, "ttls challenge" (RFC 5281 11.1)."""
        if not self._handshake_done:
            raise TLSError("no keying material before the handshake is done")
        return self._conn.export_keying_material(label, size)

    def _on_verify(
        self, conn: SSL.Connection, cert: crypto.X509, errnum: int, depth: int, ok: int
    ) -> bool:
        if not ok and self._verify_error is None:
            self._verify_error = errnum
        return bool(ok)

    def _failure(self, exc: SSL.Error) -> HandshakeError:
        if self._verify_error is not None:
            reason = _VERIFY_FAILURES.get(self._verify_error, Failure.UNVERIFIED)
            return HandshakeError(reason, f"X509 verify error {self._verify_error}")
        detail = str(exc)
        if "peer did not return a certificate" in detail:
            return HandshakeError(Failure.NO_CERTIFICATE, detail)
        return HandshakeError(Failure.PROTOCOL, detail)

    def _finish_handshake(self) -> None:
        self._handshake_done = True
        cert = self._conn.get_peer_certificate(as_cryptography=True)
        if cert is not None:
            self._peer_cert, self.peer = cert, PeerIdentity.of(cert)
        elif self._context.require_client_certificate:
            raise HandshakeError(Failure.NO_CERTIFICATE, "the session carries no certificate")
        if self.resumed and self.peer is not None:
            # https://www.rfc-editor.org/rfc/rfc9190#section-5.7: a resumed session's
            # certificate may have expired or been revoked since it was verified.
            if self._now > self.peer.not_after:
                raise HandshakeError(Failure.EXPIRED, "on resumption")
            if self._now < self.peer.not_before:
                raise HandshakeError(Failure.NOT_YET_VALID, "on resumption")
            serial = self.peer.serial
            if any(
                crl.get_revoked_certificate_by_serial_number(serial) for crl in self._context.crls
            ):
                raise HandshakeError(Failure.REVOKED, "on resumption")

    def _read_application_data(self) -> None:
        while True:
            try:
                data = self._conn.recv(_READ_SIZE)
            except SSL.WantReadError:
                return
            except SSL.ZeroReturnError:
                self._closed = True
                return
            except SSL.Error as exc:
                raise TLSError(f"cannot read the tunnel: {exc}") from exc
            self._plaintext.append(data)
