"""From decoded RADIUS packets to the core's request values, and decisions back to replies.

Pure translation, no I/O: which credentials an Access-Request carries (RFC 2865 5.2-5.3,
RFC 2548 2.1-2.3), what an Accounting-Request reports (RFC 2866 5), and which attributes an
Access-Accept or -Reject carries, Proxy-State (RFC 2865 5.33) in every reply.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import ipaddress
import os

from userman.core.accounting import AccountingRecord, AcctStatus, octets
from userman.core.attributes import reply_avp
from userman.core.authorize import (
    AccessRequest,
    ChapCredentials,
    Credentials,
    CustomAttribute,
    Decision,
    MschapV1Credentials,
    MschapV2Credentials,
    PapCredentials,
    user_of_class,
)
from userman.core.context import RequestContext
from userman.radius.dictionary import Dictionary, Encrypt
from userman.radius.errors import DecodeError, EncodeError
from userman.radius.packet import (
    AVP,
    MESSAGE_AUTHENTICATOR,
    Packet,
    Value,
    encode_attribute,
)

__all__ = [
    "Replies",
    "access_request",
    "accounting_record",
    "carries_eap",
    "context",
    "proxy_state",
]

PROXY_STATE = 33  # https://www.rfc-editor.org/rfc/rfc2865#section-5.33
EAP_MESSAGE = 79  # https://www.rfc-editor.org/rfc/rfc3579#section-3.1
# The most octets one accounting record may report each way: 64 PiB, a month at 200 Gbit/s.
MAX_OCTETS = 1 << 56


# A request's attributes as read: each one's first value by its folded name (first_values).
Values = dict[str, Value]


def _text(values: Values, name: str) -> str:
    value = values.get(name)
    if value is None:
        return ""
    if isinstance(value, str):
        return value if value.isascii() else escaped(value)
    if isinstance(value, ipaddress.IPv4Address):
        return _address_text(value)
    return str(value)


@functools.lru_cache(maxsize=4096)
def _address_text(address: ipaddress.IPv4Address) -> str:
    """An address as text, made once: the router's NAS-IP-Address is in all its requests."""
    return str(address)


