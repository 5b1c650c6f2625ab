"""What the load generator sends and what it expects back, built with userman's own codec.

Each kind of packet is encoded once by `userman.radius` (build + encode) as a `Template`; per
request only its fixed-width slots (user name, hidden password, CHAP-Password, MS-CHAP values,
session id, counters), the identifier and the authenticators change, filled with the codec's
primitives (hide_user_password, chap_response, the mschap helpers) and the RFC's MD5/HMAC-MD5.
tests/bench proves a filled template is byte for byte the codec's encode of the same packet.
Each request comes with its `Expect`: what its answer must be. No sockets, no clock.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from population import (
    ROUTER_ADDRESS,
    SECRET,
    calling_station,
    password,
    user_name,
)

from userman.radius import mschap
from userman.radius.chap import chap_response
from userman.radius.dictionary import default_dictionary
from userman.radius.hiding import hide_user_password
from userman.radius.packet import AttributeSpec, Code, build, encode

D = default_dictionary()
AUTH, ACCT = 0, 1  # the channels: the authentication and the accounting port
METHODS = ("pap", "chap", "mschapv2")
_VSA = 26
_ZERO = bytes(16)
_SUCCESS = D.attribute("MS-CHAP2-Success")


@dataclass(frozen=True, slots=True)
class Template:
    """A packet as the codec encoded it; `slots` maps an attribute's name to the offset and
    length of its value, `message_authenticator` is the offset of that value (or None)."""

    data: bytes
    slots: Mapping[str, tuple[int, int]]
    message_authenticator: int | None

    def slot(self, name: str) -> int:
        return self.slots[name][0]


def template(
    code: Code, attributes: Sequence[AttributeSpec], *, message_authenticator: bool = False
) -> Template:
    """Encode `attributes` once with the codec and find where each value sits."""
    pkt = build(D, code, 0, _ZERO, attributes)
    data = encode(
        pkt,
        SECRET,
        request_authenticator=None if code.is_request else _ZERO,
        message_authenticator=message_authenticator,
    )
    slots: dict[str, tuple[int, int]] = {}
    for name, offset, length in _values(data):
        if name in slots:
            raise ValueError(f"{name} appears twice: not a template slot")
        slots[name] = (offset, length)
    ma = slots.pop("Message-Authenticator", None)
    return Template(data, slots, None if ma is None else ma[0])


def _values(data: bytes) -> Iterator[tuple[str, int, int]]:
    """(name, offset, length) of each attribute value; a VSA's sub-attributes one by one."""
    at = 20
    while at < len(data):
        code, length = data[at], data[at + 1]
        if code == _VSA:
            vendor = int.from_bytes(data[at + 2 : at + 6])
            sub = at + 6
            while sub < at + length:
                yield D.lookup(data[sub], vendor).name, sub + 2, data[sub + 1] - 2
                sub += data[sub + 1]
        else:
            yield D.lookup(code).name, at + 2, length - 2
        at += length


def sign_request(buf: bytearray, template: Template) -> bytes:
    """Finish a filled request: an Access-Request's Message-Authenticator (HMAC-MD5 with the
    field zeroed, RFC 3579 3.2), or an Accounting-Request's Request Authenticator (MD5 over the
    packet with 16 zero octets, then the secret, RFC 2866 3)."""
    if buf[0] == Code.ACCOUNTING_REQUEST:
        buf[4:20] = _ZERO
        buf[4:20] = hashlib.md5(bytes(buf) + SECRET).digest()
    elif template.message_authenticator is not None:
        at = template.message_authenticator
        buf[at : at + 16] = _ZERO
        buf[at : at + 16] = hmac.digest(SECRET, buf, "md5")
    return bytes(buf)


def sign_response(buf: bytearray, template: Template, request_authenticator: bytes) -> bytes:
    """Finish a filled response: Message-Authenticator over the packet with the request's
    authenticator in place (RFC 3579 3.2), then the Response Authenticator (RFC 2865 3)."""
    buf[4:20] = request_authenticator
    if template.message_authenticator is not None:
        at = template.message_authenticator
        buf[at : at + 16] = _ZERO
        buf[at : at + 16] = hmac.digest(SECRET, buf, "md5")
    buf[4:20] = hashlib.md5(bytes(buf) + SECRET).digest()
    return bytes(buf)


# --- the users' credentials ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MschapV2Login:
    """One user's MS-CHAPv2 exchange: the challenge, the peer's response, the expected
    MS-CHAP2-Success sub-attribute (Type, Length, value) as it must appear in the Accept."""

    challenge: bytes
    response: bytes
    success: bytes


