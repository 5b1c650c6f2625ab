"""Packet codec: the RFC 2865 section 7 vectors, authenticators, tags, VSAs, TLVs, errors, and
hypothesis round trips decode(encode(pkt)) == pkt."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Network
from itertools import count
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from userman.radius import (
    AVP,
    AttributeDef,
    Code,
    DataType,
    DecodeError,
    Dictionary,
    EncodeError,
    Encrypt,
    Packet,
    build,
    decode,
    default_dictionary,
    encode,
    encode_attribute,
    encode_response,
    load_dictionary,
    make_avp,
    verify_message_authenticator,
    verify_request_authenticator,
    verify_response_authenticator,
)

VECTORS = Path(__file__).parent / "vectors"
SECRET = b"xyzzy5461"  # RFC 2865 section 7


def read_vectors(path: Path) -> dict[str, bytes]:
    """`[name]` blocks of hex lines; `#` comments (see the file's header)."""
    vectors: dict[str, str] = {}
    name = ""
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text.startswith("["):
            name = text.strip("[]")
            vectors[name] = ""
        elif text:
            vectors[name] += text
    return {key: bytes.fromhex(value) for key, value in vectors.items()}


RFC2865 = read_vectors(VECTORS / "rfc2865-section7.txt")


@pytest.fixture(scope="module")
def test_dictionary() -> Dictionary:
    return load_dictionary(VECTORS / "dictionary.test", include_default=True)


def salts() -> Callable[[int], bytes]:
    """Distinct salts, as RFC 2868 3.5 asks, from a counter instead of randomness."""
    counter = count(1)
    return lambda n: bytes([0x80, next(counter) % 256])[:n]


D = default_dictionary()
ZERO = bytes(16)


# --- RFC 2865 section 7 ----------------------------------------------------------------------


# https://www.rfc-editor.org/rfc/rfc2865#section-7.1
def test_rfc2865_7_1_pap_request_decodes_and_reencodes() -> None:
    wire = RFC2865["7.1-access-request"]
    req = decode(wire, D, secret=SECRET)
    assert (req.code, req.identifier) == (Code.ACCESS_REQUEST, 0)
    assert req.get("User-Name") == "nemo"
    assert req.get("User-Password") == "arctangent"
    assert req.get("NAS-IP-Address") == IPv4Address("192.168.1.16")
    assert req.get("NAS-Port") == 3
    assert encode(req, SECRET) == wire


# https://www.rfc-editor.org/rfc/rfc2865#section-7.1
def test_rfc2865_7_1_accept_is_reproduced_byte_for_byte() -> None:
    req = decode(RFC2865["7.1-access-request"], D, secret=SECRET)
    wire = RFC2865["7.1-access-accept"]
    assert verify_response_authenticator(wire, SECRET, req.authenticator)
    accept = decode(wire, D, secret=SECRET, request_authenticator=req.authenticator)
    assert accept.get("Service-Type") == D.attribute("Service-Type").value_of("Login-User")
    assert accept.get("Login-Service") == 0  # Telnet
    assert accept.get("Login-IP-Host") == IPv4Address("192.168.1.3")
    reply = req.reply(
        Code.ACCESS_ACCEPT,
        [
            make_avp(D, "Service-Type", "Login-User"),
            make_avp(D, "Login-Service", "Telnet"),
            make_avp(D, "Login-IP-Host", "192.168.1.3"),
        ],
    )
    assert encode(reply, SECRET, request_authenticator=req.authenticator) == wire


# https://www.rfc-editor.org/rfc/rfc2865#section-7.2
def test_rfc2865_7_2_chap_request_and_accept() -> None:
    req = decode(RFC2865["7.2-access-request"], D, secret=SECRET)
    assert req.identifier == 1
    assert req.get("User-Name") == "flopsy"
    chap = req.get("CHAP-Password")
    assert isinstance(chap, bytes)
    assert (len(chap), chap[0]) == (17, 22)  # CHAP Ident 22, then the 16-octet response
    assert req.get("NAS-Port") == 20
    assert req.get("Service-Type") == 2  # Framed-User
    assert req.get("Framed-Protocol") == 1  # PPP
    assert encode(req, SECRET) == RFC2865["7.2-access-request"]

    wire = RFC2865["7.2-access-accept"]
    assert verify_response_authenticator(wire, SECRET, req.authenticator)
    accept = decode(wire, D, request_authenticator=req.authenticator)
    assert accept.get("Framed-IP-Address") == IPv4Address("255.255.255.254")
    assert accept.get("Framed-MTU") == 1500
    reply = Packet.build(
        D,
        Code.ACCESS_ACCEPT,
        req.identifier,
        req.authenticator,
        [
            ("Service-Type", "Framed-User"),
            ("Framed-Protocol", "PPP"),
            ("Framed-IP-Address", "255.255.255.254"),
            ("Framed-Routing", "Listen"),
            ("Framed-Compression", "Van-Jacobson-TCP-IP"),
            ("Framed-MTU", 1500),
        ],
    )
    assert encode(reply, SECRET, request_authenticator=req.authenticator) == wire


# https://www.rfc-editor.org/rfc/rfc2865#section-7.3
def test_rfc2865_7_3_challenge_response() -> None:
    first = decode(RFC2865["7.3-access-request-1"], D, secret=SECRET)
    assert first.get("User-Name") == "mopsy"
    assert first.get("User-Password") == "challenge"
    assert first.get("NAS-Port") == 7

    wire = RFC2865["7.3-access-challenge"]
    assert verify_response_authenticator(wire, SECRET, first.authenticator)
    challenge = first.reply(
        Code.ACCESS_CHALLENGE,
        [
            make_avp(D, "Reply-Message", "Challenge 32769430.  Enter response at prompt."),
            make_avp(D, "State", b"32769430"),
        ],
    )
    assert encode(challenge, SECRET, request_authenticator=first.authenticator) == wire

    second = decode(RFC2865["7.3-access-request-2"], D, secret=SECRET)
    assert second.get("User-Password") == "99101462"
    assert second.get("State") == b"32769430"
    wire = RFC2865["7.3-access-reject"]
    assert verify_response_authenticator(wire, SECRET, second.authenticator)
    reject = second.reply(Code.ACCESS_REJECT)
    assert encode(reject, SECRET, request_authenticator=second.authenticator) == wire
    assert not verify_response_authenticator(wire, b"wrong", second.authenticator)


def test_without_secret_hidden_attributes_keep_their_wire_octets() -> None:
    wire = RFC2865["7.1-access-request"]
    req = decode(wire, D)
    assert req.get("User-Password") == wire[28:44]


# --- authenticators --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", [Code.ACCOUNTING_REQUEST, Code.COA_REQUEST, Code.DISCONNECT_REQUEST]
)
def test_computed_request_authenticator(code: Code) -> None:
    # https://www.rfc-editor.org/rfc/rfc2866#section-3, rfc5176#section-2.3
    pkt = build(D, code, 7, ZERO, [("User-Name", "bob"), ("Acct-Session-Id", "81000001")])
    wire = encode(pkt, SECRET)
    expected = hashlib.md5(wire[:4] + ZERO + wire[20:] + SECRET).digest()
    assert wire[4:20] == expected
    assert verify_request_authenticator(wire, SECRET)
    assert not verify_request_authenticator(wire, b"other")
    assert not verify_request_authenticator(wire[:-1] + b"X", SECRET)
    assert decode(wire, D).authenticator == expected


