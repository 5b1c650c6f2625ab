"""From decoded RADIUS packets to the core's request values, and decisions back to replies.

Pure translation, no I/O: which credentials an Access-Request carries (RFC 2865 5.2-5.3,
RFC 2548 2.1-2.3), what an Accounting-Request reports (RFC 2866 5), and which attributes an
Access-Accept or -Reject carries, Proxy-State (RFC 2865 5.33) in every reply.
"""

from __future__ import annotations

import datetime as dt

from userman.core.accounting import AccountingRecord, AcctStatus, octets
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
from userman.radius.dictionary import AttributeDef, DataType, Dictionary
from userman.radius.errors import EncodeError
from userman.radius.packet import AVP, Packet, make_avp
from userman.radius.values import coerce_value

__all__ = ["access_request", "accounting_record", "context", "proxy_state", "reply_attributes"]

PROXY_STATE = 33  # https://www.rfc-editor.org/rfc/rfc2865#section-5.33


def _text(pkt: Packet, name: str) -> str:
    value = pkt.get(name)
    return "" if value is None else str(value)


def _octets(pkt: Packet, name: str) -> bytes | None:
    value = pkt.get(name)
    return value if isinstance(value, bytes) else None


def _int(pkt: Packet, name: str) -> int | None:
    value = pkt.get(name)
    return value if isinstance(value, int) else None


def _named(dictionary: Dictionary, pkt: Packet, name: str) -> str:
    """An enumerated integer as its VALUE name in lower case (e.g. nas-port-type=ethernet)."""
    value = _int(pkt, name)
    if value is None:
        return ""
    return (dictionary.attribute(name).value_name(value) or str(value)).lower()


def credentials(pkt: Packet) -> Credentials | None:
    password = pkt.get("User-Password")
    if isinstance(password, bytes | str):
        # RFC 2865 5.2: revealed by the codec with the router's secret.
        return PapCredentials(password.encode() if isinstance(password, str) else password)
    chap_password = _octets(pkt, "CHAP-Password")
    if chap_password is not None:
        # RFC 2865 5.3: the challenge is CHAP-Challenge, or else the Request Authenticator.
        challenge = _octets(pkt, "CHAP-Challenge") or pkt.authenticator
        return ChapCredentials(chap_password, challenge)
    ms_challenge = _octets(pkt, "MS-CHAP-Challenge")
    if ms_challenge is not None:
        v2 = _octets(pkt, "MS-CHAP2-Response")
        if v2 is not None:
            return MschapV2Credentials(ms_challenge, v2)
        v1 = _octets(pkt, "MS-CHAP-Response")
        if v1 is not None:
            return MschapV1Credentials(ms_challenge, v1)
    return None


def access_request(dictionary: Dictionary, pkt: Packet, source: str) -> AccessRequest:
    return AccessRequest(
        _text(pkt, "User-Name"), credentials(pkt), context(dictionary, pkt, source)
    )


def context(dictionary: Dictionary, pkt: Packet, source: str) -> RequestContext:
    return RequestContext(
        nas_port=_int(pkt, "NAS-Port"),
        nas_port_type=_named(dictionary, pkt, "NAS-Port-Type"),
        nas_port_id=_text(pkt, "NAS-Port-Id"),
        calling_station_id=_text(pkt, "Calling-Station-Id"),
        user_ip=_text(pkt, "Framed-IP-Address"),
        host_ip=_text(pkt, "NAS-IP-Address") or source,
        acct_session_id=_text(pkt, "Acct-Session-Id"),
    )


def accounting_record(dictionary: Dictionary, pkt: Packet, source: str) -> AccountingRecord | None:
    """The record an Accounting-Request carries; None when its Acct-Status-Type is unknown."""
    try:
        status = AcctStatus(_int(pkt, "Acct-Status-Type"))
    except ValueError:
        return None
    where = context(dictionary, pkt, source)
    return AccountingRecord(
        status=status,
        acct_session_id=where.acct_session_id,
        username=_text(pkt, "User-Name"),
        session_time=_int(pkt, "Acct-Session-Time") or 0,
        upload=octets(_int(pkt, "Acct-Input-Octets"), _int(pkt, "Acct-Input-Gigawords")),
        download=octets(_int(pkt, "Acct-Output-Octets"), _int(pkt, "Acct-Output-Gigawords")),
        terminate_cause=_named(dictionary, pkt, "Acct-Terminate-Cause"),
        context=where,
        delay=_int(pkt, "Acct-Delay-Time") or 0,
        event_time=_time(pkt, "Event-Timestamp"),
        user_id=next(filter(None, map(user_of_class, _all_octets(pkt, "Class"))), None),
    )


def _all_octets(pkt: Packet, name: str) -> list[bytes]:
    return [value for value in pkt.get_all(name) if isinstance(value, bytes)]


def _time(pkt: Packet, name: str) -> dt.datetime | None:
    value = pkt.get(name)
    return value if isinstance(value, dt.datetime) else None


# The attribute menu's value types (v7) as the wire types they are.
VALUE_TYPES = {
    "string": DataType.STRING,
    "hex": DataType.OCTETS,
    "ip-address": DataType.COMBO_IP,
    "ip6-prefix": DataType.IPV6PREFIX,
    "macaddress": DataType.ETHER,
    "uint32": DataType.INTEGER,
    "uint64": DataType.INTEGER64,
}


def _avp(dictionary: Dictionary, name: str | CustomAttribute, value: object) -> AVP:
    if isinstance(name, str):
        return make_avp(dictionary, name, value)
    data_type = VALUE_TYPES[name.value_type]
    if data_type is DataType.OCTETS and isinstance(value, str):
        try:
            value = bytes.fromhex(value.removeprefix("0x"))
        except ValueError:
            raise EncodeError(f"{name.name}: {value!r} is not hex") from None
    definition = AttributeDef(name.name, name.type_id, data_type, name.vendor_id)
    return AVP(definition, coerce_value(data_type, value))


def reply_attributes(
    dictionary: Dictionary, decision: Decision, username: str
) -> tuple[tuple[AVP, ...], list[str]]:
    """The reply's attributes, and why any could not be made (a custom attribute whose value
    does not fit its type): those are left out rather than failing the whole reply."""
    pairs = list(decision.reply)
    if decision.reason is not None:
        pairs.append(("Reply-Message", decision.reason.describe(username)))
    avps: list[AVP] = []
    problems: list[str] = []
    for name, value in pairs:
        try:
            avps.append(_avp(dictionary, name, value))
        except EncodeError as error:
            problems.append(str(error))
    return tuple(avps), problems


def proxy_state(pkt: Packet) -> tuple[AVP, ...]:
    """The Proxy-State attributes of a request, in order: every reply carries them back.
    https://www.rfc-editor.org/rfc/rfc2865#section-5.33"""
    return tuple(
        avp
        for avp in pkt.attributes
        if avp.definition.code == PROXY_STATE and not avp.definition.vendor_id
    )
