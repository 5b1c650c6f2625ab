"""Forms built from a menu's declaration (services/menus.py), and the values they send back.

Each writable property becomes a field whose widget follows its kind: yes/no a tick box, a
choice a select, a set tick boxes, a reference a select of the items the customer sees, a
secret a password box (empty keeps it). What a form sends back becomes the command line's
`name=value` arguments; when editing, only the values that differ from the item as it is, so
that an unchanged form changes nothing and a customer is checked only for what it changes. A
date and time is shown and typed in the viewer's time zone (web/clock.py), and sent to the
services with its offset. An emptied field takes the property's default (0: no limit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from starlette.datastructures import FormData

from userman.core.errors import UsermanError
from userman.core.values import format_datetime
from userman.services import Menu, Prop
from userman.services.fields import BOOL, BYTES, DATETIME, TIME_OF_DAY
from userman.web.clock import local, shown_zone, to_utc_text

__all__ = [
    "Field",
    "arguments",
    "fields_of",
    "form_props",
    "label",
    "required",
    "shown",
    "widget",
]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    widget: str  # text, secret, check, select, ticks
    value: str  # as print shows it
    options: tuple[str, ...] = ()
    hint: str = ""  # the kind, e.g. "time", "bytes"
    placeholder: str = ""
    required: bool = False
    revealable: bool = False  # a secret that may be shown on request


WORDS = {
    "ip": "IP",
    "id": "ID",
    "coa": "CoA",
    "psk": "PSK",
    "enc": "encryption",
    "paypal": "PayPal",
    "orig": "(as sent)",
    "signup": "sign-up",
    "pool6": "pool (IPv6)",
    "ipv6": "IPv6",
    "dns": "DNS",
    "otp": "OTP",
}


def label(name: str) -> str:
    """A property's name for people: `ip-address` -> "IP address", `use-coa` -> "Use CoA"."""
    words = [WORDS.get(word, word) for word in name.split("-")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def widget(prop: Prop) -> str:
    if prop.kind is BOOL:
        return "check"
    if prop.sensitive:
        return "secret"
    if prop.kind.options:
        return "ticks" if prop.kind.many else "select"
    if prop.ref is not None:
        return "select"
    return "text"


def form_props(menu: Menu, names: Sequence[str] = ()) -> tuple[Prop, ...]:
    """The properties a form offers: `names` in that order, or every writable one."""
    if names:
        return tuple(menu.by_name[name] for name in names)
    return tuple(
        p for p in menu.props if p.writable and not p.hidden and not p.hashed and p.compute is None
    ) + tuple(p for p in menu.props if p.hashed and not p.hidden)


# What the services refuse an item without, besides its name and the references they need
# (services/verbs.py, _check_row): a router is known by the address its requests come from.
ALSO_REQUIRED = {"router": frozenset({"ip-address"})}


def required(menu: Menu) -> frozenset[str]:
    """The properties a form marks as required: those an item cannot be without."""
    names = {p.name for p in menu.props if p.required}
    if menu.key is not None:
        names.add(menu.key)
    if menu.name != "customer":  # a customer without a parent is a new subscriber
        names.add(menu.owner)
    return frozenset(names | ALSO_REQUIRED.get(menu.name, frozenset()))


HINTS = {
    "time": "e.g. 30m, 1h30m, 4w2d",
    "bytes": "e.g. 500M, 1G (powers of 1024)",
    "bits per second": "e.g. 512k, 10M",
    "time of day": "hh:mm:ss",
    "date and time": "e.g. 2026-01-31 12:00:00",
    "number | unlimited": "a number, or unlimited",
    "off | unlimited | number": "off, unlimited or a number",
}


def shown(prop: Prop, text: str, tz: dt.tzinfo) -> str:
    """A value as print gives it, as the pages show it: a date and time in the viewer's zone
    (web/clock.py), a UTC time zone as `UTC` (the default `-00:00` too)."""
    if prop.kind is DATETIME:
        moment = local(text, tz)
        return format_datetime(moment) if moment is not None else text
    if prop.name == "time-zone":
        return shown_zone(text)
    return text


def compact_size(text: str) -> str:
    """A byte count as a form shows it: 2147483648 -> "2G" when it is a whole k, M, G or T."""
    if not text.isdigit() or int(text) == 0:
        return text
    count = int(text)
    for power, unit in ((4, "T"), (3, "G"), (2, "M"), (1, "k")):
        if count % 1024**power == 0:
            return f"{count // 1024**power}{unit}"
    return text


def _same(prop: Prop, sent: str, current: str) -> bool:
    """Whether a value sent back means what the item has (`2G` and 2147483648, `30d` and
    `4w2d`): then it is not sent, so an unchanged form changes nothing."""
    if sent == current:
        return True
    if prop.ref is not None or widget(prop) in ("secret", "ticks"):
        return False
    try:
        return prop.kind.parse(sent, prop.name) == prop.kind.parse(current, prop.name)
    except UsermanError:
        return False


def fields_of(
    props: Sequence[Prop],
    values: Mapping[str, str],
    refs: Mapping[str, Sequence[str]],
    *,
    editing: bool,
    needed: frozenset[str] = frozenset(),
    zone: str = "UTC",
) -> list[Field]:
    """The fields of a form showing `values` (an item's, or what was sent back); `needed`
    are marked required, dates and times are in the zone named `zone`."""
    fields = []
    for prop in props:
        kind = widget(prop)
        options = prop.kind.options or tuple(refs.get(prop.name, ()))
        value = values.get(prop.name, "")
        if prop.kind is BYTES:
            value = compact_size(value)
        placeholder = shown(prop, prop.default or "", dt.UTC)
        if kind == "secret":
            value = ""
            placeholder = "unchanged" if editing else ""
        elif kind == "select" and value not in options:
            options = (value, *options)
        fields.append(
            Field(
                prop.name,
                label(prop.name),
                kind,
                value,
                options,
                _hint(prop, zone),
                placeholder,
                prop.name in needed,
                kind == "secret" and not prop.hashed and editing,
            )
        )
    return fields


# Hints of single properties, where the kind's says too little.
PROPERTY_HINTS = {
    "time-zone": "e.g. Europe/Riga, +02:00; the pages, windows and reports follow it",
}


def _hint(prop: Prop, zone: str) -> str:
    """The kind's example; a date or time of day is the viewer's wall time (windows follow the
    customer's time zone, core/windows.py), so the zone is named."""
    hint = PROPERTY_HINTS.get(prop.name) or HINTS.get(prop.kind.name, "")
    return f"{hint}, {zone} time" if prop.kind in (DATETIME, TIME_OF_DAY) else hint


def _sent(form: FormData, prop: Prop) -> str | None:
    kind = widget(prop)
    if kind == "check":
        return "yes" if form.get(prop.name) else "no"
    if kind == "ticks":
        return ",".join(str(v) for v in form.getlist(prop.name))
    value = form.get(prop.name)
    return None if value is None else str(value).strip()


def arguments(
    form: FormData,
    props: Sequence[Prop],
    current: Mapping[str, str] | None,
    *,
    defaults: Mapping[str, str] | None = None,
    tz: dt.tzinfo = dt.UTC,
) -> tuple[dict[str, str], dict[str, str]]:
    """(the `name=value` arguments to send, every value as sent, to show again on an error).

    Adding (`current` None) sends every value given but those the form showed as the default
    (`defaults`: the services apply it anyway); editing sends those that differ. An emptied
    text field of a property with a default is that default; a date and time is read in `tz`.
    """
    args: dict[str, str] = {}
    shown: dict[str, str] = {}
    for prop in props:
        value = _sent(form, prop)
        if value is None:
            continue
        shown[prop.name] = value
        kind = widget(prop)
        if kind == "secret":
            if value or (current is None and not prop.hashed):
                args[prop.name] = value
            continue
        if kind == "text" and value == "" and prop.default is not None:
            value = prop.default
        if current is None:
            default = (defaults or {}).get(prop.name)
            if kind == "text" and default is not None and _same(prop, value, default):
                continue
            if value or kind in ("check", "ticks"):
                args[prop.name] = value
        elif not _same(prop, value, current.get(prop.name, "")):
            args[prop.name] = value
        if prop.kind is DATETIME and prop.name in args and value:
            args[prop.name] = to_utc_text(value, tz, prop.name)
    return args, shown