def test_response_needs_the_request_authenticator() -> None:
    with pytest.raises(EncodeError):
        encode(Packet(Code.ACCOUNTING_RESPONSE, 1, ZERO), SECRET)
    wire = encode(
        Packet(Code.ACCOUNTING_RESPONSE, 1, ZERO), SECRET, request_authenticator=b"r" * 16
    )
    assert verify_response_authenticator(wire, SECRET, b"r" * 16)


def test_access_request_needs_a_16_octet_authenticator() -> None:
    with pytest.raises(EncodeError):
        encode(Packet(Code.ACCESS_REQUEST, 1, b"short"), SECRET)
    with pytest.raises(EncodeError):
        encode(Packet(Code.ACCESS_REQUEST, 256, ZERO), SECRET)


def _hmac(secret: bytes, data: bytes) -> bytes:
    return hmac.new(secret, data, hashlib.md5).digest()


def test_message_authenticator_in_access_request_comes_first() -> None:
    # https://www.rfc-editor.org/rfc/rfc3579#section-3.2
    auth = bytes(range(16))
    pkt = build(D, Code.ACCESS_REQUEST, 9, auth, [("User-Name", "nemo")])
    wire = encode(pkt, SECRET, message_authenticator=True)
    assert wire[20:22] == b"\x50\x12"
    zeroed = wire[:22] + ZERO + wire[38:]
    assert wire[22:38] == _hmac(SECRET, zeroed)
    assert verify_message_authenticator(wire, SECRET) is True
    assert verify_message_authenticator(wire, b"other") is False
    assert verify_message_authenticator(encode(pkt, SECRET), SECRET) is None
    decoded = decode(wire, D)
    assert decoded.attributes[0].name == "Message-Authenticator"
    assert encode(decoded, SECRET) == wire  # recomputed in place


def test_a_signed_reply_has_message_authenticator_first_and_only_once() -> None:
    # BlastRADIUS (CVE-2024-3596, https://www.blastradius.fail/): servers should put
    # Message-Authenticator first in every reply, ahead of anything an attacker chose (a
    # Proxy-State echoed back), and RFC 3579 3.2 allows one: one that comes later in the
    # attributes moves to the front.
    req_auth = b"q" * 16
    attributes = [("Session-Timeout", 60), ("Message-Authenticator", ZERO), ("Proxy-State", b"x")]
    pkt = build(D, Code.ACCESS_ACCEPT, 3, ZERO, attributes)
    wire = encode(pkt, SECRET, request_authenticator=req_auth, message_authenticator=True)
    reply = decode(wire, D)
    assert [a.name for a in reply.attributes] == [
        "Message-Authenticator",
        "Session-Timeout",
        "Proxy-State",
    ]
    assert verify_message_authenticator(wire, SECRET, req_auth) is True


