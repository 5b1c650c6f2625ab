"""The generic verbs, defined once for every menu: add, set, remove, print.

Each takes the unit of work `db` (the caller owns the transaction), the `actor`, and a `Menu`
from `services.menus`. Items are addressed by their key property (login, name, username) or by
RouterOS `*ID` (hexadecimal row id). Nothing is written unless every value parses.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    UnknownPropertyError,
)
from userman.services.actor import Actor
from userman.services.fields import JsonValue
from userman.services.menus import CUSTOMER, Menu, Prop
from userman.store import models

__all__ = ["Item", "add", "find", "hash_password", "items", "remove", "resolve_customer", "set_"]

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@dataclass(frozen=True, slots=True)
class Item:
    """One item as `print` shows it: `*ID`, flag letters, and (property, text) pairs."""

    id: str
    flags: str
    fields: tuple[tuple[str, str], ...]
    json: dict[str, JsonValue]


def item_id(row: models.Base) -> str:
    return f"*{row.id:X}"  # type: ignore[attr-defined]


def _scoped(actor: Actor, menu: Menu) -> Select[Any]:
    stmt = select(menu.model)
    if actor.subscriber_id is not None:
        stmt = stmt.where(menu.model.subscriber_id == actor.subscriber_id)  # type: ignore[attr-defined]
    return stmt.order_by(menu.model.id)  # type: ignore[attr-defined]


def find(db: Session, actor: Actor, menu: Menu, key: str, subscriber_id: int | None = None) -> Any:
    """The one item of `menu` that `key` (its name or `*ID`) addresses, in the actor's scope."""
    stmt = _scoped(actor, menu)
    if subscriber_id is not None:
        stmt = stmt.where(menu.model.subscriber_id == subscriber_id)  # type: ignore[attr-defined]
    if key.startswith("*"):
        try:
            row_id = int(key[1:], 16)
        except ValueError:
            raise NotFoundError(menu.name, key) from None
        stmt = stmt.where(menu.model.id == row_id)  # type: ignore[attr-defined]
    else:
        column = getattr(menu.model, menu.by_name[menu.key].column)
        stmt = stmt.where(column == key)
    rows = db.scalars(stmt.limit(2)).all()
    if not rows:
        raise NotFoundError(menu.name, key)
    if len(rows) > 1:
        raise ConflictError(menu.key, f'"{key}" names items of several subscribers; use *ID')
    return rows[0]


def resolve_customer(db: Session, actor: Actor, login: str | None) -> models.Customer:
    """The customer a `customer=`/`owner=`/`parent=` value names; by default the actor's own.

    The local superuser with no customer given gets the only subscriber, when there is one.
    """
    if login:
        customer: models.Customer = find(db, actor, CUSTOMER, login)
        return customer
    stmt = select(models.Customer).where(models.Customer.id == models.Customer.subscriber_id)
    if actor.subscriber_id is None:
        subscribers = db.scalars(stmt.limit(2)).all()
        if len(subscribers) == 1:
            return subscribers[0]
        raise InvalidValueError("customer", "required: say which customer (customer=LOGIN)")
    found: models.Customer = find(db, actor, CUSTOMER, actor.login)
    return found


def _parse(menu: Menu, args: Mapping[str, str], *, adding: bool) -> dict[Prop, object]:
    """Every value parsed before anything is written, so a bad value changes nothing."""
    parsed: dict[Prop, object] = {}
    for name, text in args.items():
        prop = menu.by_name.get(name)
        if prop is None:
            raise UnknownPropertyError(name, menu.name)
        if not prop.writable:
            raise InvalidValueError(name, "is read-only")
        if prop.ref:
            parsed[prop] = text
        elif prop.hashed:
            parsed[prop] = hash_password(text)
        else:
            parsed[prop] = prop.kind.parse(text, name)
    if adding:
        for prop in menu.props:
            if prop not in parsed and prop.default is not None and prop.writable:
                parsed[prop] = prop.kind.parse(prop.default, prop.name)
    return parsed


def _apply(db: Session, actor: Actor, menu: Menu, row: Any, parsed: dict[Prop, object]) -> None:
    for prop, value in parsed.items():
        if not prop.ref:
            setattr(row, prop.column, value)
        elif row.id is not None:  # add() places a new item itself
            target = _reassign(db, actor, row, prop.name, str(value), tree=menu is CUSTOMER)
            setattr(row, prop.column, target.id)


def _reassign(
    db: Session, actor: Actor, row: Any, prop: str, login: str, *, tree: bool
) -> models.Customer:
    """The customer an item moves to: one of its own subscriber's, and no loop of parents."""
    if not login:
        raise InvalidValueError(prop, "required")
    target = resolve_customer(db, actor, login)
    if target.subscriber_id != row.subscriber_id:
        raise InvalidValueError(prop, f'"{login}" belongs to another subscriber')
    if tree:
        node: models.Customer | None = target
        while node is not None:
            if node.id == row.id:
                raise InvalidValueError(prop, "a customer cannot be under itself")
            node = None if node.parent_id == node.id else db.get(models.Customer, node.parent_id)
    return target