def mschap_v2_login(n: int) -> MschapV2Login:
    """User `n`'s exchange, from the codec's peer-side helpers (RFC 2759 8, RFC 2548 2.3)."""
    seed = hashlib.sha256(b"userman-bench-mschap:%d" % n).digest()
    challenge, peer_challenge, ident = seed[:16], seed[16:32], n % 256
    name = user_name(n).encode()
    secret = password(n)
    response = mschap.mschap_v2_response(ident, name, secret, challenge, peer_challenge)
    success = mschap.generate_authenticator_response(
        secret, response[26:50], peer_challenge, challenge, name
    )
    value = bytes((ident,)) + success.encode("ascii")
    return MschapV2Login(challenge, response, bytes((_SUCCESS.code, len(value) + 2)) + value)


def access_attributes(
    method: str, n: int, ident: int = 0, authenticator: bytes = _ZERO
) -> list[AttributeSpec]:
    """User `n`'s Access-Request attributes for `method` (pap, chap, mschapv2), as a MikroTik
    hotspot sends them. CHAP's challenge is the Request Authenticator (RFC 2865 5.3), its
    CHAP Ident the packet's identifier."""
    attributes: list[AttributeSpec] = [("User-Name", user_name(n))]
    if method == "pap":
        attributes.append(("User-Password", password(n)))
    elif method == "chap":
        response = chap_response(ident, password(n).encode(), authenticator)
        attributes.append(("CHAP-Password", bytes((ident,)) + response))
    elif method == "mschapv2":
        login = mschap_v2_login(n)
        attributes += [
            ("MS-CHAP-Challenge", login.challenge),
            ("MS-CHAP2-Response", login.response),
        ]
    else:
        raise ValueError(f"unknown method {method!r}")
    attributes += [
        ("NAS-IP-Address", ROUTER_ADDRESS),
        ("NAS-Identifier", "bench"),
        ("NAS-Port-Type", "Wireless-802.11"),
        ("Service-Type", "Login-User"),
        ("Calling-Station-Id", calling_station(n)),
        ("Called-Station-Id", "hotspot1"),
    ]
    return attributes


# --- what a request expects ----------------------------------------------------------------


@dataclass(slots=True)
class Expect:
    """What the answer to one request must be: its code, signed over the request's
    authenticator, and for MS-CHAPv2 the MS-CHAP2-Success `needle` among its attributes.
    `user` and `follow` are the flow's own (the storm's Start after an Accept)."""

    channel: int
    code: int
    authenticator: bytes
    needle: bytes | None = None
    user: int = -1
    follow: bool = False


class Authenticators:
    """Fresh random Request Authenticators, drawn from the OS 4096 at a time."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> bytes:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(16 * 4096), 0
        self._at += 16
        return self._pool[self._at - 16 : self._at]


class AccessRequests:
    """Access-Requests by one method for any user: the codec's template, filled per request
    with a fresh authenticator (so no server ever takes one for a retransmission)."""

    def __init__(self, method: str, users: int) -> None:
        self.method = method
        self._logins: list[MschapV2Login] = []
        if method == "mschapv2":
            self._logins = [mschap_v2_login(n) for n in range(users)]
        self.template = template(
            Code.ACCESS_REQUEST, access_attributes(method, 0), message_authenticator=True
        )
        self._names = [user_name(n).encode() for n in range(users)]
        self._passwords = [password(n).encode() for n in range(users)]
        self._stations = [calling_station(n).encode() for n in range(users)]
        self._authenticators = Authenticators()
        slot = self.template.slot
        self._name_at, self._station_at = slot("User-Name"), slot("Calling-Station-Id")
        self._secret_at = slot(
            {"pap": "User-Password", "chap": "CHAP-Password", "mschapv2": "MS-CHAP2-Response"}[
                method
            ]
        )
        self._challenge_at = slot("MS-CHAP-Challenge") if method == "mschapv2" else 0

    def make(self, ident: int, n: int, authenticator: bytes | None = None) -> tuple[bytes, Expect]:
        """User `n`'s request with identifier `ident`, and what its answer must be."""
        auth = authenticator or self._authenticators.next()
        buf = bytearray(self.template.data)
        buf[1] = ident
        buf[4:20] = auth
        name = self._names[n]
        buf[self._name_at : self._name_at + len(name)] = name
        station = self._stations[n]
        buf[self._station_at : self._station_at + len(station)] = station
        at, needle = self._secret_at, None
        if self.method == "pap":
            buf[at : at + 16] = hide_user_password(self._passwords[n], SECRET, auth)
        elif self.method == "chap":
            # https://www.rfc-editor.org/rfc/rfc2865#section-5.3: no CHAP-Challenge attribute,
            # so the challenge is the Request Authenticator.
            buf[at : at + 17] = bytes((ident,)) + chap_response(ident, self._passwords[n], auth)
        else:
            login = self._logins[n]
            buf[at : at + 50] = login.response
            buf[self._challenge_at : self._challenge_at + 16] = login.challenge
            needle = login.success
        data = sign_request(buf, self.template)
        return data, Expect(AUTH, Code.ACCESS_ACCEPT, auth, needle, n)


