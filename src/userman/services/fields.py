"""Property kinds: how a menu property's RouterOS text becomes a column value and back.

A kind is a `convert()` contract in the manner of click: `parse(text, prop)` raises
`InvalidValueError` naming the property; `show(value)` gives the text `print` shows; `json(value)`
gives the value for `--json` (booleans and numbers as JSON types, everything else as print text).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum

from argon2 import extract_parameters
from argon2.exceptions import InvalidHashError

from userman.core import values
from userman.core.errors import InvalidValueError

__all__ = [
    "ATTRIBUTES",
    "BOOL",
    "BYTES",
    "COUNT",
    "DATETIME",
    "DECIMAL",
    "DURATION",
    "INT",
    "IP",
    "IPV6",
    "OVERRIDE",
    "PASSWORD_HASH",
    "PORT",
    "PRIORITY",
    "RATE",
    "SEALED_TEXT",
    "TEXT",
    "TIME_OF_DAY",
    "VALIDITY",
    "JsonValue",
    "Kind",
    "choice",
    "enum_of",
    "mapped",
    "port",
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


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _parse_text(text: str, prop: str) -> str:
    if "\x00" in text:
        raise InvalidValueError(prop, "must not contain NUL characters")
    return text


TEXT = Kind("string", _parse_text, _text, _text)

# A password or shared secret is stored sealed (store/secrets.py) in a column of 255 characters:
# 152 bytes of clear text fit (RADIUS's User-Password is at most 128 bytes, RFC 2865 5.2).
SEALED_BYTES = 152


def _parse_sealed(text: str, prop: str) -> str:
    if len(text.encode("utf-8", "surrogateescape")) > SEALED_BYTES:
        raise InvalidValueError(prop, f"at most {SEALED_BYTES} bytes")
    return _parse_text(text, prop)


SEALED_TEXT = Kind("string", _parse_sealed, _text, _text)


def _parse_int(text: str, prop: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise InvalidValueError(prop, f'"{text}" is not a whole number') from None


def _json_int(value: object) -> JsonValue:
    return value if isinstance(value, int) else None


INT = Kind("integer", _parse_int, _text, _json_int)


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
    return values.parse_count(text, prop, allow_unlimited=True)


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


def _parse_decimal(text: str, prop: str) -> Decimal:
    try:
        number = Decimal(text or "0")
    except InvalidOperation:
        raise InvalidValueError(prop, f'"{text}" is not a number') from None
    if not number.is_finite() or number < 0:
        raise InvalidValueError(prop, f'"{text}" is not a price')
    return number


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
    """v7 custom attributes: `Name:value` pairs, comma-separated; checked against the
    dictionaries and the attribute menu when a reply is built."""
    pairs = [pair for pair in text.split(",") if pair] if text else []
    for pair in pairs:
        name, colon, _ = pair.partition(":")
        if not colon or not name:
            raise InvalidValueError(prop, f'"{pair}" is not Name:value')
    return ",".join(pairs)


ATTRIBUTES = Kind("Name:value,...", _parse_attributes, _text, _text)


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
