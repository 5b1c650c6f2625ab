"""A TLS peer for the EAP methods' tests: a test PKI (CA, server, clients good and bad, a CRL),
pyOpenSSL client contexts, and the supplicant's side of the EAP-TLS/TTLS/PEAP framing
(`EapTlsPeer`), with the inner protocol of a tunnel given as a function."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto

from userman.core.authorize import MschapV2Credentials
from userman.eap.fragments import Fragmenter, Frame, Reassembly, decode, encode
from userman.eap.method import Finish, Send, Step, Verdict, Verify
from userman.eap.tls import ServerContext
from userman.eap.tunnel import TlsMethod
from userman.radius import mschap

NOW = datetime.now(UTC)
UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")


@dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def issue(
    cn: str,
    issuer: Issued | None = None,
    *,
    ca: bool = False,
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=30),
    sans: list[x509.GeneralName] | None = None,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    signer = issuer.key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


@dataclass(frozen=True)
class PKI:
    ca: Issued
    server: Issued
    client: Issued
    expired: Issued
    revoked: Issued
    stranger: Issued  # signed by a CA the server does not know
    crl_pem: bytes


def make_pki() -> PKI:
    ca = issue("userman test CA", ca=True)
    other_ca = issue("another CA", ca=True)
    upn = b"\x0c\x10alice@corp.local"  # DER UTF8String
    client = issue(
        "alice",
        ca,
        sans=[
            x509.RFC822Name("alice@example.org"),
            x509.DNSName("laptop.example.org"),
            x509.OtherName(UPN_OID, upn),
        ],
    )
    revoked = issue("mallory", ca)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(NOW - timedelta(hours=1))
        .next_update(NOW + timedelta(days=7))
        .add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(revoked.cert.serial_number)
            .revocation_date(NOW - timedelta(minutes=5))
            .build()
        )
        .sign(ca.key, hashes.SHA256())
    )
    return PKI(
        ca=ca,
        server=issue("radius.example.org", ca),
        client=client,
        expired=issue(
            "bob", ca, not_before=NOW - timedelta(days=60), not_after=NOW - timedelta(days=1)
        ),
        revoked=revoked,
        stranger=issue("eve", other_ca),
        crl_pem=crl.public_bytes(serialization.Encoding.PEM),
    )


def eap_tls_context(pki: PKI) -> ServerContext:
    return ServerContext(
        pki.server.cert_pem + pki.ca.cert_pem,
        pki.server.key_pem,
        purpose="tls",
        client_ca=pki.ca.cert_pem,
        crl=pki.crl_pem,
        require_client_certificate=True,
    )


def tunnel_context(pki: PKI, purpose: str = "peap") -> ServerContext:
    return ServerContext(pki.server.cert_pem, pki.server.key_pem, purpose=purpose)


def client_context(pki: PKI, version: int, client: Issued | None = None) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_min_proto_version(version)
    ctx.set_max_proto_version(version)
    if version == SSL.TLS1_2_VERSION:
        ctx.set_cipher_list(b"ECDHE-ECDSA-AES128-GCM-SHA256")  # its PRF is SHA-256
    store = ctx.get_cert_store()
    assert store is not None
    store.add_cert(crypto.X509.from_cryptography(pki.ca.cert))
    ctx.set_verify(SSL.VERIFY_PEER)
    if client is not None:
        ctx.use_certificate(client.cert)
        ctx.use_privatekey(client.key)
    return ctx


def drain(conn: SSL.Connection) -> bytes:
    out = b""
    while True:
        try:
            out += conn.bio_read(16384)
        except SSL.WantReadError:
            return out


class Client:
    """The supplicant's TLS: a pyOpenSSL client connection over memory BIOs."""

    def __init__(self, ctx: SSL.Context, session: SSL.Session | None = None) -> None:
        self.conn = SSL.Connection(ctx, None)
        self.conn.set_connect_state()
        if session is not None:
            self.conn.set_session(session)
        self.received = b""
        self.done = False  # the handshake is over

    def step(self, records: bytes = b"") -> None:
        if records:
            self.conn.bio_write(records)
        try:
            self.conn.do_handshake()
            self.done = True
            while True:
                self.received += self.conn.recv(16384)
        except SSL.WantReadError:
            pass