def test_message_authenticator_in_responses_uses_the_request_authenticator() -> None:
    req_auth = b"q" * 16
    pkt = build(D, Code.ACCESS_ACCEPT, 3, ZERO, [("Session-Timeout", 60)])
    wire = encode(pkt, SECRET, request_authenticator=req_auth, message_authenticator=True)
    # HMAC before the Response Authenticator, over the Request Authenticator
    zeroed = wire[:4] + req_auth + wire[20:22] + ZERO + wire[38:]
    assert wire[22:38] == _hmac(SECRET, zeroed)
    assert verify_response_authenticator(wire, SECRET, req_auth)
    assert verify_message_authenticator(wire, SECRET, req_auth) is True
    assert verify_message_authenticator(wire, SECRET, b"x" * 16) is False


@pytest.mark.parametrize(
    "code", [Code.ACCOUNTING_REQUEST, Code.COA_REQUEST, Code.DISCONNECT_REQUEST]
)
def test_message_authenticator_in_computed_requests_zeroes_the_field(code: Code) -> None:
    # https://www.rfc-editor.org/rfc/rfc5176#section-3.3
    pkt = build(D, code, 3, ZERO, [("User-Name", "nemo")])
    wire = encode(pkt, SECRET, message_authenticator=True)
    zeroed = wire[:4] + ZERO + wire[20:22] + ZERO + wire[38:]
    assert wire[22:38] == _hmac(SECRET, zeroed)
    assert verify_message_authenticator(wire, SECRET) is True
    assert verify_request_authenticator(wire, SECRET)


def test_accounting_response_message_authenticator_follows_freeradius() -> None:
    req_auth = b"q" * 16
    pkt = Packet(Code.ACCOUNTING_RESPONSE, 3, ZERO)
    wire = encode(pkt, SECRET, request_authenticator=req_auth, message_authenticator=True)
    assert wire[22:38] == _hmac(SECRET, wire[:4] + ZERO + wire[20:22] + ZERO)
    assert verify_message_authenticator(wire, SECRET, req_auth) is True
    status = encode(
        pkt,
        SECRET,
        request_authenticator=req_auth,
        message_authenticator=True,
        request_code=Code.STATUS_SERVER,
    )
    assert status[22:38] == _hmac(SECRET, status[:4] + req_auth + status[20:22] + ZERO)
    assert (
        verify_message_authenticator(status, SECRET, req_auth, request_code=Code.STATUS_SERVER)
        is True
    )


def test_two_message_authenticators_do_not_verify() -> None:
    wire = encode(Packet(Code.ACCESS_REQUEST, 1, ZERO), SECRET, message_authenticator=True)
    doubled = wire[:2] + (len(wire) + 18).to_bytes(2) + wire[4:] + wire[20:38]
    assert verify_message_authenticator(doubled, SECRET) is False
    assert verify_message_authenticator(b"short", SECRET) is False


# --- hidden and tagged attributes ------------------------------------------------------------


def test_tagged_integer_and_string() -> None:
    # https://www.rfc-editor.org/rfc/rfc2868#section-3.1
    pkt = build(
        D,
        Code.ACCESS_ACCEPT,
        1,
        ZERO,
        [
            ("Tunnel-Type", "VLAN", 1),
            ("Tunnel-Medium-Type", "IEEE-802", 1),
            ("Tunnel-Private-Group-Id", "100", 1),
            ("Tunnel-Preference", 5),
        ],
    )
    wire = encode(pkt, SECRET, request_authenticator=ZERO)
    assert wire[20:] == (
        b"\x40\x06\x01\x00\x00\x0d\x41\x06\x01\x00\x00\x06\x51\x06\x01100\x53\x06\x00\x00\x00\x05"
    )
    back = decode(wire, D)
    assert [(a.name, a.value, a.tag) for a in back.attributes] == [
        ("Tunnel-Type", 13, 1),
        ("Tunnel-Medium-Type", 6, 1),
        ("Tunnel-Private-Group-Id", "100", 1),
        ("Tunnel-Preference", 5, None),
    ]


def test_tag_errors() -> None:
    with pytest.raises(EncodeError):
        make_avp(D, "User-Name", "x", tag=1)
    with pytest.raises(EncodeError):
        make_avp(D, "Tunnel-Type", "VLAN", tag=32)
    with pytest.raises(EncodeError):  # a tagged integer has 3 octets of value
        encode(build(D, Code.ACCESS_REQUEST, 1, ZERO, [("Tunnel-Preference", 1 << 24)]), SECRET)
    with pytest.raises(EncodeError):  # an untagged string that would read as tagged
        encode(build(D, Code.ACCESS_REQUEST, 1, ZERO, [("Tunnel-Assignment-Id", "\x05x")]), SECRET)


