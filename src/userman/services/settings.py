"""The installation's own settings (models.ServerSetting), the same on every server node: the
keys that sign cookies (`secret`), and those the local superuser sets with `database set
name=value` and anyone of owner level reads with `database print`, declared in INSTALLATION by
the modules they belong to: retention (services/retention.py), the certificates of EAP and
RadSec (services/certificates.py) and allow-private-destinations (services/destinations.py,
declared here). A setting without a row has its default.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from userman.core.errors import InvalidValueError, PermissionDeniedError, UnknownPropertyError
from userman.core.values import format_bool, parse_bool
from userman.services import verbs
from userman.services.menus import Menu
from userman.services.request import Context, Outcome, Request
from userman.store import models

__all__ = [
    "INSTALLATION",
    "InstallationSetting",
    "allow_local_coa",
    "allow_private_destinations",
    "declare",
    "print_command",
    "put",
    "secret",
    "set_command",
    "value",
]


@dataclass(frozen=True, slots=True)
class InstallationSetting:
    """A setting of the whole installation: `parse(text, name)` is what `database set` stores
    (None: no row, the default; InvalidValueError when the text is wrong), `show(stored)` what
    `database print` shows of what is stored (None: never set), and `check(ctx, stored,
    name)`, when there is one, refuses with InvalidValueError what parses but may not be set
    as the database stands (a certificate without its key)."""

    name: str
    parse: Callable[[str, str], str | None]
    show: Callable[[str | None], str]
    check: Callable[[Context, str | None, str], None] | None = None


# name -> setting, in the order `database print` shows them.
INSTALLATION: dict[str, InstallationSetting] = {}


def declare(*found: InstallationSetting) -> None:
    for setting in found:
        INSTALLATION[setting.name] = setting


def value(db: Session, name: str) -> str | None:
    """The setting `name`, or None when it was never set."""
    return db.scalar(select(models.ServerSetting.value).where(models.ServerSetting.name == name))


def put(db: Session, name: str, text: str | None) -> None:
    """Set `name` to `text`; None removes it (it has its default again)."""
    row = db.get(models.ServerSetting, name)
    if text is None:
        if row is not None:
            db.delete(row)
    elif row is None:
        db.add(models.ServerSetting(name=name, value=text))
    else:
        row.value = text


def secret(db: Session, name: str) -> bytes:
    """A random key kept under `name`, made on first use: the first node to make it wins, and
    every node then reads the same one."""
    value = db.scalar(select(models.ServerSetting.value).where(models.ServerSetting.name == name))
    if value is None:
        try:
            with db.begin_nested():
                db.add(models.ServerSetting(name=name, value=secrets.token_hex(32)))
        except IntegrityError:
            pass  # another node made it at the same moment
        value = db.scalar(
            select(models.ServerSetting.value).where(models.ServerSetting.name == name)
        )
    assert value is not None
    return bytes.fromhex(value)


PRIVATE_DESTINATIONS = "allow-private-destinations"


def _parse_yes(text: str, name: str) -> str | None:
    return "yes" if parse_bool(text, name) else None  # no: the default, no row


def _show_yes(stored: str | None) -> str:
    return format_bool(stored == "yes")


# Whether a subscriber's SMTP server and PayPal URLs may be at loopback, private, link-local or
# other non-public addresses (services/destinations.py); no unless the superuser says yes.
declare(InstallationSetting(PRIVATE_DESTINATIONS, _parse_yes, _show_yes))


def allow_private_destinations(db: Session) -> bool:
    return value(db, PRIVATE_DESTINATIONS) == "yes"


LOCAL_COA = "allow-local-coa"

# Whether a router with use-coa=yes may have an address of this host or its link (loopback,
# unspecified, link-local, multicast, broadcast: destinations.local_kind), where CoA/Disconnect
# requests would then go; private networks, where routers sit, need no permission. No unless the
# superuser says yes (a NAS on the server's own host, tests).
declare(InstallationSetting(LOCAL_COA, _parse_yes, _show_yes))


def allow_local_coa(db: Session) -> bool:
    return value(db, LOCAL_COA) == "yes"


def set_command(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`database set name=value ...` (the superuser's: the settings are the whole
    installation's); every value parses, or nothing is changed."""
    if not ctx.actor.is_superuser:
        raise PermissionDeniedError("the superuser", "to change the installation's settings")
    if request.positional:
        raise InvalidValueError(request.positional[0], "database set takes only name=value pairs")
    if not request.args:
        raise InvalidValueError("database", f"say what to set ({', '.join(INSTALLATION)})")
    for name in request.args:
        if name not in INSTALLATION:
            raise UnknownPropertyError(name, "database set")
    parsed = {name: INSTALLATION[name].parse(text, name) for name, text in request.args.items()}
    for name, stored in parsed.items():
        check = INSTALLATION[name].check
        if check is not None:
            check(ctx, stored, name)
    for name, stored in parsed.items():
        put(ctx.db, name, stored)
    return Outcome(None)


def print_command(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`database print`: the installation's settings."""
    if request.positional or request.args:
        unknown = next(iter(request.args), None) or request.positional[0]
        raise UnknownPropertyError(unknown, "database print")
    fields = tuple((s.name, s.show(value(ctx.db, s.name))) for s in INSTALLATION.values())
    return Outcome(None, (verbs.Item("*0", "", fields, dict(fields)),))