# --- accounting ----------------------------------------------------------------------------

STATUS_ROUNDS = ("Start", "Interim-Update", "Interim-Update", "Stop")


def accounting_attributes(status: str, n: int, session: str) -> list[AttributeSpec]:
    """An Accounting-Request of user `n`'s `session` (16 characters) as RouterOS sends one;
    counters are placeholders that `AccountingRequests` fills. Accounting-On names only the
    router (RFC 2866 5.1: the NAS has restarted; its sessions are over)."""
    router: list[AttributeSpec] = [
        ("NAS-IP-Address", ROUTER_ADDRESS),
        ("NAS-Identifier", "bench"),
        ("Event-Timestamp", 0),
        ("Acct-Delay-Time", 0),
    ]
    if status == "Accounting-On":
        return [("Acct-Status-Type", status), ("Acct-Session-Id", session), *router]
    attributes: list[AttributeSpec] = [
        ("User-Name", user_name(n)),
        ("Acct-Status-Type", status),
        ("Acct-Session-Id", session),
        *router,
        ("NAS-Port-Type", "Wireless-802.11"),
        ("NAS-Port", 0),
        ("Calling-Station-Id", calling_station(n)),
        ("Called-Station-Id", "hotspot1"),
        ("Framed-IP-Address", "10.0.0.1"),
    ]
    if status != "Start":
        attributes += [
            ("Acct-Session-Time", 0),
            ("Acct-Input-Octets", 0),
            ("Acct-Output-Octets", 0),
            ("Acct-Input-Gigawords", 0),
            ("Acct-Output-Gigawords", 0),
            ("Acct-Input-Packets", 0),
            ("Acct-Output-Packets", 0),
        ]
    if status == "Stop":
        attributes.append(("Acct-Terminate-Cause", "User-Request"))
    return attributes


@dataclass(frozen=True, slots=True)
class Usage:
    """The counters of one Accounting-Request."""

    port: int
    address: int
    timestamp: int
    session_time: int = 0
    input_octets: int = 0
    output_octets: int = 0
    input_packets: int = 0
    output_packets: int = 0


_COUNTERS = (
    ("NAS-Port", "port"),
    ("Framed-IP-Address", "address"),
    ("Event-Timestamp", "timestamp"),
    ("Acct-Session-Time", "session_time"),
    ("Acct-Input-Octets", "input_octets"),
    ("Acct-Output-Octets", "output_octets"),
    ("Acct-Input-Packets", "input_packets"),
    ("Acct-Output-Packets", "output_packets"),
)


class AccountingRequests:
    """Accounting-Requests of any user and session: one codec template per status."""

    def __init__(self) -> None:
        self.templates = {
            status: template(Code.ACCOUNTING_REQUEST, accounting_attributes(status, 0, "0" * 16))
            for status in ("Start", "Interim-Update", "Stop", "Accounting-On")
        }

    def make(
        self, ident: int, status: str, n: int, session: str, usage: Usage
    ) -> tuple[bytes, Expect]:
        """User `n`'s request (n < 0 for Accounting-On) and what its answer must be."""
        tpl = self.templates[status]
        buf = bytearray(tpl.data)
        buf[1] = ident
        texts = [("Acct-Session-Id", session)]
        if n >= 0:
            texts += [("User-Name", user_name(n)), ("Calling-Station-Id", calling_station(n))]
        for name, text in texts:
            at, length = tpl.slots[name]
            if len(text) != length:
                raise ValueError(f"{name} {text!r} does not fit the template's {length} octets")
            buf[at : at + length] = text.encode()
        for name, attribute in _COUNTERS:
            if name in tpl.slots:
                at = tpl.slot(name)
                buf[at : at + 4] = getattr(usage, attribute).to_bytes(4)
        data = sign_request(buf, tpl)
        return data, Expect(ACCT, Code.ACCOUNTING_RESPONSE, data[4:20], None, n)