def _check_key(db: Session, menu: Menu, row: Any) -> None:
    key_prop = menu.by_name[menu.key]
    value = getattr(row, key_prop.column)
    if not value:
        raise InvalidValueError(menu.key, "required")
    stmt = select(menu.model.id).where(  # type: ignore[attr-defined]
        getattr(menu.model, key_prop.column) == value,
        menu.model.subscriber_id == row.subscriber_id,  # type: ignore[attr-defined]
    )
    if row.id is not None:
        stmt = stmt.where(menu.model.id != row.id)  # type: ignore[attr-defined]
    if db.scalar(stmt.limit(1)) is not None:
        raise ConflictError(menu.key, f'an item named "{value}" already exists')


def _check_unique_address(db: Session, row: models.Router) -> None:
    stmt = select(models.Router.id).where(models.Router.ip_address == row.ip_address)
    if row.id is not None:
        stmt = stmt.where(models.Router.id != row.id)
    if not row.ip_address:
        raise InvalidValueError("ip-address", "required: requests are matched by it")
    if db.scalar(stmt.limit(1)) is not None:
        raise ConflictError("ip-address", f"a router with address {row.ip_address} exists")


def _validate(db: Session, menu: Menu, row: Any) -> None:
    _check_key(db, menu, row)
    if isinstance(row, models.Router):
        _check_unique_address(db, row)


def add(db: Session, actor: Actor, menu: Menu, args: Mapping[str, str]) -> Item:
    if not menu.addable:
        raise InvalidValueError(menu.name, "items are made by the server, not added")
    parsed = _parse(menu, args, adding=True)
    owner_login = args.get(menu.owner, "")
    row: Any = menu.model()
    if menu is CUSTOMER:
        _init_customer(db, actor, row, owner_login)
    else:
        owner = resolve_customer(db, actor, owner_login or None)
        setattr(row, menu.by_name[menu.owner].column, owner.id)
        row.subscriber_id = owner.subscriber_id
    _apply(db, actor, menu, row, parsed)
    if menu is CUSTOMER and not row.public_id:
        row.public_id = secrets.token_hex(8)
    if menu is CUSTOMER and not row.password_hash:
        row.password_hash = hash_password("")
    _validate(db, menu, row)
    db.add(row)
    db.flush()
    if menu is CUSTOMER and row.subscriber_id is None:
        # The manual: a subscriber is a customer with owner permissions whose parent is itself.
        if row.permissions != "owner":
            raise InvalidValueError("parent", "required for a customer that is not an owner")
        row.subscriber_id = row.parent_id = row.id
        db.flush()
    return render(db, menu, row, show_sensitive=False)


def _init_customer(db: Session, actor: Actor, row: models.Customer, parent_login: str) -> None:
    if parent_login:
        parent = resolve_customer(db, actor, parent_login)
        row.parent_id = parent.id
        row.subscriber_id = parent.subscriber_id
    elif not actor.is_superuser:
        # A customer's new customers live in its own subscriber's domain.
        parent = resolve_customer(db, actor, None)
        row.parent_id = parent.id
        row.subscriber_id = parent.subscriber_id


def set_(
    db: Session, actor: Actor, menu: Menu, keys: Sequence[str], args: Mapping[str, str]
) -> None:
    if not keys:
        raise InvalidValueError(menu.key, "say which item to set (its name or *ID)")
    parsed = _parse(menu, args, adding=False)
    for key in keys:
        row = find(db, actor, menu, key)
        _apply(db, actor, menu, row, parsed)
        _validate(db, menu, row)
    db.flush()


def remove(db: Session, actor: Actor, menu: Menu, keys: Sequence[str]) -> None:
    if not keys:
        raise InvalidValueError(menu.key, "say which item to remove (its name or *ID)")
    for key in keys:
        db.delete(find(db, actor, menu, key))
        try:
            db.flush()
        except IntegrityError:
            raise ConflictError(menu.key, f'"{key}" is still in use') from None


def render(db: Session, menu: Menu, row: Any, *, show_sensitive: bool) -> Item:
    logins: dict[int, str] = {}
    fields: list[tuple[str, str]] = []
    json: dict[str, JsonValue] = {".id": item_id(row)}
    for prop in menu.props:
        if prop.hashed or (prop.sensitive and not show_sensitive):
            continue
        value = getattr(row, prop.column)
        if prop.ref:
            if value is not None and value not in logins:
                owner = db.get(models.Customer, value)
                logins[value] = owner.login if owner else ""
            text = logins.get(value, "") if value is not None else ""
            fields.append((prop.name, text))
            json[prop.name] = text
        else:
            fields.append((prop.name, prop.kind.show(value)))
            json[prop.name] = prop.kind.json(value)
    flags = "".join(letter for letter, _, column in menu.flags if getattr(row, column))
    return Item(item_id(row), flags, tuple(fields), json)


def items(db: Session, actor: Actor, menu: Menu, *, show_sensitive: bool = False) -> list[Item]:
    rows = db.scalars(_scoped(actor, menu)).all()
    return [render(db, menu, row, show_sensitive=show_sensitive) for row in rows]
