"""Sending e-mail through a subscriber's SMTP server (its settings: smtp-*).

`send()` blocks on the network (smtplib): callers run it in a worker thread, never on the event
loop (the web pages' handlers are plain functions, which FastAPI runs in its thread pool).
Security `tls` opens a TLS connection (SMTPS, port 465), `starttls` upgrades a plain one (port
587 or 25) and refuses to go on without it, `none` sends in clear. Certificates are checked
against the system's authorities unless the caller passes its own SSL context (the tests).
Any failure becomes MailError, whose text says what went wrong without the password. The SMTP
server must be at a public address unless the superuser allows private ones
(services/destinations.py): the connection goes to the address that was checked.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from userman.services.destinations import DestinationError, connect

__all__ = ["MailError", "SmtpConfig", "message", "send"]

TIMEOUT = 20.0  # seconds for each network step


class MailError(Exception):
    """The mail could not be sent (not configured, refused, or unreachable)."""


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    server: str
    port: int = 25
    security: str = "none"  # none, starttls, tls
    user: str = ""
    password: str = ""
    sender: str = ""  # the From address
    # Whether the server may be at a loopback, private or other non-public address (the
    # superuser's allow-private-destinations).
    allow_private: bool = False

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, object], fallback_sender: str = "", *, allow_private: bool
    ) -> SmtpConfig:
        port = settings.get("smtp-port")
        return cls(
            server=str(settings.get("smtp-server") or ""),
            port=port if isinstance(port, int) else 25,
            security=str(settings.get("smtp-security") or "none"),
            user=str(settings.get("smtp-user") or ""),
            password=str(settings.get("smtp-password") or ""),
            sender=str(settings.get("smtp-from") or "") or fallback_sender,
            allow_private=allow_private,
        )


class _SMTP(smtplib.SMTP):
    """smtplib's client, connecting only to a checked address (STARTTLS still checks the
    certificate against the host name, which smtplib keeps)."""

    def __init__(self, host: str, port: int, *, allow_private: bool, **kwargs: Any) -> None:
        self.allow_private = allow_private  # before connect(), which the constructor calls
        super().__init__(host, port, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        if timeout is not None and not timeout:
            raise ValueError("Non-blocking socket (timeout=0) is not supported")
        source: Any = self.source_address
        return connect(host, port, timeout, source, allow_private=self.allow_private)


class _SMTPSSL(smtplib.SMTP_SSL, _SMTP):
    """SMTP_SSL's, whose _get_socket wraps what _SMTP's connected to for the host name."""

    def __init__(self, host: str, port: int, *, allow_private: bool, **kwargs: Any) -> None:
        self.allow_private = allow_private
        smtplib.SMTP_SSL.__init__(self, host, port, **kwargs)


def message(
    config: SmtpConfig, to: str, subject: str, body: str, reply_to: str = ""
) -> EmailMessage:
    """A plain-text message from the configured sender."""
    mail = EmailMessage()
    mail["From"] = config.sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    domain = config.sender.rpartition("@")[2] or None
    mail["Message-ID"] = make_msgid(domain=domain)
    if reply_to and reply_to != config.sender:
        mail["Reply-To"] = reply_to
    mail.set_content(body)
    return mail


def send(
    config: SmtpConfig,
    mail: EmailMessage,
    *,
    context: ssl.SSLContext | None = None,
    timeout: float = TIMEOUT,
) -> None:
    """Send one message; MailError when it could not be."""
    if not config.server:
        raise MailError("no SMTP server is configured (settings: smtp-server)")
    if not config.sender:
        raise MailError("no sender address is configured (settings: smtp-from)")
    context = context or ssl.create_default_context()
    try:
        client: smtplib.SMTP
        guard = config.allow_private
        if config.security == "tls":
            client = _SMTPSSL(
                config.server, config.port, timeout=timeout, context=context, allow_private=guard
            )
        else:
            client = _SMTP(config.server, config.port, timeout=timeout, allow_private=guard)
        with client:
            if config.security == "starttls":
                client.starttls(context=context)  # SMTPNotSupportedError: the server has none
                client.ehlo()
            if config.user:
                client.login(config.user, config.password)
            client.send_message(mail)
    except smtplib.SMTPAuthenticationError as error:
        reason = f"the SMTP server refused the log-in as {config.user} ({error.smtp_code})"
        raise MailError(reason) from None
    except smtplib.SMTPNotSupportedError as error:
        raise MailError(f"the SMTP server does not offer it: {error}") from None
    except smtplib.SMTPException as error:
        raise MailError(f"the SMTP server refused the mail: {error}") from None
    except DestinationError as error:
        raise MailError(f"cannot send to the SMTP server: {error}") from None
    except ssl.SSLError as error:
        raise MailError(f"TLS with {config.server}:{config.port} failed: {error.reason}") from None
    except OSError as error:
        raise MailError(f"cannot reach {config.server}:{config.port}: {error}") from None