def test_tunnel_password_is_salt_encrypted_with_the_request_authenticator() -> None:
    # https://www.rfc-editor.org/rfc/rfc2868#section-3.5
    req_auth = bytes(range(16, 32))
    pkt = build(D, Code.ACCESS_ACCEPT, 1, ZERO, [("Tunnel-Password", "s3cret", 2)])
    wire = encode(pkt, SECRET, request_authenticator=req_auth, salt=lambda n: b"\x01\x02")
    assert wire[20] == 69
    assert wire[22] == 2  # the tag comes before the salt
    assert wire[23:25] == b"\x81\x02"  # the salt's high bit is forced on
    back = decode(wire, D, secret=SECRET, request_authenticator=req_auth)
    assert back.attributes == pkt.attributes
    raw = decode(wire, D)  # no secret: the salted ciphertext
    assert raw.attributes[0].value == wire[23:]
    assert raw.attributes[0].tag == 2
    with pytest.raises(EncodeError, match="salt"):
        encode(pkt, SECRET, request_authenticator=req_auth)


def test_mppe_keys_round_trip_in_an_accept() -> None:
    # https://www.rfc-editor.org/rfc/rfc2548#section-2.4.2 and 2.4.3
    req_auth = b"A" * 16
    send, recv = bytes(range(32)), bytes(range(32, 64))
    pkt = build(
        D,
        Code.ACCESS_ACCEPT,
        4,
        req_auth,
        [
            ("MS-MPPE-Recv-Key", recv),
            ("MS-MPPE-Send-Key", send),
            ("MS-MPPE-Encryption-Policy", "Encryption-Required"),
            ("MS-MPPE-Encryption-Types", "RC4-40or128-bit-Allowed"),
            ("MS-CHAP-MPPE-Keys", bytes(range(24)) + bytes(8)),
        ],
    )
    wire = encode(pkt, SECRET, request_authenticator=req_auth, salt=salts())
    back = decode(wire, D, secret=SECRET, request_authenticator=req_auth)
    assert back.get("MS-MPPE-Send-Key") == send
    assert back.get("MS-MPPE-Recv-Key") == recv
    assert back.get("MS-CHAP-MPPE-Keys") == bytes(range(24)) + bytes(8)
    assert back.attributes == pkt.attributes
    assert back.get("MS-MPPE-Encryption-Policy") == 2


def test_user_password_longer_than_128_is_refused() -> None:
    pkt = build(D, Code.ACCESS_REQUEST, 1, ZERO, [("User-Password", "x" * 129)])
    with pytest.raises(EncodeError):
        encode(pkt, SECRET)


def test_user_password_with_bad_length_is_a_decode_error() -> None:
    wire = _packet(Code.ACCESS_REQUEST, b"\x01\x03x" + b"\x02\x11" + bytes(15))
    with pytest.raises(DecodeError) as info:
        decode(wire, D, secret=SECRET)
    assert (info.value.attribute, info.value.offset) == ("User-Password", 23)
    assert decode(wire, D).get("User-Password") == bytes(15)  # without a secret: raw


# --- VSAs, TLVs and unknown attributes -------------------------------------------------------


def test_mikrotik_vsa_wire_format() -> None:
    # https://www.rfc-editor.org/rfc/rfc2865#section-5.26
    pkt = build(D, Code.ACCESS_ACCEPT, 1, ZERO, [("Mikrotik-Rate-Limit", "10M/2M")])
    wire = encode(pkt, SECRET, request_authenticator=ZERO)
    assert wire[20:] == b"\x1a\x0e\x00\x00\x3a\x8c\x08\x08" + b"10M/2M"
    assert decode(wire, D).get("mikrotik-rate-limit") == "10M/2M"


def test_vendor_formats(test_dictionary: Dictionary) -> None:
    d = test_dictionary
    pkt = build(
        d,
        Code.ACCESS_ACCEPT,
        1,
        ZERO,
        [
            ("Test21-String", "ab"),
            ("Test10-Octets", b"\x01\x02"),
            ("Test40-Integer", 7),
            ("Test12-String", "z"),
            ("Test12-Tagged", "t", 3),
        ],
    )
    wire = encode(pkt, SECRET, request_authenticator=ZERO)
    assert wire[20:] == (
        b"\x1a\x0b" + (65001).to_bytes(4) + b"\x01\x2c\x05ab"  # format=2,1
        + b"\x1a\x09" + (65002).to_bytes(4) + b"\x05\x01\x02"  # format=1,0
        + b"\x1a\x0e" + (65003).to_bytes(4) + (70000).to_bytes(4) + (7).to_bytes(4)  # 4,0
        + b"\x1a\x0a" + (65004).to_bytes(4) + b"\x09\x00\x04z"  # format=1,2
        + b"\x1a\x0b" + (65004).to_bytes(4) + b"\x0a\x00\x05\x03t"  # tag 3
    )  # fmt: skip
    assert decode(wire, d).attributes == pkt.attributes


