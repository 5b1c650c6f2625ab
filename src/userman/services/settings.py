"""The installation's own settings (models.ServerSetting), the same on every server node: the
keys it makes itself (`secret`), and those the superuser sets (`database set name=value`,
`database print`), declared in INSTALLATION with their kind and default. A setting without a row
has its default.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from userman.core.errors import InvalidValueError, PermissionDeniedError, UnknownPropertyError
from userman.services import verbs
from userman.services.fields import BOOL, Kind
from userman.services.menus import Menu
from userman.services.request import Context, Outcome, Request
from userman.store import models

__all__ = [
    "INSTALLATION",
    "InstallationSetting",
    "allow_private_destinations",
    "print_command",
    "read",
    "secret",
    "set_command",
]


@dataclass(frozen=True, slots=True)
class InstallationSetting:
    """One setting of the whole installation that only the superuser may change."""

    name: str
    kind: Kind
    default: str
    help: str


INSTALLATION: dict[str, InstallationSetting] = {
    s.name: s
    for s in (
        InstallationSetting(
            "allow-private-destinations",
            BOOL,
            "no",
            "whether a subscriber's SMTP server and PayPal URLs may be at loopback, private, "
            "link-local or other non-public addresses",
        ),
    )
}


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


def read(db: Session, name: str) -> object:
    """The value of an installation setting (its default when it was never set)."""
    setting = INSTALLATION[name]
    stored = db.scalar(select(models.ServerSetting.value).where(models.ServerSetting.name == name))
    return setting.kind.parse(setting.default if stored is None else stored, name)


def allow_private_destinations(db: Session) -> bool:
    return bool(read(db, "allow-private-destinations"))


def _check_superuser(ctx: Context, verb: str) -> None:
    if not ctx.actor.is_superuser:
        raise PermissionDeniedError("the superuser", f"to {verb} the installation's settings")


def set_command(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`database set name=value ...`: every value parses, or nothing is changed."""
    _check_superuser(ctx, "change")
    if request.positional:
        raise InvalidValueError(request.positional[0], "database set takes name=value pairs")
    if not request.args:
        raise InvalidValueError("database", "say what to set (name=value)")
    parsed = {}
    for name, text in request.args.items():
        setting = INSTALLATION.get(name)
        if setting is None:
            raise UnknownPropertyError(name, "database set")
        parsed[name] = setting.kind.show(setting.kind.parse(text, name))
    for name, text in parsed.items():
        row = ctx.db.get(models.ServerSetting, name)
        if row is None:
            ctx.db.add(models.ServerSetting(name=name, value=text))
        else:
            row.value = text
    ctx.db.flush()
    return Outcome(None)


def print_command(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`database print`: the installation's settings, for the superuser."""
    _check_superuser(ctx, "print")
    if request.positional or request.args:
        word = request.positional[0] if request.positional else next(iter(request.args))
        raise InvalidValueError(word, "database print takes no values")
    fields = tuple(
        (name, setting.kind.show(read(ctx.db, name))) for name, setting in INSTALLATION.items()
    )
    return Outcome(None, (verbs.Item("*0", "", fields, dict(fields)),))