class EapTlsPeer:
    """The supplicant's side of EAP-TLS, TTLS or PEAP: `answer(type_data)` takes a Request's
    Type-Data and gives the Response's. `tunnel(plaintext)`, once the handshake is done, gets
    what the server put in the tunnel (b"" right after the handshake) and gives what to put
    in it (b"": nothing); `size` is the peer's own fragment size."""

    def __init__(
        self,
        ctx: SSL.Context,
        *,
        session: SSL.Session | None = None,
        tunnel: Callable[[bytes], bytes] | None = None,
        size: int = 300,
    ) -> None:
        self.client = Client(ctx, session)
        self.tunnel = tunnel
        self.size = size
        self.incoming = Reassembly()
        self.out: Fragmenter | None = None
        self.started_tunnel = False
        self.alert = ""  # the server's alert, if it sent one

    def answer(self, type_data: bytes) -> bytes:
        frame = decode(type_data)
        if self.out is not None and self.out.pending:
            self.out.acknowledge(type_data)
            return self.out.next_fragment()
        if frame.start:
            self.client.step()
            return self._send(drain(self.client.conn))
        message = self.incoming.feed(type_data)
        if message is None:
            return encode(Frame())
        try:
            self.client.step(message)
        except SSL.Error as error:  # the server's alert: acknowledged (RFC 5216 2.1.3)
            self.alert = str(error)
            return encode(Frame())
        conn = self.client.conn
        if self.tunnel is not None and self.client.done:
            received, self.client.received = self.client.received, b""
            if received or not self.started_tunnel:
                self.started_tunnel = True
                reply = self.tunnel(received)
                if reply:
                    conn.sendall(reply)
        return self._send(drain(conn))

    def _send(self, records: bytes) -> bytes:
        self.out = Fragmenter(records, self.size)
        return self.out.next_fragment()


def mschapv2_peer_response(challenge: bytes, name: bytes, password: str) -> bytes:
    """The peer's EAP-MSCHAPv2 Type-Data for the server's Challenge, Success- or
    Failure-Request `challenge` (draft-kamath-pppext-eap-mschapv2-02 section 2)."""
    op = challenge[0]
    if op != 1:
        return bytes([op])  # Success- or Failure-Response: the OpCode alone
    ident, auth_challenge = challenge[1], challenge[5:21]
    value = mschap.mschap_v2_response(ident, name, password, auth_challenge, bytes(range(16)))
    # Value-Size 49: Peer-Challenge, Reserved, NT-Response, Flags (as the draft orders them)
    body = bytes([49]) + value[2:] + b"\x00" + name
    return bytes([2, ident]) + (4 + len(body)).to_bytes(2, "big") + body


def mschapv2_verdict(username: str, credentials: object, password: str) -> Verdict:
    """The verdict the server's decision gives MS-CHAPv2 credentials for `password`."""
    assert isinstance(credentials, MschapV2Credentials)
    found = mschap.verify_mschap_v2(
        username.encode(), password, credentials.challenge, credentials.response
    )
    if found is None:
        return Verdict(False)
    return Verdict(True, found.success[1:], found.recv_key, found.send_key)


def accept(step: Verify) -> Verdict:
    return Verdict(True)


def run(
    method: TlsMethod,
    peer: EapTlsPeer,
    decide: Callable[[Verify], Verdict] = accept,
    seen: list[Verify] | None = None,
) -> Finish:
    """Carry the conversation to its end: each Request's Type-Data to the peer, each Verify
    to `decide` (and into `seen`)."""
    data = method.start()
    for _ in range(200):
        step: Step = method.receive(peer.answer(data))
        while isinstance(step, Verify):
            if seen is not None:
                seen.append(step)
            step = method.decided(decide(step))
        if isinstance(step, Finish):
            return step
        assert isinstance(step, Send)
        data = step.data
    raise AssertionError("the conversation did not end")
