"""Syslog over TLS (RFC 5425) from `serve --syslog tls://HOST[:6514]`: the collector's
certificate is verified (against `?ca_file=` or the system's CAs) and its name against HOST
(RFC 5425 5.2), and each message is framed by octet counting (RFC 5425 4.3). A collector on
127.0.0.1 with a self-signed certificate the test makes; nothing leaves the host."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.test_logs import RFC5424, _frames, record
from userman.server.logs import Rfc5424Formatter, SyslogHandler, SyslogTarget, syslog_target


def certificate(folder: Path, address: str) -> tuple[Path, Path]:
    """A self-signed certificate for the IP `address` (its subjectAltName), and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{address}.pem", folder / f"{address}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def collector(cert: Path, key: Path) -> Iterator[tuple[int, list[bytes]]]:
    """A TLS syslog collector on 127.0.0.1 for one connection: its port, and what it read."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received: list[bytes] = []
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(5)

        def accept() -> None:
            try:
                conn, _ = server.accept()
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(5)
                    chunks = []
                    while chunk := tls.recv(4096):
                        chunks.append(chunk)
                    received.append(b"".join(chunks))
            except OSError:
                pass  # the client refused our certificate: nothing read

        thread = threading.Thread(target=accept)
        thread.start()
        try:
            yield server.getsockname()[1], received
        finally:
            thread.join(10)


def handler(port: int, ca_file: Path | None) -> SyslogHandler:
    target = SyslogTarget("tls", "127.0.0.1", port, 3, None if ca_file is None else str(ca_file))
    made = SyslogHandler(target)
    made.setFormatter(Rfc5424Formatter(3))
    return made


def test_a_tls_url(tmp_path: Path) -> None:
    cert, _ = certificate(tmp_path, "127.0.0.1")
    assert syslog_target(f"tls://127.0.0.1?ca_file={cert}&facility=local1") == SyslogTarget(
        "tls", "127.0.0.1", 6514, 17, str(cert)
    )
    assert syslog_target("tls://logs.example.net:1514").ca_file is None  # the system's CAs
    with pytest.raises(ValueError, match="cannot read the CA file"):
        syslog_target(f"tls://127.0.0.1?ca_file={tmp_path / 'missing.pem'}")
    with pytest.raises(ValueError, match="ca_file is for tls://"):
        syslog_target(f"tcp://127.0.0.1?ca_file={cert}")


def test_messages_go_over_tls_to_a_verified_collector(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, "127.0.0.1")
    with collector(cert, key) as (port, received):
        sending = handler(port, cert)
        sending.emit(record("first"))
        sending.emit(record("second\nline"))
        sending.close()
    assert sending.dropped == 0
    messages = [RFC5424.fullmatch(m)["msg"] for data in received for m in _frames(data)]  # type: ignore[index]
    assert messages == ["first", "second | line"]


def test_a_collector_whose_certificate_is_not_trusted_gets_nothing(tmp_path: Path) -> None:
    cert, key = certificate(tmp_path, "127.0.0.1")
    with collector(cert, key) as (port, received):
        sending = handler(port, None)  # the system's CAs, which never signed it
        sending.emit(record("secret"))
        sending.close()
    assert (sending.dropped, received) == (1, [])


def test_a_collector_with_another_hosts_certificate_gets_nothing(tmp_path: Path) -> None:
    # Trusted (its own CA file), but for 127.0.0.2, not the 127.0.0.1 the URL names.
    cert, key = certificate(tmp_path, "127.0.0.2")
    with collector(cert, key) as (port, received):
        sending = handler(port, cert)
        sending.emit(record("secret"))
        sending.close()
    assert (sending.dropped, received) == (1, [])
