"""Outbound connections made for a tenant (services/destinations.py): its SMTP server and PayPal
URLs reach only public addresses unless the superuser allows private ones; the host is looked
up once and the connection goes to the address that was checked; TLS checks the host name.
Real connections only to 127.0.0.1 (the test SMTP server, the PayPal stand-in)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from paypal_standin import CLIENT_ID, SECRET, WEBHOOK_ID, PayPal, running_paypal
from smtpbox import Certificate, make_certificate, smtp_server
from support import allow_private_destinations, run
from userman.core.errors import InvalidValueError, PermissionDeniedError, UnknownPropertyError
from userman.services import Actor, Userman, destinations
from userman.services.destinations import DestinationError, check
from userman.services.mail import MailError, SmtpConfig, message, send
from userman.services.payments import PayPalSettings
from userman.web.paypal_api import PayPalClient, PayPalError, post_back_ipn

ROOT = Actor.superuser()
REFUSED = [
    ("127.0.0.1", "127.0.0.1 is a loopback address"),
    ("::1", "::1 is a loopback address"),
    ("10.1.2.3", "10.1.2.3 is a private address"),
    ("192.168.0.1", "192.168.0.1 is a private address"),
    ("169.254.169.254", "169.254.169.254 is a link-local address"),
    ("fe80::1", "fe80::1 is a link-local address"),
    ("0.0.0.0", "0.0.0.0 is an unspecified address"),
    ("224.0.0.1", "224.0.0.1 is a multicast address"),
    ("240.0.0.1", "240.0.0.1 is a reserved address"),
    ("::ffff:127.0.0.1", "::ffff:127.0.0.1 is a loopback address"),
    ("100.64.0.1", "100.64.0.1 is a non-public address"),
    ("localhost", "localhost resolves to"),
]


@pytest.mark.parametrize(("host", "said"), REFUSED)
def test_a_private_destination_is_refused_with_its_host(host: str, said: str) -> None:
    with pytest.raises(DestinationError) as refused:
        check(host, 25, allow_private=False)
    assert said in str(refused.value)
    assert "private destinations are not allowed" in str(refused.value)
    assert "allow-private-destinations=yes" in str(refused.value)
    assert check(host, 25, allow_private=True)  # the superuser's switch lets it through


@pytest.mark.parametrize("host", ["8.8.8.8", "2001:4860:4860::8888", "93.184.216.34"])
def test_a_public_address_passes(host: str) -> None:
    [(*_, sockaddr)] = check(host, 443, allow_private=False)
    assert sockaddr[0] == host


def _resolving(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """getaddrinfo answers each look-up with the next address (DNS rebinding); the hosts
    looked up are returned."""
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def fake(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host)
        return real(answers[min(len(looked_up), len(answers)) - 1], port, *args, **kwargs)

    monkeypatch.setattr(destinations.socket, "getaddrinfo", fake)
    return looked_up


def test_the_connection_goes_to_the_address_checked_without_a_second_look_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The name is public when checked and loopback on any later look-up: the connection goes
    # to the public address that was checked (here refused at once, no network needed).
    looked_up = _resolving(monkeypatch, "8.8.8.8", "127.0.0.1")
    tried: list[object] = []

    def connect(self: socket.socket, address: object) -> None:
        tried.append(address)
        raise ConnectionRefusedError("refused here")

    monkeypatch.setattr(socket.socket, "connect", connect)
    config = SmtpConfig("rebind.example", 25, sender="um@example.com")
    with pytest.raises(MailError, match=re.escape("cannot reach rebind.example")):
        send(config, message(config, "a@b.example", "s", "b"), timeout=2)
    assert looked_up == ["rebind.example"]
    assert tried == [("8.8.8.8", 25)]


def test_a_test_mail_to_loopback_is_refused_and_nothing_is_sent() -> None:
    with smtp_server() as mailbox:
        for host in ("127.0.0.1", "localhost"):
            config = SmtpConfig(host, mailbox.port, sender="um@example.com")
            with pytest.raises(MailError) as refused:
                send(config, message(config, "a@b.example", "s", "b"), timeout=3)
            assert str(refused.value).startswith(f"cannot send to the SMTP server: {host} ")
            assert "private destinations are not allowed" in str(refused.value)
        assert mailbox.messages == []
        allowed = SmtpConfig("localhost", mailbox.port, sender="um@example.com", allow_private=True)
        send(allowed, message(allowed, "a@b.example", "s", "b"), timeout=3)
        assert len(mailbox.wait()) == 1


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("smtp-tls"))


def test_tls_checks_the_host_name_not_the_address_connected_to(
    certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The certificate is for 127.0.0.1: a name that resolves to it is still not that name.
    _resolving(monkeypatch, "127.0.0.1")
    with smtp_server(tls=certificate.server_context()) as mailbox:
        config = SmtpConfig(
            "mail.example", mailbox.port, "tls", sender="um@example.com", allow_private=True
        )
        with pytest.raises(MailError, match=re.escape("TLS with mail.example")):
            send(
                config,
                message(config, "a@b.example", "s", "b"),
                context=certificate.client_context(),
            )
        assert mailbox.messages == []


def test_starttls_checks_the_host_name_too(
    certificate: Certificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    _resolving(monkeypatch, "127.0.0.1")
    with smtp_server(starttls=certificate.server_context()) as mailbox:
        config = SmtpConfig(
            "mail.example", mailbox.port, "starttls", sender="um@example.com", allow_private=True
        )
        with pytest.raises(MailError, match=re.escape("TLS with mail.example")):
            send(
                config,
                message(config, "a@b.example", "s", "b"),
                context=certificate.client_context(),
            )
        assert mailbox.messages == []


@pytest.fixture(scope="module")
def paypal() -> Iterator[PayPal]:
    with running_paypal() as standin:
        yield standin


def test_paypal_urls_at_private_addresses_are_refused(paypal: PayPal) -> None:
    local = paypal.api_base.replace("127.0.0.1", "localhost")
    for base in (paypal.api_base, local):
        settings = PayPalSettings(CLIENT_ID, SECRET, base, paypal.ipn_url, WEBHOOK_ID)
        with pytest.raises(PayPalError) as refused:
            PayPalClient(settings).token()
        assert refused.value.name == "destination not allowed"
        assert "private destinations are not allowed" in refused.value.issue
    with pytest.raises(PayPalError, match="destination not allowed"):
        post_back_ipn(paypal.ipn_url, b"txn_id=1", allow_private=False)
    assert paypal.requests == []
    allowed = PayPalSettings(CLIENT_ID, SECRET, local, paypal.ipn_url, WEBHOOK_ID, True)
    assert PayPalClient(allowed).token()


def test_only_http_and_https_urls_are_opened(tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "oauth2").write_text('{"access_token": "from a file"}')
    settings = PayPalSettings(CLIENT_ID, SECRET, f"file://{tmp_path}", allow_private=True)
    with pytest.raises(PayPalError, match="unreachable") as refused:
        PayPalClient(settings).token()
    assert "unknown url type" in refused.value.issue


def test_only_the_superuser_allows_private_destinations(app: Userman) -> None:
    owner = app.actor("admin")
    assert run(app, owner, "database print").items[0].json["allow-private-destinations"] == "no"
    with pytest.raises(PermissionDeniedError, match="the superuser"):
        run(app, owner, "database set", **{"allow-private-destinations": "yes"})
    with pytest.raises(UnknownPropertyError):
        run(app, ROOT, "database set", colour="red")
    with pytest.raises(InvalidValueError, match="allow-private-destinations"):
        run(app, ROOT, "database set", **{"allow-private-destinations": "maybe"})
    allow_private_destinations(app)
    assert run(app, owner, "database print").items[0].json["allow-private-destinations"] == "yes"
    run(app, ROOT, "database set", **{"allow-private-destinations": "no"})
    assert run(app, owner, "database print").items[0].json["allow-private-destinations"] == "no"


def test_the_test_mail_of_a_subscriber_follows_the_switch(app: Userman) -> None:
    owner = app.actor("admin")
    with smtp_server() as mailbox:
        app.change_settings(
            owner,
            {"smtp-server": "127.0.0.1", "smtp-port": str(mailbox.port), "smtp-from": "a@b.c"},
        )
        with pytest.raises(MailError, match=re.escape("127.0.0.1 is a loopback address")):
            app.send_test_mail(owner, "me@example.net")
        assert mailbox.messages == []
        allow_private_destinations(app)
        app.send_test_mail(owner, "me@example.net")
        assert len(mailbox.wait()) == 1
