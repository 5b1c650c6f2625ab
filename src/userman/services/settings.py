"""The installation's own settings (models.ServerSetting), the same on every server node."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from userman.store import models

__all__ = ["secret"]


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
