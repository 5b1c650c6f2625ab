"""The property kinds' rules (services/fields.py), one by one: what each refuses, naming the
property, and that any text either parses or is refused with InvalidValueError, nothing else.
Pure: no database (docs/security.md, "Input validation")."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from userman.core.errors import InvalidValueError
from userman.services import MENUS
from userman.services.fields import (
    ATTRIBUTE_NAME,
    ATTRIBUTES,
    BIDI_CONTROLS,
    COMMENT,
    COUNT,
    DECIMAL,
    INT,
    NAME,
    PASSWORD,
    PORT,
    SECRET,
    TEXT,
    TIME_ZONE,
    TYPE_ID,
    USERNAME,
    VENDOR_ID,
    Kind,
    label,
)
from userman.services.subscriber_settings import SETTINGS


def refused(kind: Kind, text: str, prop: str = "prop") -> str:
    with pytest.raises(InvalidValueError) as caught:
        kind.parse(text, prop)
    assert caught.value.prop == prop
    return caught.value.reason


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("*5", "*ID"),
        ("*", "*ID"),
        ("12", "print number"),
        ("a,b", "`,`"),
        ("a\x00b", "control"),
        ("a\tb", "control"),
        ("a\x7fb", "control"),
        ("a\x85b", "control"),  # C1: NEL
        ("a" * 65, "65 characters"),
    ],
)
def test_a_name_that_would_read_as_something_else_is_refused(text: str, why: str) -> None:
    assert why in refused(NAME, text, "name")


@pytest.mark.parametrize("char", sorted(BIDI_CONTROLS))
def test_a_name_with_a_bidirectional_control_is_refused(char: str) -> None:
    assert f"U+{ord(char):04X}" in refused(NAME, f"admin{char}nimda", "name")
    assert "bidirectional" in refused(USERNAME, f"ann{char}", "username")
    assert "bidirectional" in refused(label(), f"pool{char}", "ip-pool")


def test_names_that_are_fine() -> None:
    for text in ("ann", "Ann Lee", "profile-1", "5a", "a*", "Zürich", "x" * 64, "١٢"):
        assert NAME.parse(text, "name") == text


def test_a_username_may_be_digits_and_has_253_bytes() -> None:
    assert USERNAME.parse("0123456789", "username") == "0123456789"  # vouchers, phone numbers
    assert USERNAME.parse("a" * 253, "username") == "a" * 253
    assert "254 bytes" in refused(USERNAME, "é" * 127, "username")  # 127 characters
    assert "*ID" in refused(USERNAME, "*1", "username")
    assert "`,`" in refused(USERNAME, "a,b", "username")


def test_an_attribute_name_has_no_colon() -> None:
    assert "`:`" in refused(ATTRIBUTE_NAME, "Vendor:Thing", "name")


def test_text_has_a_limit_and_no_control_characters() -> None:
    assert TEXT.parse("x" * 255, "email") == "x" * 255
    assert "256 characters long (at most 255)" in refused(TEXT, "x" * 256, "email")
    assert COMMENT.parse("y" * 1000, "comment") == "y" * 1000
    assert "at most 1000" in refused(COMMENT, "y" * 1001, "comment")
    assert "U+001B" in refused(COMMENT, "red \x1b[31m", "comment")  # a terminal's escape
    assert COMMENT.parse("two\r\nlines\tand a tab", "comment") == "two\r\nlines\tand a tab"
    assert "control" in refused(label(), "two\nlines", "email")
    # Free text may be right-to-left text with its marks; a name may not.
    assert COMMENT.parse("שלום\u200f!", "comment") == "שלום\u200f!"


def test_a_secret_takes_any_character_but_nul_within_its_bytes() -> None:
    assert PASSWORD.parse("p\tä ss", "password") == "p\tä ss"
    assert "NUL" in refused(PASSWORD, "a\x00", "password")
    assert PASSWORD.parse("p" * 128, "password") == "p" * 128
    assert "129 bytes" in refused(PASSWORD, "p" * 129, "password")  # RFC 2865 5.2
    assert "at most 152" in refused(SECRET, "s" * 153, "shared-secret")  # what fits sealed


@pytest.mark.parametrize(
    "text",
    [
        *("-00:00", "+00:00", "+02:00", "-05:30", "+14:00", "-14:00", "UTC", "Europe/Riga", ""),
        *("America/Argentina/Buenos_Aires", "  Europe/Riga  "),
    ],
)
def test_a_time_zone_that_parses(text: str) -> None:
    assert TIME_ZONE.parse(text, "time-zone") == text.strip()


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Mars/Base", "not a time zone"),
        ("+99:00", "-14:00 to +14:00"),
        ("+14:01", "-14:00 to +14:00"),
        ("-15:00", "-14:00 to +14:00"),
        ("+02:60", "-14:00 to +14:00"),
        ("../../etc/passwd", "not a time zone"),
        ("europe/riga", "not a time zone"),
        ("Europe/Riga\x00", "not a time zone"),
        ("E" * 65, "at most 64"),
    ],
)
def test_a_time_zone_that_does_not_parse_is_refused(text: str, why: str) -> None:
    assert why in refused(TIME_ZONE, text, "time-zone")


@pytest.mark.parametrize(
    "text",
    [
        *("1e400", "1E2", "NaN", "inf", "-Infinity", "-1", "0x10", "1,5", "12345678901", "0.001"),
        *("0.0000000000000000001", "1" * 5000, "٣"),
    ],
)
def test_a_price_that_is_no_price_is_refused(text: str) -> None:
    refused(DECIMAL, text, "price")


def test_prices_that_are_fine() -> None:
    assert DECIMAL.parse("9.99", "price") == Decimal("9.99")
    assert DECIMAL.parse("", "price") == 0
    assert DECIMAL.parse("5", "price") == 5
    assert DECIMAL.parse("1.500", "price") == Decimal("1.5")  # zeros past the cents
    assert DECIMAL.parse("9999999999.99", "price") == Decimal("9999999999.99")


def test_shared_users_zero_is_refused_one_and_unlimited_are_not() -> None:
    # The manual gives `number | unlimited` and no meaning to 0, which would refuse every log-on.
    assert "0 would refuse every log-on" in refused(COUNT, "0", "shared-users")
    assert COUNT.parse("1", "shared-users") == 1
    assert COUNT.parse("unlimited", "shared-users") is None
    refused(COUNT, "-1", "shared-users")
    refused(COUNT, "9" * 30, "shared-users")


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (INT, "1_000"),
        (INT, "١٢"),
        (INT, "9" * 21),
        (INT, str(2**63)),
        (VENDOR_ID, str(2**32)),
        (VENDOR_ID, "-1"),
        (TYPE_ID, "256"),
        (PORT, "0"),
        (PORT, "99999999999999999999"),
    ],
)
def test_a_number_out_of_its_range_or_not_in_ascii_digits_is_refused(kind: Kind, text: str) -> None:
    refused(kind, text)


def test_attributes_have_a_limit_and_no_control_characters() -> None:
    assert ATTRIBUTES.parse("Session-Timeout:60,,", "attributes") == "Session-Timeout:60"
    assert "control" in refused(ATTRIBUTES, "Reply-Message:a\x00b", "attributes")
    assert "at most 4000" in refused(ATTRIBUTES, "Reply-Message:" + "x" * 4000, "attributes")
    assert "Name:value" in refused(ATTRIBUTES, "Session-Timeout", "attributes")


WRITABLE = [
    (menu.name, prop)
    for menu in MENUS.values()
    for prop in menu.props
    if prop.writable and prop.ref is None and prop.compute is None
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(WRITABLE), st.text(max_size=300))
def test_any_text_parses_or_is_refused_naming_the_property(
    where: tuple[str, object], text: str
) -> None:
    _menu, prop = where
    name = prop.name  # type: ignore[attr-defined]
    try:
        prop.kind.parse(text, name)  # type: ignore[attr-defined]
    except InvalidValueError as error:
        named = error.prop
    else:
        named = name
    assert named == name


def test_every_text_kind_fits_its_column() -> None:
    """menus.py checks it at import; this says which properties have a limit at all."""
    limited = {prop.name for _menu, prop in WRITABLE if prop.kind.limit is not None}
    assert {"username", "name", "login", "comment", "time-zone", "attributes"} <= limited
    for menu in MENUS.values():
        columns = menu.model.__table__.columns  # type: ignore[attr-defined]
        for prop in menu.props:
            if prop.writable and prop.kind.limit is not None and not prop.hashed:
                length = getattr(columns[prop.column].type, "length", None)
                assert length is None or prop.kind.limit <= length, (menu.name, prop.name)


def test_every_settings_default_passes_its_kind() -> None:
    for setting in SETTINGS:
        setting.kind.parse(setting.default or "", setting.name)
    body = next(s for s in SETTINGS if s.name == "signup-body")
    assert len(body.default or "") > 255  # a template is longer than a line of text
    assert "U+001B" in refused(body.kind, "\x1b[2J", "signup-body")
