"""Property kinds: how a menu property's RouterOS text becomes a column value and back.

A kind is a `convert()` contract in the manner of click: `parse(text, prop)` raises
`InvalidValueError` naming the property; `show(value)` gives the text `print` shows; `json(value)`
gives the value for `--json` (booleans and numbers as JSON types, everything else as print text).

`parse` is the check every written value passes, whichever way it comes (CLI, API, web form,
`userman import`); what is already stored is read without it, so a value from before a rule
still prints. The limits (docs/security.md, "Input validation"):
- text: at most `limit` characters (names 64, comments 1000, other text 255, as its column),
  never a control character (U+0000-U+001F, U+007F-U+009F) but, in free text, tab and line
  breaks;
- names and identifiers (`label`, `name`): no Unicode bidirectional controls either (U+200E/F,
  U+202A-U+202E, U+2066-U+2069), which make a name read as another; an item's name has no `,`
  (lists of items), does not start with `*` (an item's *ID) and, but for a username, is not all
  digits (a print number);
- secrets: at most `limit` bytes of UTF-8 (a password 128, RFC 2865 5.2), no NUL; an
  otp-secret is base32 (RFC 4648 6; any case, spaces ignored), stored in capitals;
- numbers: ASCII digits within the column's range; a price has at most 2 decimal places and 10
  whole digits (the column is NUMERIC(12, 2)).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError

from userman.core import totp, values
from userman.core.errors import InvalidValueError
from userman.core.windows import check_time_zone

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTES_LIMIT",
    "ATTRIBUTE_NAME",
    "BIDI_CONTROLS",
    "BOOL",
    "BYTES",
    "COMMENT",
    "COMMENT_LIMIT",
    "COUNT",
    "DATETIME",
    "DECIMAL",
    "DURATION",
    "INT",
    "IP",
    "IPV6",
    "NAME",
    "NAME_LIMIT",
    "OTP_SECRET",
    "OVERRIDE",
    "PASSWORD",
    "PASSWORD_HASH",
    "PASSWORD_LIMIT",
    "PORT",
    "PRIORITY",
    "RATE",
    "SECRET",
    "TEMPLATE",
    "TEMPLATE_LIMIT",
    "TEXT",
    "TEXT_LIMIT",
    "TIME_OF_DAY",
    "TIME_ZONE",
    "TYPE_ID",
    "USERNAME",
    "USERNAME_LIMIT",
    "VALIDITY",
    "VENDOR_ID",
    "JsonValue",
    "Kind",
    "check_characters",
    "choice",
    "enum_of",
    "free_text",
    "integer",
    "item_name",
    "label",
    "mapped",
    "port",
    "secret",
    "set_of",
]

JsonValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    parse: Callable[[str, str], object]
    show: Callable[[object], str]
    json: Callable[[object], JsonValue]
    # The words of a choice or a set, for forms that offer them (a select, tick boxes).
    options: tuple[str, ...] = ()
    many: bool = False  # a comma-separated set of the options
    # Text: the most characters a value has (menus.py checks it fits the column); a `where`
    # condition compares such a value as given, so a stored one from before a rule is found.
    limit: int | None = None
    unit: str = "characters"  # what `limit` counts: characters, or bytes of UTF-8


def _text(value: object) -> str:
    return "" if value is None else str(value)


# -- text ------------------------------------------------------------------------------------

NAME_LIMIT = 64
TEXT_LIMIT = 255
COMMENT_LIMIT = 1000
PASSWORD_LIMIT = 128  # bytes: RFC 2865 5.2, User-Password is at most 128 octets
USERNAME_LIMIT = 253  # bytes: RFC 2865 5.1, a User-Name attribute's value

# Characters that reorder the text shown after them (Trojan Source, CVE-2021-42574): a name with
# them reads as another name.
BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _check_length(text: str, prop: str, limit: int) -> None:
    if len(text) > limit:
        raise InvalidValueError(prop, f"is {len(text)} characters long (at most {limit})")


# A password or shared secret is stored sealed (store/secrets.py) in a column of 255 characters:
# 152 bytes of clear text fit (RADIUS's User-Password is at most 128 bytes, RFC 2865 5.2).
SEALED_BYTES = 152


# The control characters free text may hold, as RouterOS's `\t`, `\n` and `\r` escapes write
# them (a comment of several lines); never ESC, NUL or the others, which a terminal would obey.
LAYOUT = frozenset("\t\n\r")


def check_characters(text: str, prop: str, *, bidi: bool, layout: bool = False) -> None:
    """No control character in `text` (but tab and line breaks when `layout`); no
    bidirectional control either unless `bidi`."""
    for char in text:
        if unicodedata.category(char) == "Cc" and not (layout and char in LAYOUT):
            reason = f"must not contain control characters (U+{ord(char):04X})"
            raise InvalidValueError(prop, reason)
        if not bidi and char in BIDI_CONTROLS:
            reason = f"must not contain bidirectional control characters (U+{ord(char):04X})"
            raise InvalidValueError(prop, reason)


def free_text(limit: int = TEXT_LIMIT, *, identifier: bool = False) -> Kind:
    """Text of at most `limit` characters: free text (a comment, a first name) may hold tabs,
    line breaks and bidirectional marks (right-to-left writing), but no other control
    character; an `identifier` (an e-mail address, a pool's name, a caller-id) none of them."""

    def parse(value: str, prop: str) -> str:
        _check_length(value, prop, limit)
        check_characters(value, prop, bidi=not identifier, layout=not identifier)
        return value

    return Kind("string", parse, _text, _text, limit=limit)


def label(limit: int = TEXT_LIMIT) -> Kind:
    return free_text(limit, identifier=True)


TEMPLATE_LIMIT = 20_000
TEXT = free_text()
COMMENT = free_text(COMMENT_LIMIT)
TEMPLATE = free_text(TEMPLATE_LIMIT)  # a setting's text: a mail's body, a voucher's HTML


def item_name(
    limit: int = NAME_LIMIT, *, digits: bool = False, utf8: bool = False, forbidden: str = ","
) -> Kind:
    """An item's name, as commands address it: not `*...` (an *ID), no `,` (a list of items)
    nor another of `forbidden`, not all digits unless `digits` (it would be a print number; a
    username may be a voucher's or a phone number's digits), at most `limit` characters
    (`utf8`: bytes)."""

    def parse(value: str, prop: str) -> str:
        size = len(value.encode("utf-8", "surrogatepass")) if utf8 else len(value)
        if size > limit:
            unit = "bytes" if utf8 else "characters"
            raise InvalidValueError(prop, f"is {size} {unit} long (at most {limit})")
        check_characters(value, prop, bidi=False)
        if value.startswith("*"):
            raise InvalidValueError(prop, f'"{value}" would read as an item\'s *ID')
        for char in forbidden:
            if char in value:
                raise InvalidValueError(prop, f"must not contain `{char}` ({_SEPARATES[char]})")
        if not digits and value.isascii() and value.isdigit():  # as commands read numbers
            raise InvalidValueError(prop, f'"{value}" would read as a print number')
        return value

    unit = "bytes" if utf8 else "characters"
    return Kind("string", parse, _text, _text, limit=limit, unit=unit)


_SEPARATES = {",": "it separates items in a list", ":": "it separates a name from its value"}
NAME = item_name()
ATTRIBUTE_NAME = item_name(forbidden=",:")  # named in `attributes=Name:value,...`
USERNAME = item_name(USERNAME_LIMIT, digits=True, utf8=True)


def secret(limit: int = TEXT_LIMIT) -> Kind:
    """A secret (a password, a shared secret): any characters but NUL, at most `limit` bytes."""

    def parse(value: str, prop: str) -> str:
        if "\x00" in value:
            raise InvalidValueError(prop, "must not contain NUL characters")
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > limit:
            raise InvalidValueError(prop, f"is {size} bytes long (at most {limit})")
        return value

    return Kind("string", parse, _text, _text, limit=limit, unit="bytes")


SECRET = secret(SEALED_BYTES)  # a shared secret, sealed
PASSWORD = secret(PASSWORD_LIMIT)


def _parse_otp_secret(value: str, prop: str) -> str:
    """A TOTP key in base32 as authenticator apps show it (v7's otp-secret); "" for none."""
    plain = "".join(value.split()).upper()
    if not plain:
        return ""
    _check_length(plain, prop, SEALED_BYTES)
    try:
        totp.decode_secret(plain)
    except ValueError as error:
        raise InvalidValueError(prop, f"{error}: a TOTP key in base32, as apps show it") from None
    return plain


OTP_SECRET = Kind("base32", _parse_otp_secret, _text, _text, limit=SEALED_BYTES)


def _parse_time_zone(value: str, prop: str) -> str:
    _check_length(value, prop, NAME_LIMIT)
    return check_time_zone(value, prop)


TIME_ZONE = Kind("+HH:MM | IANA zone", _parse_time_zone, _text, _text, limit=NAME_LIMIT)


# -- numbers ---------------------------------------------------------------------------------

_INT_RE = re.compile(r"[+-]?[0-9]{1,20}")
_MAX_BIGINT = 2**63 - 1


def _parse_int(text: str, prop: str, low: int = -_MAX_BIGINT - 1, high: int = _MAX_BIGINT) -> int:
    """ASCII digits with an optional sign, within [low, high] (not `1_000`, not `١٢`)."""
    raw = text.strip()
    if _INT_RE.fullmatch(raw) is None:
        raise InvalidValueError(prop, f'"{text[:40]}" is not a whole number')
    number = int(raw, 10)
    if not low <= number <= high:
        raise InvalidValueError(prop, f"{number} is not in {low}..{high}")
    return number


def _json_int(value: object) -> JsonValue:
    return value if isinstance(value, int) else None


def integer(low: int, high: int) -> Kind:
    def parse(text: str, prop: str) -> int:
        return _parse_int(text, prop, low, high)

    return Kind("integer", parse, _text, _json_int)


INT = integer(-_MAX_BIGINT - 1, _MAX_BIGINT)
VENDOR_ID = integer(0, 2**32 - 1)  # RFC 2865 5.26: a Vendor-Id is four octets
TYPE_ID = integer(0, 255)  # an attribute's type is one octet


def port(text: str, prop: str) -> int:
    number = _parse_int(text, prop)
    if not 1 <= number <= 65535:
        raise InvalidValueError(prop, f"{number} is not a port (1-65535)")
    return number


PORT = Kind("port", port, _text, _json_int)


def _show_bool(value: object) -> str:
    return values.format_bool(bool(value))


BOOL = Kind("yes | no", values.parse_bool, _show_bool, bool)


def _parse_count(text: str, prop: str) -> int | None:
    """shared-users: the manual's `number | unlimited`, a number at least 1 (0 would refuse
    every log-on, which `disabled=yes` says plainly; the manual gives 0 no meaning)."""
    if text.strip() == "0":
        raise InvalidValueError(
            prop,
            "0 would refuse every log-on: give 1 or more, or unlimited (disabled=yes stops a user)",
        )
    return values.parse_count(text, prop, allow_unlimited=True, minimum=1)


def _show_count(value: object) -> str:
    return values.format_count(value if isinstance(value, int) else None)


COUNT = Kind("number | unlimited", _parse_count, _show_count, _json_int)


def _show_duration(value: object) -> str:
    return values.format_duration(dt.timedelta(seconds=value if isinstance(value, int) else 0))


def _parse_duration(text: str, prop: str) -> int:
    return int(values.parse_duration(text, prop).total_seconds())


DURATION = Kind("time", _parse_duration, _show_duration, _show_duration)


def _parse_validity(text: str, prop: str) -> int:
    """A profile's validity: a time, or `unlimited` (v7's word for no end, which legacy
    exports write as `0s`); both are stored as 0."""
    if text.strip().lower() == "unlimited":
        return 0
    return _parse_duration(text, prop)


def _show_validity(value: object) -> str:
    return _show_duration(value) if isinstance(value, int) and value else "unlimited"


VALIDITY = Kind("time | unlimited", _parse_validity, _show_validity, _show_validity)


def _parse_bytes(text: str, prop: str) -> int:
    return values.parse_size(text, prop)


BYTES = Kind("bytes", _parse_bytes, _text, _json_int)


def _parse_ip(text: str, prop: str) -> str:
    if text == "":
        return ""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InvalidValueError(prop, f'"{text}" is not an IP address') from None


IP = Kind("IP address", _parse_ip, _text, _text)


def _parse_ipv6(text: str, prop: str) -> str:
    """An IPv6 address in its short form; empty is `::`, the unspecified address (none)."""
    try:
        return str(ipaddress.IPv6Address(text or "::"))
    except ValueError:
        raise InvalidValueError(prop, f'"{text}" is not an IPv6 address') from None


IPV6 = Kind("IPv6 address", _parse_ipv6, _text, _text)


_PRICE_RE = re.compile(r"(?P<whole>[0-9]{1,10})(?:\.(?P<part>[0-9]{0,20}))?")


def _parse_decimal(text: str, prop: str) -> Decimal:
    """A price: at most 10 whole digits and 2 decimal places (NUMERIC(12, 2)), never negative,
    no exponent, NaN or infinity; empty is 0, and so are trailing zeros past the cents."""
    raw = text.strip() or "0"
    match = _PRICE_RE.fullmatch(raw)
    if match is None:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise InvalidValueError(
            prop, f'"{shown}" is not a price (examples: 0, 5, 9.99; at most 9999999999.99)'
        )
    if len((match["part"] or "").rstrip("0")) > 2:
        raise InvalidValueError(prop, f'"{text}" has more than 2 decimal places')
    return Decimal(raw)


def _show_decimal(value: object) -> str:
    return "" if value is None or value == 0 else f"{value}"


DECIMAL = Kind("number", _parse_decimal, _show_decimal, _show_decimal)


def _show_datetime(value: object) -> str:
    return values.format_datetime(value) if isinstance(value, dt.datetime) else ""


def _parse_datetime(text: str, prop: str) -> dt.datetime | None:
    # Times are stored in UTC (the manual: "stored as GMT"); a time without a zone is UTC.
    return None if text == "" else values.parse_datetime(text, prop, tz=dt.UTC)


DATETIME = Kind("date and time", _parse_datetime, _show_datetime, _show_datetime)


def _parse_rate(text: str, prop: str) -> int:
    return values.parse_rate(text, prop)


def _show_rate(value: object) -> str:
    return values.format_rate(value if isinstance(value, int) else 0)


RATE = Kind("bits per second", _parse_rate, _show_rate, _json_int)


def _parse_time_of_day(text: str, prop: str) -> int:
    moment = values.parse_time_of_day(text, prop)
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def _show_time_of_day(value: object) -> str:
    seconds = value if isinstance(value, int) else 0
    return values.format_time_of_day(dt.time(seconds // 3600, seconds // 60 % 60, seconds % 60))


TIME_OF_DAY = Kind("time of day", _parse_time_of_day, _show_time_of_day, _show_time_of_day)


def _parse_priority(text: str, prop: str) -> int:
    number = _parse_int(text, prop)
    if not 0 <= number <= 8:
        raise InvalidValueError(prop, f"{number} is not a priority (1 highest to 8, 0 unset)")
    return number


PRIORITY = Kind("0..8", _parse_priority, _text, _json_int)


def _parse_override(text: str, prop: str) -> str:
    if text in ("off", "unlimited"):
        return text
    return str(values.parse_count(text, prop, allow_unlimited=False, minimum=1))


OVERRIDE = Kind("off | unlimited | number", _parse_override, _text, _text)


def _parse_attributes(text: str, prop: str) -> str:
    """v7 custom attributes: `Name:value` pairs, comma-separated. Each name and value is checked
    against the dictionaries and the attribute menu (its value type) when the item is written
    (services/verbs.py check_attributes), as they are again when a reply is built."""
    _check_length(text, prop, ATTRIBUTES_LIMIT)
    check_characters(text, prop, bidi=False)
    pairs = [pair for pair in text.split(",") if pair] if text else []
    for pair in pairs:
        name, colon, _ = pair.partition(":")
        if not colon or not name:
            raise InvalidValueError(prop, f'"{pair}" is not Name:value')
    return ",".join(pairs)


ATTRIBUTES_LIMIT = 4000
ATTRIBUTES = Kind("Name:value,...", _parse_attributes, _text, _text, limit=ATTRIBUTES_LIMIT)


def mapped(options: Mapping[str, str]) -> Kind:
    """A choice whose words map to another property's stored words (v7 names of legacy ones)."""
    reverse = {stored: word for word, stored in options.items()}

    def parse(text: str, prop: str) -> str:
        if text not in options:
            raise InvalidValueError(prop, f'"{text}" is not one of: {", ".join(options)}')
        return options[text]

    def show(value: object) -> str:
        return reverse.get(str(value), str(value))

    return Kind(" | ".join(options), parse, show, show, tuple(options))


def _parse_hash(text: str, prop: str) -> str:
    """An argon2 hash as `export show-sensitive` writes it, so a customer's password survives
    export and import without ever being known."""
    try:
        extract_parameters(text)
    except (InvalidHashError, ValueError):
        raise InvalidValueError(prop, "is not an argon2 password hash") from None
    return text


PASSWORD_HASH = Kind("argon2 hash", _parse_hash, _text, _text)


def choice(options: Sequence[str]) -> Kind:
    def parse(text: str, prop: str) -> str:
        if text not in options:
            raise InvalidValueError(prop, f'"{text}" is not one of: {", ".join(options)}')
        return text

    return Kind(" | ".join(options), parse, _text, _text, tuple(options))


def enum_of(kind: type[Enum]) -> Kind:
    """A choice whose values are an Enum's (a column of that Enum type): parsed to its member,
    shown as its value."""
    options = tuple(str(member.value) for member in kind)

    def parse(text: str, prop: str) -> Enum:
        try:
            return kind(text)
        except ValueError:
            raise InvalidValueError(prop, f'"{text}" is not one of: {", ".join(options)}') from None

    def show(value: object) -> str:
        return str(value.value) if isinstance(value, Enum) else _text(value)

    return Kind(" | ".join(options), parse, show, show, options)


def set_of(options: Sequence[str]) -> Kind:
    """A comma-separated set, stored as text in `options` order."""

    def parse(text: str, prop: str) -> str:
        return values.format_set(values.parse_set(text, prop, options), options)

    return Kind(" | ".join(options), parse, _text, _text, tuple(options), many=True)
