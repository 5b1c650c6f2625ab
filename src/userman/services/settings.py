"""The installation's own settings (models.ServerSetting), the same on every server node: the
keys that sign cookies, and `database set`'s retention (services/retention.py)."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from userman.store import models

__all__ = ["put", "secret", "value"]


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