def test_several_attributes_in_one_vsa_decode_in_order() -> None:
    vsa = (14988).to_bytes(4) + b"\x08\x05abc" + b"\x03\x04gr"
    wire = _packet(Code.ACCESS_ACCEPT, b"\x1a" + bytes([2 + len(vsa)]) + vsa)
    pkt = decode(wire, D)
    assert [(a.name, a.value) for a in pkt.attributes] == [
        ("Mikrotik-Rate-Limit", "abc"),
        ("Mikrotik-Group", "gr"),
    ]


def test_tlv_round_trip(test_dictionary: Dictionary) -> None:
    d = test_dictionary
    inner = make_avp(d, "Test-Tlv-Inner", [("Test-Tlv-Inner-Address", "10.1.2.3")])
    group = make_avp(d, "Test-Tlv-Group", [("Test-Tlv-Name", "n"), ("Test-Tlv-Number", 5), inner])
    std = make_avp(d, "Test-Std-Tlv", [("Test-Std-Tlv-Text", "hi")])
    pkt = Packet(Code.ACCESS_ACCEPT, 1, ZERO, (group, std))
    wire = encode(pkt, SECRET, request_authenticator=ZERO)
    assert wire[-6:] == b"\xe7\x06\x01\x04hi"
    assert decode(wire, d).attributes == pkt.attributes
    unknown = _packet(Code.ACCESS_ACCEPT, b"\xe7\x05\x09\x03z")
    child = decode(unknown, d).attributes[0].value
    assert isinstance(child, tuple)
    assert (child[0].name, child[0].value) == ("Attr-231.9", b"z")
    with pytest.raises(EncodeError):
        make_avp(d, "Test-Std-Tlv", [("Test-Tlv-Name", "n")])  # not its child


def test_unknown_attributes_are_named_by_number() -> None:
    vsa = (14988).to_bytes(4) + b"\x63\x03x"
    odd_vendor = (9999).to_bytes(4) + b"\x01\x03y"
    opaque = (9998).to_bytes(4) + b"\x01\x09y"  # not in the 1,1 layout
    attrs = (
        b"\xc8\x04ab"
        + bytes([26, 2 + len(vsa)]) + vsa
        + bytes([26, 2 + len(odd_vendor)]) + odd_vendor
        + bytes([26, 2 + len(opaque)]) + opaque
    )  # fmt: skip
    wire = _packet(Code.ACCOUNTING_REQUEST, attrs)
    pkt = decode(wire, D)
    assert [(a.name, a.value) for a in pkt.attributes] == [
        ("Attr-200", b"ab"),
        ("Attr-26.14988.99", b"x"),
        ("Attr-26.9999.1", b"y"),
        ("Vendor-Specific", opaque),
    ]
    assert "Attr-200" in pkt
    again = encode(pkt, SECRET)
    assert again[20:] == wire[20:]
    assert make_avp(D, "Attr-26.14988.99", b"x") == pkt.attributes[1]


def test_known_vendor_with_broken_layout_is_a_decode_error() -> None:
    vsa = (14988).to_bytes(4) + b"\x08\x09ab"
    wire = _packet(Code.ACCESS_REQUEST, bytes([26, 2 + len(vsa)]) + vsa)
    with pytest.raises(DecodeError) as info:
        decode(wire, D)
    assert info.value.offset == 26
    assert info.value.attribute == "Vendor-Specific Mikrotik"


# --- header and attribute validation ---------------------------------------------------------


def _packet(code: int, attrs: bytes, *, identifier: int = 1) -> bytes:
    return bytes([code, identifier]) + (20 + len(attrs)).to_bytes(2) + ZERO + attrs


