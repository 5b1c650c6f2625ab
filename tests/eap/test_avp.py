"""EAP-TTLS AVPs: RFC 5281 sections 10 and 11, the Diameter AVP of RFC 6733 4.1.

https://www.rfc-editor.org/rfc/rfc5281#section-10.1
https://www.rfc-editor.org/rfc/rfc6733#section-4.1
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from userman.core.authorize import (
    ChapCredentials,
    MschapV1Credentials,
    MschapV2Credentials,
    PapCredentials,
)
from userman.eap.avp import (
    MICROSOFT,
    Attribute,
    Avp,
    AvpDecodeError,
    AvpError,
    ChallengeMismatchError,
    CredentialsError,
    InnerCredentials,
    InnerEap,
    InnerMethod,
    MandatoryAvpError,
    decode_avps,
    eap_message,
    encode_avps,
    mschap2_success,
    mschap_error,
    parse_inner,
    unsupported_mandatory,
)
from userman.radius import chap, mschap

# --- the AVP header ------------------------------------------------------------------------------

# RFC 5281 10.1 (RFC 6733 4.1): AVP Code (4), Flags V M r r r r r r (1), AVP Length (3) counting
# the header, the Vendor-ID when V is set, and the data but not the padding; then the Vendor-ID
# (4) if V, the data, and zeros up to the next multiple of 4 (RFC 5281 10.2).
VECTORS = [
    (  # User-Name "bob", M set: Length 8 + 3 = 11, one octet of padding
        bytes.fromhex("000000014000000b") + b"bob" + b"\0",
        Avp(1, b"bob", mandatory=True),
    ),
    (  # MS-CHAP-Challenge (Microsoft 311 = 0x137, 11), V and M: Length 12 + 16 = 28, no padding
        bytes.fromhex("0000000bc000001c00000137") + bytes(range(16)),
        Avp(11, bytes(range(16)), vendor=MICROSOFT, mandatory=True),
    ),
    (  # no flags, no data: the 8-octet header alone
        bytes.fromhex("1234567800000008"),
        Avp(0x12345678),
    ),
    (  # V without M, 5 octets of data: Length 17, three octets of padding
        bytes.fromhex("000000198000001100000137") + b"12345" + b"\0\0\0",
        Avp(25, b"12345", vendor=MICROSOFT),
    ),
    (  # EAP-Message (79) of 6 octets: Length 14, two octets of padding
        bytes.fromhex("0000004f4000000e0201000601150000"),
        Avp(79, bytes.fromhex("020100060115"), mandatory=True),
    ),
]


@pytest.mark.parametrize(("wire", "avp"), VECTORS)
def test_vectors_encode_and_decode(wire: bytes, avp: Avp) -> None:
    assert avp.encode() == wire
    assert decode_avps(wire) == (avp,)


def test_a_sequence_keeps_each_avp_on_a_four_octet_boundary() -> None:
    # RFC 5281 10.2: each AVP begins on a 4-octet boundary counted from the first one.
    wire = b"".join(w for w, _ in VECTORS)
    assert decode_avps(wire) == tuple(a for _, a in VECTORS)
    assert encode_avps(a for _, a in VECTORS) == wire


def test_no_data_is_no_avps() -> None:
    assert decode_avps(b"") == ()
    assert encode_avps([]) == b""


def test_reserved_flag_bits_are_ignored_on_receipt() -> None:
    # RFC 6733 4.1: "the receiver SHOULD ignore all 'R' (reserved) bits" (and P, unused here).
    wire = bytes.fromhex("000000017f00000b") + b"bob" + b"\0"
    assert decode_avps(wire) == (Avp(1, b"bob", mandatory=True),)


def test_the_last_avp_may_come_without_its_padding() -> None:
    # Some peers leave the last AVP unpadded; FreeRADIUS and hostapd accept it, so do we.
    wire = bytes.fromhex("000000014000000b") + b"bob"
    assert decode_avps(wire) == (Avp(1, b"bob", mandatory=True),)


@pytest.mark.parametrize(
    "wire",
    [
        b"\x00",  # shorter than a header
        bytes.fromhex("00000001400000"),  # a header cut short
        bytes.fromhex("0000000140000007"),  # Length below the 8-octet header
        bytes.fromhex("00000001c000000b000001"),  # V set, Length 11 < 12
        bytes.fromhex("000000014000000c") + b"bob",  # Length beyond the octets received
        bytes.fromhex("000000014000000b") + b"bob" + b"\x01",  # padding not zero
        bytes.fromhex("000000014000000a") + b"bo" + b"\0",  # padding cut short (1 of 2)
        # a second AVP cut short after a good first one
        bytes.fromhex("000000014000000b") + b"bob\0" + bytes.fromhex("00000002"),
    ],
)
def test_malformed_octets_raise_our_error(wire: bytes) -> None:
    with pytest.raises(AvpDecodeError):
        decode_avps(wire)


@pytest.mark.parametrize(
    "avp",
    [Avp(-1), Avp(1 << 32), Avp(1, vendor=-1), Avp(1, vendor=1 << 32), Avp(1, bytes(1 << 24))],
)
def test_encoding_an_avp_out_of_range_is_refused(avp: Avp) -> None:
    with pytest.raises(ValueError, match="AVP"):
        avp.encode()


avps = st.builds(
    Avp,
    code=st.integers(0, 2**32 - 1),
    data=st.binary(max_size=40),
    vendor=st.none() | st.integers(0, 2**32 - 1),
    mandatory=st.booleans(),
)


@given(st.lists(avps, max_size=6))
def test_encode_then_decode_is_the_identity(seq: list[Avp]) -> None:
    wire = encode_avps(seq)
    assert len(wire) % 4 == 0
    assert decode_avps(wire) == tuple(seq)


@given(st.binary(max_size=80))
def test_decode_parses_or_raises_our_error(data: bytes) -> None:
    try:
        seq = decode_avps(data)
    except AvpDecodeError:
        return
    assert decode_avps(encode_avps(seq)) == seq


# --- the M bit -----------------------------------------------------------------------------------


def test_an_unknown_avp_without_m_is_ignored() -> None:
    # RFC 5281 10.1: an AVP with M clear may be ignored by a recipient that does not know it.
    seq = (Avp(1, b"bob"), Avp(2, b"secret"), Avp(9999, b"x"), Avp(5, b"x", vendor=4242))
    assert unsupported_mandatory(seq) is None
    got = parse_inner(encode_avps(seq), _no_material)
    assert got == InnerCredentials(InnerMethod.PAP, "bob", PapCredentials(b"secret"))


@pytest.mark.parametrize(
    "unknown",
    [
        Avp(9999, b"x", mandatory=True),
        Avp(1, b"x", vendor=4242, mandatory=True),  # a known code of another vendor
        Avp(26, b"x", vendor=MICROSOFT, mandatory=True),  # MS-CHAP2-Success: ours to send only
    ],
)
def test_an_unknown_avp_with_m_fails_the_tunnel(unknown: Avp) -> None:
    # RFC 5281 10.1: with M set, a recipient that does not support the AVP fails the
    # negotiation; for the TTLS server that is failing the TTLS negotiation.
    seq = (Avp(1, b"bob", mandatory=True), Avp(2, b"secret", mandatory=True), unknown)
    assert unsupported_mandatory(seq) == unknown
    with pytest.raises(MandatoryAvpError) as caught:
        parse_inner(encode_avps(seq), _no_material)
    assert caught.value.avp == unknown


def test_the_attributes_the_server_understands() -> None:
    assert Attribute.of(Avp(79)) is Attribute.EAP_MESSAGE
    assert Attribute.of(Avp(25, vendor=MICROSOFT)) is Attribute.MS_CHAP2_RESPONSE
    assert Attribute.of(Avp(1, vendor=0)) is Attribute.USER_NAME  # RFC 6733 4.1: 0 is IETF
    assert Attribute.of(Avp(25)) is None
    assert Attribute.of(Avp(1, vendor=9)) is None


# --- the inner credentials (RFC 5281 11.2) -------------------------------------------------------

# The "ttls challenge" keying material (RFC 5281 11.1) a TLS connection would export: fixed here.
MATERIAL = bytes(range(0xA0, 0xA0 + 17))


def _material(n: int) -> bytes:
    return MATERIAL[:n]


def _no_material(n: int) -> bytes:
    raise AssertionError("PAP and inner EAP need no challenge material")


def _user(name: bytes = b"bob") -> Avp:
    return Avp(1, name, mandatory=True)


def _ms(code: int, data: bytes) -> Avp:
    return Avp(code, data, vendor=MICROSOFT, mandatory=True)


def test_pap_strips_the_nul_padding() -> None:
    # RFC 5281 11.2.5: the password may be padded with NULs to a multiple of 16 octets.
    wire = encode_avps([_user(), Avp(2, b"secret" + bytes(10), mandatory=True)])
    got = parse_inner(wire, _no_material)
    assert got == InnerCredentials(InnerMethod.PAP, "bob", PapCredentials(b"secret"))


def test_chap_with_the_derived_challenge_and_ident() -> None:
    # RFC 5281 11.2.2: 17 octets of material, the first 16 the challenge, the 17th the Ident.
    challenge, ident = MATERIAL[:16], MATERIAL[16]
    response = chap.chap_response(ident, b"secret", challenge)
    seq = [_user(), Avp(60, challenge, mandatory=True), Avp(3, bytes((ident,)) + response)]
    got = parse_inner(encode_avps(seq), _material)
    assert got == InnerCredentials(
        InnerMethod.CHAP, "bob", ChapCredentials(bytes((ident,)) + response, challenge)
    )
    assert isinstance(got, InnerCredentials)
    assert isinstance(got.credentials, ChapCredentials)
    assert chap.verify_chap(got.credentials.chap_password, got.credentials.challenge, b"secret")


def test_mschap_v1_takes_nine_octets_of_material() -> None:
    # RFC 5281 11.2.3: 9 octets, the first 8 the MS-CHAP challenge, the 9th the Ident.
    material = MATERIAL[:9]
    seen: list[int] = []

    def export(n: int) -> bytes:
        seen.append(n)
        return material[:n]

    response = mschap.mschap_v1_response(material[8], "secret", material[:8])
    seq = [_user(), _ms(11, material[:8]), _ms(1, response)]
    got = parse_inner(encode_avps(seq), export)
    assert seen == [9]
    assert got == InnerCredentials(
        InnerMethod.MSCHAP1, "bob", MschapV1Credentials(material[:8], response)
    )
    assert mschap.verify_mschap_v1("secret", material[:8], response) is not None


def test_mschap_v2_with_the_derived_challenge_and_ident() -> None:
    # RFC 5281 11.2.4: 17 octets, the first 16 the MS-CHAP-V2 challenge, the 17th the Ident.
    challenge, ident = MATERIAL[:16], MATERIAL[16]
    response = mschap.mschap_v2_response(ident, b"bob", "secret", challenge, bytes(16))
    seq = [_user(), _ms(11, challenge), _ms(25, response)]
    got = parse_inner(encode_avps(seq), _material)
    assert got == InnerCredentials(
        InnerMethod.MSCHAP2, "bob", MschapV2Credentials(challenge, response)
    )
    assert mschap.verify_mschap_v2(b"bob", "secret", challenge, response) is not None


def _chap(challenge: bytes, ident: int) -> list[Avp]:
    return [_user(), Avp(60, challenge), Avp(3, bytes((ident,)) + bytes(16))]


def _mschap1(challenge: bytes, ident: int) -> list[Avp]:
    return [_user(), _ms(11, challenge), _ms(1, bytes((ident, 1)) + bytes(48))]


def _mschap2(challenge: bytes, ident: int) -> list[Avp]:
    return [_user(), _ms(11, challenge), _ms(25, bytes((ident,)) + bytes(49))]


@pytest.mark.parametrize(
    "seq",
    [
        _chap(MATERIAL[:15] + b"\0", MATERIAL[16]),  # another challenge
        _chap(MATERIAL[:16], MATERIAL[16] ^ 1),  # another Ident
        _chap(MATERIAL[1:17], MATERIAL[16]),
        _mschap1(MATERIAL[:7] + b"\0", MATERIAL[8]),
        _mschap1(MATERIAL[:8], MATERIAL[8] ^ 1),
        _mschap1(MATERIAL[:8], MATERIAL[16]),  # the Ident of 17 octets, not of 9
        _mschap2(bytes(16), MATERIAL[16]),
        _mschap2(MATERIAL[:16], MATERIAL[16] ^ 0x80),
    ],
)
def test_a_challenge_not_derived_from_the_tunnel_is_refused(seq: list[Avp]) -> None:
    # RFC 5281 11.2.2-11.2.4: the server must verify the challenge and the Ident equal the
    # material; otherwise a response captured elsewhere could be replayed into the tunnel.
    with pytest.raises(ChallengeMismatchError):
        parse_inner(encode_avps(seq), _material)


def test_inner_eap_returns_the_eap_packet() -> None:
    # RFC 5281 11.2.1: EAP-Response/Identity tunnelled in an EAP-Message AVP.
    packet = bytes.fromhex("0201000801626f62")
    got = parse_inner(encode_avps([Avp(79, packet, mandatory=True)]), _no_material)
    assert got == InnerEap(packet)
    assert got.method is InnerMethod.EAP


def test_inner_eap_keeps_a_user_name_and_joins_split_messages() -> None:
    packet = bytes.fromhex("0201000801626f62")
    seq = [_user(), Avp(79, packet[:5]), Avp(79, packet[5:])]
    assert parse_inner(encode_avps(seq), _no_material) == InnerEap(packet, "bob")


def test_a_user_name_that_is_not_utf8_is_kept_escaped() -> None:
    wire = encode_avps([_user(b"b\xffb"), Avp(2, b"pw")])
    got = parse_inner(wire, _no_material)
    assert isinstance(got, InnerCredentials)
    assert got.username.encode("utf-8", "surrogateescape") == b"b\xffb"


GOOD_V2 = _mschap2(MATERIAL[:16], MATERIAL[16])


@pytest.mark.parametrize(
    "seq",
    [
        [],  # nothing at all
        [_user()],  # a name without a password
        [Avp(2, b"pw")],  # PAP without User-Name
        [Avp(60, MATERIAL[:16]), Avp(3, MATERIAL[16:] + bytes(16))],  # CHAP without User-Name
        [_user(), Avp(3, MATERIAL[16:] + bytes(16))],  # CHAP-Password without CHAP-Challenge
        [_user(), _ms(25, MATERIAL[16:] + bytes(49))],  # MS-CHAP2-Response without challenge
        [_user(), _user(), Avp(2, b"pw")],  # two User-Names
        [_user(), Avp(2, b"pw"), Avp(2, b"pw")],  # two User-Passwords
        [_user(), Avp(2, b"pw"), *GOOD_V2[1:]],  # two methods at once
        [_user(), Avp(2, b"pw"), Avp(60, MATERIAL[:16])],  # a CHAP-Challenge with PAP
        [_user(), Avp(2, b"pw"), Avp(79, b"\x02\x01\x00\x04")],  # EAP and PAP at once
        [*GOOD_V2, Avp(60, MATERIAL[:16])],  # a CHAP-Challenge with MS-CHAPv2
        [_user(), Avp(60, MATERIAL[:16]), Avp(3, MATERIAL[16:] + bytes(15))],  # 16 octets
        [_user(), _ms(11, MATERIAL[:16]), _ms(25, MATERIAL[16:] + bytes(48))],  # 49 octets
        [_user(), _ms(11, MATERIAL[:8]), _ms(1, MATERIAL[8:9] + bytes(50))],  # 51 octets
    ],
)
def test_incomplete_or_inconsistent_credentials_are_refused(seq: list[Avp]) -> None:
    with pytest.raises(CredentialsError):
        parse_inner(encode_avps(seq), _material)


def test_short_challenge_material_is_the_callers_mistake() -> None:
    with pytest.raises(ValueError, match="material") as caught:
        parse_inner(encode_avps(GOOD_V2), lambda n: MATERIAL[: n - 1])
    assert not isinstance(caught.value, AvpError)


@given(st.lists(st.sampled_from(list(Attribute)), max_size=6), st.data())
def test_any_mix_of_known_avps_gives_credentials_or_our_error(
    attributes: list[Attribute], data: st.DataObject
) -> None:
    # The invariant a fuzz target would check: parsed, or an AvpError, never anything else.
    draw_data, draw_flag = st.binary(max_size=60), st.booleans()
    seq = [
        Avp(a.value[1], data.draw(draw_data), a.value[0] or None, data.draw(draw_flag))
        for a in attributes
    ]
    try:
        got = parse_inner(encode_avps(seq), _material)
    except AvpError:
        return
    assert isinstance(got, InnerCredentials | InnerEap)


def test_malformed_tunnel_data_raises_the_decode_error() -> None:
    with pytest.raises(AvpDecodeError):
        parse_inner(b"\x00\x00\x00\x01", _material)


def test_the_error_tree() -> None:
    for error in (AvpDecodeError, MandatoryAvpError, CredentialsError, ChallengeMismatchError):
        assert issubclass(error, AvpError)
    assert issubclass(ChallengeMismatchError, CredentialsError)
    assert issubclass(AvpError, ValueError)


# --- the server's answers (RFC 5281 11.2.4, RFC 2548) --------------------------------------------

AUTH_RESPONSE = b"S=" + b"0123456789ABCDEF0123456789ABCDEF01234567"


def test_mschap2_success_octets() -> None:
    # RFC 5281 11.2.4 and RFC 2548 2.3.3: Vendor 311, code 26, the Ident then "S=" + 40 hex:
    # Length 12 + 1 + 42 = 55 (0x37), one octet of padding; M set as FreeRADIUS and hostapd do.
    wire = mschap2_success(0x42, AUTH_RESPONSE)
    assert wire == bytes.fromhex("0000001ac000003700000137") + b"\x42" + AUTH_RESPONSE + b"\0"
    assert decode_avps(wire) == (_ms(26, b"\x42" + AUTH_RESPONSE),)


def test_mschap_error_octets() -> None:
    # RFC 2548 2.1.5: Vendor 311, code 2, the Ident then the RFC 2759 failure string.
    text = b"E=691 R=0 C=" + b"00" * 16 + b" V=3"
    wire = mschap_error(7, text)
    assert wire[:12] == bytes.fromhex("00000002c000003d00000137")  # 12 + 1 + 48 = 61
    assert decode_avps(wire) == (_ms(2, b"\x07" + text),)


def test_eap_message_octets() -> None:
    # RFC 5281 11.2.1: EAP-Request/Identity (RFC 3748 5.1) in an EAP-Message AVP (79).
    packet = bytes.fromhex("0101000501")
    wire = eap_message(packet)
    assert wire == bytes.fromhex("0000004f4000000d0101000501000000")


def test_a_server_answer_is_refused_for_an_ident_out_of_range() -> None:
    with pytest.raises(ValueError, match="Ident"):
        mschap2_success(256, AUTH_RESPONSE)
