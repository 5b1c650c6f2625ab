"""The mailer (services/mail.py) against a real SMTP server on 127.0.0.1 (aiosmtpd): in clear,
with STARTTLS, with TLS from the start, with a log-in; and its failures as MailError."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpbox import Certificate, free_port, make_certificate, smtp_server
from userman.services.mail import MailError, SmtpConfig, message, send


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))


def test_a_mail_in_clear_arrives_with_its_headers() -> None:
    with smtp_server() as mailbox:
        config = SmtpConfig("127.0.0.1", mailbox.port, sender="um@example.com", allow_private=True)
        send(config, message(config, "ann@example.net", "Hello", "Some text.\n", "boss@x.org"))
        [got] = mailbox.wait()
    assert got.sender == "um@example.com"
    assert got.recipients == ["ann@example.net"]
    assert got.message["Subject"] == "Hello"
    assert got.message["Reply-To"] == "boss@x.org"
    assert got.message["Message-ID"].endswith("@example.com>")
    assert got.message.get_content().rstrip() == "Some text."
    assert not got.tls


def test_starttls_with_a_log_in(certificate: Certificate) -> None:
    server = certificate.server_context()
    with smtp_server(login="um", password="s3cret", starttls=server) as mailbox:
        config = SmtpConfig(
            "127.0.0.1", mailbox.port, "starttls", "um", "s3cret", "um@example.com", True
        )
        send(config, message(config, "a@b.example", "s", "b"), context=certificate.client_context())
        [got] = mailbox.wait()
    assert got.tls
    assert got.login == "um"


def test_tls_from_the_start(certificate: Certificate) -> None:
    with smtp_server(tls=certificate.server_context()) as mailbox:
        config = SmtpConfig(
            "127.0.0.1", mailbox.port, "tls", sender="um@example.com", allow_private=True
        )
        send(config, message(config, "a@b.example", "s", "b"), context=certificate.client_context())
        assert mailbox.wait()[0].message["Subject"] == "s"


def test_a_certificate_that_is_not_trusted_is_refused(certificate: Certificate) -> None:
    with smtp_server(tls=certificate.server_context()) as mailbox:
        config = SmtpConfig(
            "127.0.0.1", mailbox.port, "tls", sender="um@example.com", allow_private=True
        )
        with pytest.raises(MailError, match="TLS"):
            send(config, message(config, "a@b.example", "s", "b"))  # the system's authorities
        assert mailbox.messages == []


def test_starttls_is_not_skipped_when_the_server_lacks_it() -> None:
    with smtp_server() as mailbox:
        config = SmtpConfig(
            "127.0.0.1", mailbox.port, "starttls", sender="um@example.com", allow_private=True
        )
        with pytest.raises(MailError, match="does not offer"):
            send(config, message(config, "a@b.example", "s", "b"))
        assert mailbox.messages == []


def test_a_wrong_password_says_so_without_the_password(certificate: Certificate) -> None:
    server = certificate.server_context()
    with smtp_server(login="um", password="right", starttls=server) as mailbox:
        config = SmtpConfig(
            "127.0.0.1", mailbox.port, "starttls", "um", "wrong-one", "um@example.com", True
        )
        with pytest.raises(MailError, match="refused the log-in as um") as refused:
            send(
                config,
                message(config, "a@b.example", "s", "b"),
                context=certificate.client_context(),
            )
        assert "wrong-one" not in str(refused.value)
        assert mailbox.messages == []


def test_unreachable_and_unconfigured(tmp_path: Path) -> None:
    config = SmtpConfig("127.0.0.1", free_port(), sender="um@example.com", allow_private=True)
    with pytest.raises(MailError, match="cannot reach"):
        send(config, message(config, "a@b.example", "s", "b"), timeout=3)
    with pytest.raises(MailError, match="no SMTP server"):
        send(SmtpConfig(""), message(config, "a@b.example", "s", "b"))
    with pytest.raises(MailError, match="no sender"):
        send(SmtpConfig("127.0.0.1"), message(config, "a@b.example", "s", "b"))