@pytest.mark.parametrize(
    ("wire", "offset"),
    [
        pytest.param(b"\x01\x00\x00\x14" + bytes(15), 0, id="shorter-than-20"),
        pytest.param(b"\x01\x00\x10\x01" + bytes(4097), 0, id="longer-than-4096"),
        pytest.param(b"\x07\x00\x00\x14" + bytes(16), 0, id="unknown-code"),
        pytest.param(b"\x01\x00\x00\x13" + bytes(16), 2, id="length-below-20"),
        pytest.param(b"\x01\x00\x00\x20" + bytes(16), 2, id="length-beyond-data"),
        pytest.param(_packet(1, b"\x01"), 20, id="truncated-attribute"),
        pytest.param(_packet(1, b"\x01\x01"), 20, id="attribute-length-1"),
        pytest.param(_packet(1, b"\x01\x05ab"), 20, id="attribute-overruns"),
        pytest.param(_packet(1, b"\x04\x05abc"), 20, id="ipaddr-of-3-octets"),
        pytest.param(_packet(1, b"\x1a\x05abc"), 20, id="vsa-without-vendor"),
        pytest.param(_packet(1, b"\x1a\x06" + (311).to_bytes(4)), 26, id="vsa-empty"),
        pytest.param(_packet(1, b"\x37\x03\x00"), 20, id="date-of-1-octet"),
    ],
)
def test_malformed_packets_raise_decode_error(wire: bytes, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        decode(wire, D, secret=SECRET)
    assert info.value.offset == offset


def test_a_malformed_header_comes_before_a_value_that_does_not_decode() -> None:
    """The layout is checked before the values, as decode did when it walked the packet
    first: an NAS-Port of 3 octets at 20, then an attribute of length 1 at 25."""
    with pytest.raises(DecodeError) as info:
        decode(_packet(1, b"\x05\x05abc" + b"\x01\x01"), D)
    assert (info.value.offset, info.value.attribute) == (25, "User-Name")
    with pytest.raises(DecodeError) as info:
        decode(_packet(1, b"\x05\x05abc" + b"\x01\x03a"), D)
    assert (info.value.offset, info.value.attribute) == (20, "NAS-Port")
    assert info.value.message == "integer is 4 octets, not 3"


def test_octets_beyond_length_are_padding() -> None:
    wire = RFC2865["7.1-access-request"]
    assert decode(wire + b"padding", D, secret=SECRET) == decode(wire, D, secret=SECRET)


def test_value_and_packet_size_limits() -> None:
    with pytest.raises(EncodeError):
        encode(build(D, Code.ACCESS_REQUEST, 1, ZERO, [("Class", bytes(254))]), SECRET)
    encode(build(D, Code.ACCESS_REQUEST, 1, ZERO, [("Class", bytes(253))]), SECRET)
    with pytest.raises(EncodeError):  # 6 octets of VSA header leave 247
        encode(build(D, Code.ACCESS_REQUEST, 1, ZERO, [("Mikrotik-Group", "x" * 248)]), SECRET)
    many = [("Class", bytes(250))] * 17
    with pytest.raises(EncodeError, match="4096"):
        encode(build(D, Code.ACCESS_REQUEST, 1, ZERO, many), SECRET)


# --- Packet helpers --------------------------------------------------------------------------


def test_packet_accessors_and_reply() -> None:
    pkt = build(
        D,
        Code.ACCESS_REQUEST,
        42,
        b"a" * 16,
        [("Class", b"one"), ("User-Name", "x"), ("Class", b"two")],
    )
    assert pkt.get("class") == b"one"
    assert pkt.get_all("Class") == [b"one", b"two"]
    assert pkt.get("Reply-Message") is None
    assert "User-Name" in pkt
    assert "State" not in pkt
    assert 3 not in pkt
    reply = pkt.reply(Code.ACCESS_REJECT, [make_avp(D, "Reply-Message", "no")])
    assert (reply.identifier, reply.authenticator) == (42, b"a" * 16)
    assert reply.get("Reply-Message") == "no"
    assert Code.ACCESS_REQUEST.is_request
    assert Code.COA_NAK.is_response


def test_make_avp_coerces_to_the_decoded_types() -> None:
    assert make_avp(D, "Service-Type", "framed-user").value == 2
    assert make_avp(D, "NAS-Port", "17").value == 17
    assert make_avp(D, "Event-Timestamp", 0).value == datetime(1970, 1, 1, tzinfo=UTC)
    assert make_avp(D, "Framed-IPv6-Prefix", "2001:db8::/32").value == IPv6Network("2001:db8::/32")
    assert make_avp(D, "User-Name", b"\xff").value == "\udcff"
    with pytest.raises(EncodeError):
        make_avp(D, "No-Such-Attribute", 1)
    with pytest.raises(EncodeError):
        make_avp(D, "NAS-Port", "lots")


def test_avp_is_hashable_and_frozen() -> None:
    avp = make_avp(D, "User-Name", "x")
    assert hash(avp) == hash(make_avp(D, "User-Name", "x"))
    with pytest.raises(AttributeError):
        avp.value = "y"  # type: ignore[misc]


def test_what_decode_and_make_avp_make_is_what_the_constructors_make() -> None:
    """The codec makes AVPs and Packets without their dataclass __init__ (packet.py, `_avp`):
    they must be equal, hash alike, print alike and stay frozen."""
    pkt = decode(RFC2865["7.1-access-request"], D, secret=SECRET)
    avps = tuple(AVP(a.definition, a.value, a.tag) for a in pkt.attributes)
    made = Packet(pkt.code, pkt.identifier, pkt.authenticator, avps)
    assert pkt == made
    assert hash(pkt) == hash(made)
    assert repr(pkt) == repr(made)
    tagged, constructed = (
        make_avp(D, "Tunnel-Type", "VLAN", 3),
        AVP(D.attribute("Tunnel-Type"), 13, 3),
    )
    assert (tagged, repr(tagged)) == (constructed, repr(constructed))
    with pytest.raises(AttributeError):
        pkt.attributes[0].value = "y"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        pkt.identifier = 2  # type: ignore[misc]


# --- hypothesis round trips ------------------------------------------------------------------


def _scalar(definition: AttributeDef) -> st.SearchStrategy[object]:
    t = definition.type
    # TLV children share their parent's 253 octets: keep them small
    size = 15 if definition.parents else 40
    text = st.text(st.characters(codec="utf-8"), max_size=size)
    if definition.encrypt is Encrypt.USER_PASSWORD:
        if t is DataType.OCTETS:
            return st.integers(1, 8).flatmap(lambda n: st.binary(min_size=16 * n, max_size=16 * n))
        return st.text(st.characters(codec="utf-8"), max_size=30).filter(
            lambda s: not s.endswith("\x00")
        )
    match t:
        case DataType.STRING:
            return text
        case DataType.OCTETS:
            return st.binary(max_size=4 * size)
        case DataType.IPADDR:
            return st.ip_addresses(v=4)
        case DataType.IPV6ADDR:
            return st.ip_addresses(v=6)
        case DataType.COMBO_IP:
            return st.ip_addresses()
        case DataType.IPV4PREFIX:
            return st.builds(
                lambda a, n: IPv4Network((a, n), strict=False),
                st.ip_addresses(v=4),
                st.integers(0, 32),
            )
        case DataType.IPV6PREFIX:
            return st.builds(
                lambda a, n: IPv6Network((a, n), strict=False),
                st.ip_addresses(v=6),
                st.integers(0, 128),
            )
        case DataType.INTEGER:
            return st.integers(0, 0xFFFFFF if definition.has_tag else 0xFFFF_FFFF)
        case DataType.INTEGER64:
            return st.integers(0, 2**64 - 1)
        case DataType.BYTE:
            return st.integers(0, 255)
        case DataType.SHORT:
            return st.integers(0, 0xFFFF)
        case DataType.SIGNED:
            return st.integers(-(2**31), 2**31 - 1)
        case DataType.DATE:
            return st.integers(0, 2**32 - 1).map(lambda s: datetime.fromtimestamp(s, UTC))
        case DataType.IFID:
            return st.binary(min_size=8, max_size=8)
        case DataType.ETHER:
            return st.binary(min_size=6, max_size=6)
    raise AssertionError(t)


def _avp(definition: AttributeDef, depth: int = 0) -> st.SearchStrategy[AVP]:
    if definition.type is DataType.TLV:
        children = [
            c for c in definition.children.values() if c.type is not DataType.TLV or depth < 1
        ]
        values = st.lists(
            st.sampled_from(children).flatmap(lambda c: _avp(c, depth + 1)), max_size=3
        ).map(tuple)
        return values.map(lambda v: AVP(definition, v))
    tags = st.none() | st.integers(1, 31) if definition.has_tag else st.none()

    def fix(value: object, tag: int | None) -> AVP:
        # an untagged string must not start with what reads as a tag (RFC 2868 3.1)
        if tag is None and definition.has_tag and isinstance(value, str) and value[:1] < " ":
            value = "x" + value
        return AVP(definition, value, tag)  # type: ignore[arg-type]

    return st.builds(fix, _scalar(definition), tags)


def _encodable(d: Dictionary) -> list[AttributeDef]:
    return [
        a
        for a in d
        if a.type is not DataType.VSA
        and a.encrypt is not Encrypt.ASCEND_SECRET
        and a.name != "Message-Authenticator"
    ]


def packets(d: Dictionary) -> st.SearchStrategy[Packet]:
    attrs = st.lists(st.sampled_from(_encodable(d)).flatmap(_avp), max_size=12).map(tuple)
    return st.builds(
        Packet,
        st.sampled_from(list(Code)),
        st.integers(0, 255),
        st.binary(min_size=16, max_size=16),
        attrs,
    )


_TEST_DICTIONARY = load_dictionary(VECTORS / "dictionary.test", include_default=True)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pkt=packets(_TEST_DICTIONARY),
    req_auth=st.binary(min_size=16, max_size=16),
    with_ma=st.booleans(),
)
def test_round_trip(pkt: Packet, req_auth: bytes, with_ma: bool) -> None:
    wire = encode(
        pkt,
        SECRET,
        request_authenticator=req_auth,
        message_authenticator=with_ma,
        salt=salts(),
    )
    back = decode(wire, _TEST_DICTIONARY, secret=SECRET, request_authenticator=req_auth)
    attributes = back.attributes[1:] if with_ma else back.attributes
    assert replace(back, attributes=attributes, authenticator=pkt.authenticator) == pkt
    if pkt.code.is_response:
        assert verify_response_authenticator(wire, SECRET, req_auth)
    elif pkt.code in (Code.ACCOUNTING_REQUEST, Code.COA_REQUEST, Code.DISCONNECT_REQUEST):
        assert verify_request_authenticator(wire, SECRET)
    else:
        assert back.authenticator == pkt.authenticator
    if with_ma:
        assert verify_message_authenticator(wire, SECRET, req_auth) is True
    # without the secret the packet still parses, hidden values as raw octets
    assert len(decode(wire, _TEST_DICTIONARY).attributes) == len(back.attributes)