def escaped(text: str) -> str:
    """A text attribute's value as stored and shown: itself when it is UTF-8, else with each
    octet that is not (the codec keeps them as surrogates) written as \\xNN."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


def readable(values: Values, name: str) -> bool:
    """Whether the attribute, if there, is UTF-8 text (the octets of a string attribute the
    codec could not read as UTF-8 are kept as surrogates: radius/values.py)."""
    value = values.get(name)
    return not isinstance(value, str) or value.isascii() or escaped(value) is value


def _octets(values: Values, name: str) -> bytes | None:
    value = values.get(name)
    return value if isinstance(value, bytes) else None


def _int(values: Values, name: str) -> int | None:
    value = values.get(name)
    return value if isinstance(value, int) else None


def _named(dictionary: Dictionary, values: Values, name: str) -> str:
    """An enumerated integer as its VALUE name in lower case (e.g. nas-port-type=ethernet)."""
    value = _int(values, name.casefold())
    if value is None:
        return ""
    return _value_name(dictionary, name, value)


@functools.lru_cache(maxsize=4096)
def _value_name(dictionary: Dictionary, name: str, value: int) -> str:
    """The VALUE name of `value`, lower case, made once per value (a Dictionary never changes)."""
    return (dictionary.attribute(name).value_name(value) or str(value)).lower()


def credentials(pkt: Packet, values: Values | None = None) -> Credentials | None:
    if values is None:
        values = pkt.first_values()
    password = values.get("user-password")
    if isinstance(password, bytes | str):
        # RFC 2865 5.2: revealed by the codec with the router's secret; its octets as sent,
        # UTF-8 or not.
        if isinstance(password, str):
            password = password.encode("utf-8", "surrogateescape")
        return PapCredentials(password)
    chap_password = _octets(values, "chap-password")
    if chap_password is not None:
        # RFC 2865 5.3: the challenge is CHAP-Challenge, or else the Request Authenticator.
        challenge = _octets(values, "chap-challenge") or pkt.authenticator
        return ChapCredentials(chap_password, challenge)
    ms_challenge = _octets(values, "ms-chap-challenge")
    if ms_challenge is not None:
        v2 = _octets(values, "ms-chap2-response")
        if v2 is not None:
            return MschapV2Credentials(ms_challenge, v2)
        v1 = _octets(values, "ms-chap-response")
        if v1 is not None:
            return MschapV1Credentials(ms_challenge, v1)
    return None


def carries_eap(pkt: Packet) -> bool:
    """Whether an Access-Request carries EAP-Message: `"EAP-Message" in pkt` by the number,
    without folding a name for every request."""
    for avp in pkt.attributes:
        definition = avp.definition
        if definition.code == EAP_MESSAGE and not definition.vendor_id:
            return True
    return False


def access_request(dictionary: Dictionary, pkt: Packet, source: str) -> AccessRequest:
    values = pkt.first_values()
    return AccessRequest(
        _text(values, "user-name"),
        credentials(pkt, values),
        context(dictionary, values, source),
        readable=readable(values, "user-name"),
    )


def context(dictionary: Dictionary, values: Values, source: str) -> RequestContext:
    return RequestContext(
        nas_port=_int(values, "nas-port"),
        nas_port_type=_named(dictionary, values, "NAS-Port-Type"),
        nas_port_id=_text(values, "nas-port-id"),
        calling_station_id=_text(values, "calling-station-id"),
        user_ip=_text(values, "framed-ip-address"),
        host_ip=_text(values, "nas-ip-address") or source,
        acct_session_id=_text(values, "acct-session-id"),
    )


def accounting_record(dictionary: Dictionary, pkt: Packet, source: str) -> AccountingRecord | None:
    """The record an Accounting-Request carries; None when its Acct-Status-Type is unknown."""
    values = pkt.first_values()
    try:
        status = AcctStatus(_int(values, "acct-status-type"))
    except ValueError:
        return None
    where = context(dictionary, values, source)
    upload = octets(_int(values, "acct-input-octets"), _int(values, "acct-input-gigawords"))
    download = octets(_int(values, "acct-output-octets"), _int(values, "acct-output-gigawords"))
    if max(upload, download) > MAX_OCTETS:
        # No session moves that much: a broken or hostile count would poison the user's usage.
        raise DecodeError(f"octet counters beyond {MAX_OCTETS} (2^56)", offset=20)
    return AccountingRecord(
        status=status,
        acct_session_id=where.acct_session_id,
        username=_text(values, "user-name"),
        session_time=_int(values, "acct-session-time") or 0,
        upload=upload,
        download=download,
        terminate_cause=_named(dictionary, values, "Acct-Terminate-Cause"),
        context=where,
        delay=_int(values, "acct-delay-time") or 0,
        event_time=_time(values, "event-timestamp"),
        user_id=next(filter(None, map(user_of_class, _all_octets(pkt, "Class"))), None),
    )


def _all_octets(pkt: Packet, name: str) -> list[bytes]:
    return [value for value in pkt.get_all(name) if isinstance(value, bytes)]


def _time(values: Values, name: str) -> dt.datetime | None:
    value = values.get(name)
    return value if isinstance(value, dt.datetime) else None


def _pairs(decision: Decision, username: str) -> list[tuple[str | CustomAttribute, object]]:
    """What the reply says: the decision's attributes, and a rejection's reason."""
    pairs = list(decision.reply)
    if decision.reason is not None:
        pairs.append(("Reply-Message", decision.reason.describe(username)))
    return pairs


# Attributes whose value differs in every reply (or names the user): made each time, not kept.
UNKEPT = frozenset({"MS-CHAP2-Success", "Reply-Message"})
KEPT = 100_000  # (name, value) pairs kept in wire form; all forgotten when more are made


class Replies:
    """Reply attributes in wire form (core/attributes.reply_avp, encoded): each (name, value)
    made once and kept, since replies repeat the same few (a profile's rate limit, a user's Class).
    Hidden ones (the MPPE keys) depend on the request and are made each time."""

    def __init__(self, dictionary: Dictionary, limit: int = KEPT) -> None:
        self.dictionary = dictionary
        self.limit = limit
        self._kept: dict[tuple[str | CustomAttribute, object], bytes] = {}

    def chunks(
        self, decision: Decision, username: str, secret: bytes, authenticator: bytes
    ) -> tuple[list[bytes], list[str]]:
        """The reply's attributes in wire form, and why any was left out (a custom attribute
        whose value does not fit its type: left out rather than failing the whole reply);
        `authenticator`: the request's, which hides what is hidden."""
        out: list[bytes] = []
        problems: list[str] = []
        kept = self._kept
        for pair in _pairs(decision, username):
            try:
                chunk = kept.get(pair)
            except TypeError:  # a value that cannot be a key: made each time
                chunk = None
            if chunk is None:
                try:
                    chunk = self._make(pair, secret, authenticator)
                except EncodeError as error:
                    problems.append(str(error))
                    continue
            if chunk:
                out.append(chunk)
        return out, problems

    def chunk(self, name: str, value: object) -> bytes:
        """One plain attribute in wire form, kept."""
        pair = (name, value)
        found = self._kept.get(pair)
        return found if found is not None else self._make(pair, b"", bytes(16))

    def _make(
        self, pair: tuple[str | CustomAttribute, object], secret: bytes, authenticator: bytes
    ) -> bytes:
        name, value = pair
        avp = reply_avp(self.dictionary, name, value)
        d = avp.definition
        if d.code == MESSAGE_AUTHENTICATOR and not d.vendor_id:
            return b""  # the server puts the one Message-Authenticator first (encode)
        hidden = d.encrypt is not Encrypt.NONE
        chunk = encode_attribute(avp, secret=secret, vector=authenticator, salt=os.urandom)
        if not hidden and d.name not in UNKEPT:
            if len(self._kept) >= self.limit:
                self._kept.clear()
            with contextlib.suppress(TypeError):  # a value that cannot be a key: not kept
                self._kept[pair] = chunk
        return chunk


def proxy_state(pkt: Packet) -> tuple[AVP, ...]:
    """The Proxy-State attributes of a request, in order: every reply carries them back.
    https://www.rfc-editor.org/rfc/rfc2865#section-5.33"""
    return tuple(
        avp
        for avp in pkt.attributes
        if avp.definition.code == PROXY_STATE and not avp.definition.vendor_id
    )
