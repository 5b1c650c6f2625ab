"""The generic verbs, defined once for every menu: add (with copy-from), set, remove, enable,
disable, print (with where), find, export.

Each takes the unit of work `db` (the caller owns the transaction), the `actor`, and a `Menu`
from `services.menus`. Items are addressed by their key property (login, name, username), by
RouterOS `*ID` (hexadecimal row id), or by their number in `print`. Nothing is written unless
every value parses; the caller's transaction makes a failed verb change nothing at all.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from userman.core.attributes import reply_avp
from userman.core.authorize import CustomAttribute
from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    UnknownPropertyError,
)
from userman.core.patterns import Pattern, compile_pattern
from userman.radius.dictionary import default_dictionary
from userman.radius.errors import EncodeError
from userman.services import passwords, permissions
from userman.services.actor import Actor
from userman.services.fields import BOOL, JsonValue
from userman.services.menus import CUSTOMER, MENUS, USER, Menu, Prop
from userman.store import models
from userman.store.conflicts import unique_columns

__all__ = [
    "Condition",
    "ExportItem",
    "Item",
    "add",
    "check_attribute_names",
    "default_values",
    "export",
    "find",
    "hash_password",
    "parse_values",
    "remove",
    "render",
    "resolve",
    "resolve_customer",
    "resolve_optional",
    "select_rows",
    "set_",
]


def hash_password(password: str) -> str:
    return passwords.hash_password(password)


@dataclass(frozen=True, slots=True)
class Item:
    """One item as `print` shows it: `*ID`, flag letters, and (property, text) pairs."""

    id: str
    flags: str
    fields: tuple[tuple[str, str], ...]
    json: dict[str, JsonValue]


@dataclass(frozen=True, slots=True)
class ExportItem:
    """One line of `export`: `<menu> <verb> [item] name=value ...`."""

    menu: str
    verb: str
    positional: tuple[str, ...]
    args: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Condition:
    """`where PROP=VALUE` (equal, as print shows it) or `where PROP~REGEX` (search)."""

    prop: str
    op: str  # "=" or "~"
    value: str


def item_id(row: Any) -> str:
    return f"*{row.id:X}"


def scope(actor: Actor, menu: Menu) -> Select[Any]:
    """The items of `menu` the actor may see, in print order."""
    stmt = select(menu.model)
    if actor.subscriber_id is not None:
        stmt = stmt.where(menu.model.subscriber_id == actor.subscriber_id)  # type: ignore[attr-defined]
    stmt = permissions.visible(actor, menu, stmt)
    return stmt.order_by(menu.model.id)  # type: ignore[attr-defined]


def _key_column(menu: Menu) -> Any:
    assert menu.key is not None
    return getattr(menu.model, menu.by_name[menu.key].column)


def find(db: Session, actor: Actor, menu: Menu, key: str, subscriber_id: int | None = None) -> Any:
    """The one item of `menu` that `key` (its name, `*ID` or print number) addresses."""
    stmt = scope(actor, menu)
    if subscriber_id is not None:
        stmt = stmt.where(menu.model.subscriber_id == subscriber_id)  # type: ignore[attr-defined]
    if "\x00" in key:  # no item's name has one (and PostgreSQL refuses it in a query)
        raise NotFoundError(menu.name, key[:40])
    if key.startswith("*"):
        rows = db.scalars(stmt.where(menu.model.id == _row_id(menu, key))).all()  # type: ignore[attr-defined]
    else:
        rows = []
        if menu.key is not None:
            rows = list(db.scalars(stmt.where(_key_column(menu) == key).limit(2)))
        if not rows and key.isascii() and key.isdigit():
            # RouterOS numbers items in print order.
            rows = list(db.scalars(stmt.offset(_print_number(key)).limit(1)))
    if not rows:
        raise NotFoundError(menu.name, key)
    if len(rows) > 1:
        raise ConflictError(menu.key or "numbers", f'"{key}" names several items; use *ID')
    return rows[0]


MAX_ROW_ID = 2**31 - 1  # ids are INTEGER: a larger *ID names no row there can be
MAX_NUMBER = 2**63 - 1  # an OFFSET is BIGINT at most


def _row_id(menu: Menu, key: str) -> int:
    """The row id of `*HEX`; an *ID too large for any row is a bad value (400), not a miss."""
    digits = key[1:]
    if not digits or len(digits) > 64 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise NotFoundError(menu.name, key[:40])
    row_id = int(digits, 16)
    if row_id > MAX_ROW_ID:
        reason = f'"{key[:40]}" is not an item\'s *ID (at most *{MAX_ROW_ID:X})'
        raise InvalidValueError("numbers", reason)
    return row_id


def _print_number(key: str) -> int:
    if len(key) > 19 or int(key) > MAX_NUMBER:
        raise InvalidValueError("numbers", f'"{key[:40]}" is not a print number')
    return int(key)


def split_keys(keys: Sequence[str]) -> list[str]:
    """RouterOS lists numbers with commas: `remove 0,2`."""
    out: list[str] = []
    for key in keys:
        parts = key.split(",")
        listed = all((p.isascii() and p.isdigit()) or p.startswith("*") for p in parts)
        out.extend(parts if listed else [key])
    return out


def resolve_customer(db: Session, actor: Actor, login: str | None) -> models.Customer:
    """The customer a `customer=`/`owner=`/`parent=` value names; by default the actor's own.

    The local superuser with no customer given gets the only subscriber, when there is one.
    """
    if login:
        customer: models.Customer = find(db, actor, CUSTOMER, login)
        return customer
    if actor.customer_id is not None:
        own = db.get(models.Customer, actor.customer_id)
        assert own is not None
        return own
    stmt = select(models.Customer).where(models.Customer.id == models.Customer.subscriber_id)
    subscribers = db.scalars(stmt.limit(2)).all()
    if len(subscribers) == 1:
        return subscribers[0]
    raise InvalidValueError("customer", "required: say which customer (customer=LOGIN)")


def resolve(db: Session, actor: Actor, prop: Prop, text: str, subscriber_id: int | None) -> Any:
    """The item a reference names, within the subscriber of the item that refers to it."""
    assert prop.ref is not None
    if not text:
        raise InvalidValueError(prop.name, "required")
    try:
        if prop.ref == "customer" and subscriber_id is None:
            return resolve_customer(db, actor, text)
        return find(db, actor, MENUS[prop.ref], text, subscriber_id=subscriber_id)
    except NotFoundError:
        raise InvalidValueError(prop.name, f'no {prop.ref} "{text}"') from None
    except InvalidValueError as error:
        if error.prop != "numbers":
            raise
        raise InvalidValueError(prop.name, error.reason) from None


RANDOM_PASSWORD_LENGTH = 8
RANDOM_PASSWORD_CHARACTERS = "abcdefghijkmnpqrstuvwxyz23456789"  # none that look alike


def parse_values(menu: Menu, args: Mapping[str, str]) -> dict[Prop, object]:
    """Every value parsed before anything is written, so a bad value changes nothing."""
    args = dict(args)
    # The manual's user property random-password: "Randomly generates password for a user."
    wanted = menu is USER and "random-password" in args
    if wanted and BOOL.parse(args.pop("random-password"), "random-password"):
        if "password" in args:
            raise InvalidValueError("random-password", "conflicts with password=")
        args["password"] = "".join(
            secrets.choice(RANDOM_PASSWORD_CHARACTERS) for _ in range(RANDOM_PASSWORD_LENGTH)
        )
    parsed: dict[Prop, object] = {}
    for name, text in args.items():
        prop = menu.by_name.get(name)
        if prop is None:
            raise UnknownPropertyError(name, menu.name)
        if not prop.writable:
            raise InvalidValueError(name, "is read-only")
        if prop.ref is not None:
            parsed[prop] = text
        elif prop.hashed:
            parsed[prop] = hash_password(str(prop.kind.parse(text, name)))
        else:
            parsed[prop] = prop.kind.parse(text, name)
    return parsed


def default_values(menu: Menu, parsed: dict[Prop, object]) -> dict[Prop, object]:
    columns = {p.column for p in parsed}
    return {
        prop: prop.kind.parse(prop.default, prop.name)
        for prop in menu.props
        if prop.default is not None and prop.writable and prop.column not in columns
    }


def _apply(db: Session, actor: Actor, menu: Menu, row: Any, parsed: dict[Prop, object]) -> None:
    for prop, value in parsed.items():
        for column in prop.clears:
            setattr(row, column, None)
        if prop.ref is None:
            setattr(row, prop.column, value)
        elif prop.name == menu.owner and row.id is None:
            continue  # add() placed the new item already
        elif prop.name == menu.owner or prop.ref == "customer":
            target = resolve(db, actor, prop, str(value), row.subscriber_id)
            if menu is CUSTOMER:
                _check_no_loop(db, row, target)
            setattr(row, prop.column, target.id)
        else:
            target = resolve_optional(db, actor, prop, str(value), row.subscriber_id)
            setattr(row, prop.column, None if target is None else target.id)


def resolve_optional(
    db: Session, actor: Actor, prop: Prop, text: str, subscriber_id: int | None
) -> Any:
    """An optional reference: empty names nothing, and so does the name of the built-in item
    that nothing stands for (`group=default`), unless an item has that name."""
    if not text:
        return None
    try:
        return resolve(db, actor, prop, text, subscriber_id)
    except InvalidValueError:
        if text == prop.builtin:
            return None
        raise


def _check_no_loop(db: Session, row: models.Customer, parent: models.Customer) -> None:
    node: models.Customer | None = parent
    while node is not None and row.id is not None:
        if node.id == row.id:
            raise InvalidValueError("parent", "a customer cannot be under itself")
        node = None if node.parent_id == node.id else db.get(models.Customer, node.parent_id)


def _check_key(db: Session, menu: Menu, row: Any) -> None:
    if menu.key is None:
        return
    value = getattr(row, menu.by_name[menu.key].column)
    if not value:
        raise InvalidValueError(menu.key, "required")
    stmt = select(menu.model.id).where(  # type: ignore[attr-defined]
        _key_column(menu) == value,
        menu.model.subscriber_id == row.subscriber_id,  # type: ignore[attr-defined]
    )
    if row.id is not None:
        stmt = stmt.where(menu.model.id != row.id)  # type: ignore[attr-defined]
    if db.scalar(stmt.limit(1)) is not None:
        raise _exists(menu, value)


def _exists(menu: Menu, value: object) -> ConflictError:
    return ConflictError(menu.key or "numbers", f'an item named "{value}" already exists')


def _taken(prop: Prop, value: object) -> ConflictError:
    return ConflictError(prop.name, f'"{value}" is taken: no two items may share it')


def _check_row(db: Session, menu: Menu, row: Any, parsed: Mapping[Prop, object]) -> None:
    """The rules a whole item must meet, checked before it is written (no autoflush); those of
    one property only when the change gives it (or makes the item), so an item keeps a value
    from before a rule while another of its properties changes."""
    with db.no_autoflush:
        _check_row_unflushed(db, menu, row, {p.column for p in parsed} if row.id else None)


def _check_row_unflushed(db: Session, menu: Menu, row: Any, given: set[str] | None) -> None:
    _check_key(db, menu, row)
    for prop in menu.props:
        missing = prop.ref is not None and getattr(row, prop.column, 0) is None
        needed = prop.required or prop.name == menu.owner
        # A customer without a parent is a new subscriber; add() makes it its own parent.
        if missing and prop.writable and needed and menu is not CUSTOMER:
            raise InvalidValueError(prop.name, "required")
    if isinstance(row, models.Router) and not row.ip_address:
        raise InvalidValueError("ip-address", "required: requests are matched by it")
    _check_taken(db, menu, row)
    if isinstance(row, models.Customer):
        permissions.check_customer(db, row)
        _check_subscriber_choice(db, row)
    if getattr(row, "attributes", "") and (given is None or "attributes" in given):
        check_attribute_names(db, row)


@functools.cache
def _unique_alone(table: Table) -> frozenset[str]:
    """The columns of `table` whose value no two rows share: unique themselves, or alone in a
    unique index (a customer's login, migration 0019: log-in finds a customer by it alone)."""
    alone = {column.name for column in table.c if column.unique}
    for index in table.indexes:
        if index.unique and len(index.columns) == 1:
            alone.update(column.name for column in index.columns)
    return frozenset(alone)


def _check_taken(db: Session, menu: Menu, row: Any) -> None:
    """A value no two items of any subscriber share (the column is unique in its table: a
    router's address, by which requests are matched; a customer's public-id, in its sign-up
    links; a customer's login, by which log-in finds it) is refused as taken, without saying
    whose, before the database's constraint would refuse it with an error of its own."""
    table = menu.model.__table__
    unique = _unique_alone(table)
    for prop in menu.props:
        column = table.c.get(prop.column) if prop.column else None
        value = getattr(row, prop.column) if column is not None else None
        if column is None or column.name not in unique or value in (None, ""):
            continue
        stmt = select(table.c.id).where(column == value)
        if row.id is not None:
            stmt = stmt.where(table.c.id != row.id)
        if db.scalar(stmt.limit(1)) is not None:
            raise _taken(prop, value)


def _flush(db: Session, menu: Menu, row: Any) -> None:
    """Write what the checks let through. Two transactions that give the same value at once
    (two customers given one login) both pass `_check_key` and `_check_taken`, and the
    database's unique index stops the later one: it is answered as those checks would have,
    never with the database's own error."""
    table = menu.model.__table__
    key = menu.by_name[menu.key].column if menu.key else None
    # As written: a failed flush rolls the transaction back and expires the row.
    values = {c: getattr(row, c) for c in {*_unique_alone(table), key} if c and hasattr(row, c)}
    try:
        db.flush()
    except IntegrityError as error:
        found = unique_columns(error)
        if found is None or found[0] != menu.model.__tablename__:
            raise
        columns = found[1]
        props = {prop.column: prop for prop in menu.props if prop.column}
        if len(columns) == 1 and (column := next(iter(columns))) in values and column in props:
            raise _taken(props[column], values[column]) from None
        if key is not None and columns == {"subscriber_id", key}:
            raise _exists(menu, values[key]) from None
        raise


def _check_subscriber_choice(db: Session, row: models.Customer) -> None:
    """on-shared-users-limit is the subscriber's, for its whole domain: another customer takes
    none of its own (its subscriber's, as copy-from brings it, changes nothing)."""
    if row.subscriber_id is None or row.subscriber_id == row.id or not row.on_shared_users_limit:
        return
    subscriber = db.get(models.Customer, row.subscriber_id)
    if subscriber is None:
        return
    if row.on_shared_users_limit != (subscriber.on_shared_users_limit or "reject"):
        reason = f"the subscriber's choice for its whole domain: set it on {subscriber.login}"
        raise InvalidValueError("on-shared-users-limit", reason)
    row.on_shared_users_limit = ""


def check_attribute_names(db: Session, row: Any) -> None:
    """Every name in `attributes=` is a dictionary's or one of the attribute menu's, and its
    value fits the attribute's type (an address for an address, a number in range, at most 253
    octets): what the reply would fail to carry is refused now, naming the pair."""
    defined = {
        attribute.name: CustomAttribute(
            attribute.name, attribute.vendor_id, attribute.type_id, attribute.value_type
        )
        for attribute in db.scalars(
            select(models.Attribute).where(models.Attribute.subscriber_id == row.subscriber_id)
        )
    }
    dictionary = default_dictionary()
    for pair in row.attributes.split(","):
        name, _, value = pair.partition(":")
        if name not in defined and dictionary.find(name) is None:
            reason = f'"{name}" is neither a RADIUS attribute nor one of the attribute menu'
            raise InvalidValueError("attributes", reason)
        try:
            reply_avp(dictionary, defined.get(name, name), value)
        except EncodeError as error:
            raise InvalidValueError("attributes", f'"{pair[:80]}": {error}') from None


def _place(db: Session, actor: Actor, menu: Menu, row: Any, args: Mapping[str, str]) -> None:
    """Put a new item in its subscriber: the one of the item its owner property names."""
    owner = menu.by_name[menu.owner]
    text = args.get(owner.name) or next((args[a] for a in owner.aliases if a in args), "")
    if menu is CUSTOMER:
        if text or not actor.is_superuser:
            parent = resolve_customer(db, actor, text or None)
            row.parent_id = parent.id
            row.subscriber_id = parent.subscriber_id
        return  # a superuser's customer without a parent is a new subscriber
    if owner.ref == "customer":
        target: Any = resolve_customer(db, actor, text or None)
    else:
        target = resolve(db, actor, owner, text, None)
    setattr(row, owner.column, target.id)
    row.subscriber_id = target.subscriber_id


def add(db: Session, actor: Actor, menu: Menu, args: Mapping[str, str]) -> Any:
    """Add an item; `copy-from=ITEM` starts from that item's values (RouterOS `copy-from`)."""
    if not menu.addable:
        raise InvalidValueError(menu.name, "items are made by the server, not added")
    args = dict(args)
    source_key = args.pop("copy-from", None)
    parsed = parse_values(menu, args)
    row: Any = menu.model()
    _place(db, actor, menu, row, args)
    if source_key is not None:
        _copy(menu, find(db, actor, menu, source_key), row, parsed)
    else:
        parsed = {**default_values(menu, parsed), **parsed}
    permissions.check_change(db, actor, menu, row, "add")
    _apply(db, actor, menu, row, parsed)
    if isinstance(row, models.Customer):
        row.public_id = row.public_id or secrets.token_hex(8)
        row.password_hash = row.password_hash or hash_password("")
    _check_row(db, menu, row, parsed)
    db.add(row)
    _flush(db, menu, row)
    if isinstance(row, models.Customer) and row.subscriber_id is None:
        # The manual: a subscriber is a customer with owner permissions whose parent is itself.
        if row.permissions != "owner":
            raise InvalidValueError("parent", "required for a customer that is not an owner")
        row.subscriber_id = row.parent_id = row.id
        db.flush()
    return row


def _copy(menu: Menu, source: Any, row: Any, parsed: dict[Prop, object]) -> None:
    if source.subscriber_id != row.subscriber_id:
        raise InvalidValueError("copy-from", "the item belongs to another subscriber")
    given = {p.column for p in parsed}
    for prop in menu.props:
        copied = prop.writable and not prop.hidden and not prop.unique and prop.column not in given
        if copied and prop.column and prop.name not in (menu.key, menu.owner):
            setattr(row, prop.column, getattr(source, prop.column))


def _find_to_change(db: Session, actor: Actor, menu: Menu, key: str, verb: str) -> Any:
    """The item a changing verb names; one the actor knows but may not see is refused by the
    permission it lacks rather than reported missing."""
    try:
        return find(db, actor, menu, key)
    except NotFoundError:
        permissions.check_unseen(db, actor, menu, key, verb)
        raise


def set_(  # noqa: PLR0917 - the verb names the change in refusals (enable, disable)
    db: Session,
    actor: Actor,
    menu: Menu,
    keys: Sequence[str],
    args: Mapping[str, str],
    verb: str = "set",
) -> list[Any]:
    if not keys:
        raise InvalidValueError("numbers", f"say which item to {verb} (its name, *ID or number)")
    parsed = parse_values(menu, args)
    rows = [_find_to_change(db, actor, menu, key, verb) for key in split_keys(keys)]
    changed = frozenset(prop.name for prop in parsed)
    for row in rows:
        permissions.check_change(db, actor, menu, row, verb, changed)
        _apply(db, actor, menu, row, parsed)
        _check_row(db, menu, row, parsed)
        if isinstance(row, models.Customer):
            permissions.check_kept(actor, row, verb)
        if menu.owner in args:
            permissions.check_change(db, actor, menu, row, verb, changed)  # where it went
    _flush(db, menu, rows[0])  # every row takes the same values
    return rows


def remove(
    db: Session,
    actor: Actor,
    menu: Menu,
    keys: Sequence[str],
    before: Callable[[Any], None] | None = None,
) -> int:
    """Remove the items; `before(row)` runs for each once it may go, before it goes."""
    if not keys:
        raise InvalidValueError("numbers", "say which item to remove (its name, *ID or number)")
    rows = [_find_to_change(db, actor, menu, key, "remove") for key in split_keys(keys)]
    for key, row in zip(split_keys(keys), rows, strict=True):
        permissions.check_change(db, actor, menu, row, "remove")
        if isinstance(row, models.Customer):
            permissions.check_kept(actor, row, "remove")
        if before is not None:
            before(row)
        db.delete(row)
        try:
            db.flush()
        except IntegrityError:
            raise ConflictError(menu.key or "numbers", f'"{key}" is still in use') from None
    return len(rows)


def _ref_text(db: Session, prop: Prop, value: object) -> str:
    if value is None or prop.ref is None:
        return ""
    target_menu = MENUS[prop.ref]
    target = db.get(target_menu.model, value)
    if target is None:
        return ""
    if target_menu.key is None:
        return item_id(target)
    return str(getattr(target, target_menu.by_name[target_menu.key].column))


def render(db: Session, menu: Menu, row: Any, *, show_sensitive: bool) -> Item:
    fields: list[tuple[str, str]] = []
    json: dict[str, JsonValue] = {".id": item_id(row)}
    for prop in menu.shown:
        if prop.sensitive and not show_sensitive:
            continue
        value = prop.compute(db, row) if prop.compute else getattr(row, prop.column)
        if prop.ref is not None:
            text = _ref_text(db, prop, value)
            fields.append((prop.name, text))
            json[prop.name] = text
        else:
            fields.append((prop.name, prop.kind.show(value)))
            json[prop.name] = prop.kind.json(value)
    # The flags print shows as letters (history's U, R, F) are, for JSON, booleans named for
    # what they mean; a flag that is a property already (disabled, active) is not repeated.
    marks = [(letter, meaning, test(row)) for letter, meaning, test in menu.flags]
    for _, meaning, on in marks:
        json.setdefault(meaning, on)
    flags = "".join(letter for letter, _, on in marks if on)
    return Item(item_id(row), flags, tuple(fields), json)


def _matches(item: Item, conditions: Sequence[tuple[Condition, Pattern | None]]) -> bool:
    shown = dict(item.fields)
    for condition, pattern in conditions:
        text = shown.get(condition.prop)
        if text is None:
            return False
        if condition.op == "=" and text != condition.value:
            return False
        if pattern is not None and not pattern.search(text):
            return False
    return True


def _check_conditions(
    menu: Menu, conditions: Sequence[Condition]
) -> list[tuple[Condition, Pattern | None]]:
    """The conditions by the properties' own names, each `~` with its compiled pattern."""
    checked: list[tuple[Condition, Pattern | None]] = []
    for condition in conditions:
        prop = menu.by_name.get(condition.prop)
        if prop is None or prop.hidden or prop.hashed:
            raise UnknownPropertyError(condition.prop, menu.name)
        value = condition.value
        pattern = None
        if condition.op == "~":
            pattern = compile_pattern(value, condition.prop)  # linear-time matching, RE2
        elif prop.ref is None and prop.compute is None and value != "" and prop.kind.limit is None:
            # Compare as print shows it: `where shared-users=01` matches 1. (Text, whose kind
            # has a limit, is compared as given: a name stored before a rule is still found.)
            value = prop.kind.show(prop.kind.parse(value, prop.name))
        checked.append((Condition(prop.name, condition.op, value), pattern))
    return checked


def select_rows(
    db: Session,
    actor: Actor,
    menu: Menu,
    conditions: Sequence[Condition] = (),
    *,
    show_sensitive: bool = False,
) -> list[tuple[int, Any, Item]]:
    """(print number, row, item) of every visible item that meets all the conditions."""
    checked = _check_conditions(menu, conditions)
    secret = {p.name for p in menu.shown if p.sensitive}
    if secret and (show_sensitive or any(c.prop in secret for c, _ in checked)):
        permissions.check_sensitive(actor, menu)
    found = []
    for number, row in enumerate(db.scalars(scope(actor, menu))):
        item = render(db, menu, row, show_sensitive=show_sensitive or bool(checked))
        if _matches(item, checked):
            if checked and not show_sensitive:
                item = render(db, menu, row, show_sensitive=False)
            found.append((number, row, item))
    return found


def export(db: Session, actor: Actor, menu: Menu, *, show_sensitive: bool) -> list[ExportItem]:
    """The lines that make these items again in an empty database (RouterOS `export`).

    Values equal to the default are left out. The default customer `admin` exists in every new
    database, so it is exported as `set admin ...`, as RouterOS exports its default items.
    """
    if show_sensitive and any(p.sensitive and not p.hashed for p in menu.props):
        permissions.check_sensitive(actor, menu)
    lines: list[ExportItem] = []
    for row in db.scalars(scope(actor, menu)):
        args: list[tuple[str, str]] = []
        for prop in menu.props:
            if not prop.column or not prop.writable or prop.hashed:
                continue
            if (prop.hidden and not prop.sensitive) or (prop.sensitive and not show_sensitive):
                continue
            value = getattr(row, prop.column)  # what is stored, not what print derives
            if prop.ref is not None:
                if isinstance(row, models.Customer) and row.parent_id == row.id:
                    continue
                text = _ref_text(db, prop, value)
                if not text:
                    continue
            else:
                text = prop.kind.show(value)
                if prop.default is None:
                    if text == "":
                        continue
                elif text == prop.kind.show(prop.kind.parse(prop.default, prop.name)):
                    continue
            args.append((prop.name, text))
        if isinstance(row, models.Customer) and row.login == "admin" and row.parent_id == row.id:
            args = [(name, text) for name, text in args if name != "login"]
            lines.append(ExportItem(menu.name, "set", ("admin",), tuple(args)))
        else:
            lines.append(ExportItem(menu.name, "add", (), tuple(args)))
    return lines