def test_bad_attribute_specs_are_encode_errors(test_dictionary: Dictionary) -> None:
    with pytest.raises(EncodeError):
        build(D, Code.ACCESS_REQUEST, 1, ZERO, [("User-Name",)])  # type: ignore[list-item]
    with pytest.raises(EncodeError):
        make_avp(test_dictionary, "Test-Std-Tlv", [5])
    with pytest.raises(EncodeError):
        make_avp(test_dictionary, "Test-Std-Tlv", "text")


def test_public_api_is_pinned() -> None:
    import userman.radius

    assert sorted(userman.radius.__all__) == [
        "AVP",
        "AttributeDef",
        "AttributeSpec",
        "Code",
        "DataType",
        "DecodeError",
        "Dictionary",
        "DictionaryError",
        "EncodeError",
        "Encrypt",
        "Packet",
        "RadiusError",
        "ScalarValue",
        "Value",
        "Vendor",
        "build",
        "coerce_value",
        "decode",
        "decode_value",
        "default_dictionary",
        "encode",
        "encode_attribute",
        "encode_response",
        "encode_value",
        "hide_user_password",
        "load_dictionary",
        "make_avp",
        "reveal_user_password",
        "salt_decrypt",
        "salt_encrypt",
        "unknown_attribute",
        "verify_message_authenticator",
        "verify_request_authenticator",
        "verify_response_authenticator",
    ]
    for name in userman.radius.__all__:
        assert hasattr(userman.radius, name)


