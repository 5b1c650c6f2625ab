"""Where a tenant's settings make the server connect (its SMTP server, PayPal's URLs): only to
public addresses, unless the superuser allows private ones (services/settings.py,
allow-private-destinations). Otherwise any owner could reach, or scan, the server's own network.
Where CoA/Disconnect-Requests may go (a router's address, `local_kind`): private networks, where
routers sit, but not this host or its link, unless the superuser allows that too.

The host is looked up once, every address it has is checked, and the connection goes to a
checked address: a name that answers differently when looked up again (DNS rebinding) gets no
second look-up. TLS still checks the certificate against the host name. Blocking: callers run
in worker threads, never on the event loop.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import socket
import urllib.request
from typing import Any

__all__ = ["DestinationError", "check", "connect", "local_kind", "opener"]

# The addresses that are not the public Internet, by the name a refusal gives them (the first
# that fits): what a tenant may not make the server connect to unless the superuser allows it.
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
KINDS: tuple[tuple[str, str], ...] = (
    ("unspecified", "is_unspecified"),
    ("loopback", "is_loopback"),
    ("link-local", "is_link_local"),
    ("multicast", "is_multicast"),
    ("reserved", "is_reserved"),
    ("private", "is_private"),
    ("site-local", "is_site_local"),
)


class DestinationError(OSError):
    """A connection the settings ask for goes to an address that is not allowed. An OSError,
    as any connection that cannot be made, so that urllib and smtplib pass it on."""


def _kind(ip: IpAddress) -> str | None:
    """What makes `ip` a private destination, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, test in KINDS:
        if getattr(ip, test, False):
            return kind
    return None if ip.is_global else "non-public"


# The addresses a router that a tenant names cannot legitimately have for CoA/Disconnect (RFC
# 5176 requests go to the router's address): this host (unspecified 0.0.0.0/8 and ::, loopback
# 127.0.0.0/8 and ::1), this link (link-local 169.254.0.0/16, a cloud's metadata service among
# them, and fe80::/10), and more than one host (multicast, the limited broadcast).
LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")


def local_kind(address: str) -> str | None:
    """What makes a router's `address` unfit for CoA/Disconnect ("a loopback address"), or None
    for one that may be a router's (public or private). Not an address at all: None."""
    try:
        ip: IpAddress = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in THIS_NETWORK):
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip == LIMITED_BROADCAST:
        return "the broadcast address"
    return None


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check(host: str, port: int, *, allow_private: bool) -> list[tuple[Any, ...]]:
    """The addresses of `host` (getaddrinfo's tuples, for a stream socket), once every one is
    checked; DestinationError names the host and the first address that is not allowed."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise OSError(f"cannot look up {host}: {error}") from None
    if allow_private:
        return found
    for *_, sockaddr in found:
        ip = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        kind = _kind(ip)
        if kind is not None:
            what = f"{host} is" if _literal(host) == ip else f"{host} resolves to {ip},"
            article = "an" if kind[0] in "aeiou" else "a"
            raise DestinationError(
                f"{what} {article} {kind} address: private destinations are not allowed (the"
                " superuser allows them with: userman database set allow-private-destinations=yes)"
            )
    return found


def connect(
    host: str,
    port: int,
    timeout: float | None,
    source_address: tuple[str, int] | None = None,
    *,
    allow_private: bool,
) -> socket.socket:
    """A TCP connection to a checked address of `host` (each in turn, as
    socket.create_connection tries them); the last failure when none answers."""
    failure: OSError = OSError(f"cannot connect to {host}: no address")
    for family, kind, proto, _, sockaddr in check(host, port, allow_private=allow_private):
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address is not None:
                sock.bind(source_address)
            sock.connect(sockaddr)
        except OSError as error:
            sock.close()
            failure = error
            continue
        return sock
    raise failure


def _connector(allow_private: bool) -> Any:
    """socket.create_connection's signature, for http.client's `_create_connection`."""

    def create(
        address: tuple[str, int],
        timeout: float | None = None,
        source_address: tuple[str, int] | None = None,
    ) -> socket.socket:
        host, port = address
        return connect(host, port, timeout, source_address, allow_private=allow_private)

    return create


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, allow_private: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connector(allow_private)


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, allow_private: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _connector(allow_private)  # wrapped for self.host after


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_HTTPConnection, allow_private=self.allow_private)
        return self.do_open(connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_HTTPSConnection, allow_private=self.allow_private)
        return self.do_open(connection, req, context=self._context)  # type: ignore[attr-defined]


def opener(*, allow_private: bool) -> urllib.request.OpenerDirector:
    """A urllib opener for http and https URLs only (no file:, ftp: or data:, no proxy from
    the environment), whose every connection, redirects included, goes to a checked address."""
    director = urllib.request.OpenerDirector()
    for handler in (
        _HTTPHandler(allow_private),
        _HTTPSHandler(allow_private),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        director.add_handler(handler)
    return director