# https://www.rfc-editor.org/rfc/rfc2865#section-7.1: the same Access-Accept from attributes
# already in wire form (encode_attribute, encode_response), as the server sends its replies.
def test_rfc2865_7_1_accept_from_attributes_in_wire_form() -> None:
    req = decode(RFC2865["7.1-access-request"], D, secret=SECRET)
    avps = [
        make_avp(D, "Service-Type", "Login-User"),
        make_avp(D, "Login-Service", "Telnet"),
        make_avp(D, "Login-IP-Host", "192.168.1.3"),
    ]
    chunks = [encode_attribute(avp) for avp in avps]
    wire = encode_response(Code.ACCESS_ACCEPT, req.identifier, req.authenticator, chunks, SECRET)
    assert wire == RFC2865["7.1-access-accept"]


def test_a_response_in_wire_form_equals_encode_signed_and_hidden() -> None:
    """encode_response with a Message-Authenticator, a hidden (salt-encrypted) MPPE key and a
    vendor attribute: the octets `encode` makes of the same attributes, with the same salt."""
    authenticator = bytes(range(16))
    salt = lambda n: b"\x80\x01"[:n]  # noqa: E731
    avps = [
        make_avp(D, "Mikrotik-Rate-Limit", "1M/2M"),
        make_avp(D, "MS-MPPE-Recv-Key", bytes(range(32))),
        make_avp(D, "Class", b"userman:7"),
    ]
    reply = Packet(Code.ACCESS_ACCEPT, 9, authenticator, tuple(avps))
    expected = encode(
        reply, SECRET, request_authenticator=authenticator, message_authenticator=True, salt=salt
    )
    chunks = [encode_attribute(avp, secret=SECRET, vector=authenticator, salt=salt) for avp in avps]
    wire = encode_response(
        Code.ACCESS_ACCEPT, 9, authenticator, chunks, SECRET, message_authenticator=True
    )
    assert wire == expected
    assert verify_message_authenticator(wire, SECRET, authenticator) is True


def test_a_hidden_attribute_needs_the_packets_authenticator() -> None:
    with pytest.raises(EncodeError, match="hidden"):
        encode_attribute(make_avp(D, "MS-MPPE-Recv-Key", bytes(16)))


def test_encode_response_refuses_requests() -> None:
    with pytest.raises(EncodeError, match="not a response"):
        encode_response(Code.ACCESS_REQUEST, 1, bytes(16), [], SECRET)


def test_first_values_are_what_get_finds() -> None:
    pkt = build(
        D,
        Code.ACCESS_REQUEST,
        1,
        bytes(16),
        [("User-Name", "first"), ("Class", b"a"), ("User-Name", "second"), ("Class", b"b")],
    )
    values = pkt.first_values()
    assert values == {"user-name": "first", "class": b"a"}
    assert values["user-name"] == pkt.get("USER-NAME")
