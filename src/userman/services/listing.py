"""A page of a menu's items for the web pages: search, exact filters, sort and paging, done by
the database within what the actor may see (verbs.scope), so a page costs the same with ten
users or a hundred thousand.

Search uses the legacy customer page's patterns: case-insensitive, anywhere in the text, `%`
any run of characters, `_` one character, `\\` before either to mean it literally (which is
SQL LIKE's own grammar). Secrets are never searched or sorted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, false, func, or_, select
from sqlalchemy.orm import Session

from userman.core.errors import InvalidValueError, UnknownPropertyError
from userman.services import verbs
from userman.services.actor import Actor
from userman.services.menus import MENUS, Menu, Prop
from userman.services.verbs import Item

__all__ = ["Listing", "Query", "like_pattern", "listing", "searchable", "sortable"]

MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Query:
    search: str = ""  # the manual's pattern
    field: str = ""  # the property searched; "" for every searchable one
    order: tuple[tuple[str, bool], ...] = ()  # (property, descending), first key first
    equal: tuple[tuple[str, str], ...] = ()  # PROP=VALUE, as the command line takes it
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Listing:
    items: tuple[Item, ...]
    total: int  # the items that meet the search and filters, on every page


def _column(menu: Menu, prop: Prop) -> Any:
    return getattr(menu.model, prop.column)


def _stored(prop: Prop) -> bool:
    return bool(prop.column) and prop.compute is None and not prop.hidden and not prop.hashed


def searchable(menu: Menu) -> tuple[Prop, ...]:
    """The properties a search looks in: stored text that is no secret and names no item."""
    return tuple(
        p
        for p in menu.props
        if _stored(p)
        and not p.sensitive
        and p.ref is None
        and isinstance(_column(menu, p).type, String)
    )


def sortable(menu: Menu) -> tuple[Prop, ...]:
    return tuple(p for p in menu.props if _stored(p) and not p.sensitive)


def like_pattern(pattern: str) -> str:
    """The manual's pattern as a LIKE pattern that matches anywhere (escape `\\`)."""
    if pattern.endswith("\\") and not pattern.endswith("\\\\"):
        pattern += "\\"  # a lone escape at the end means a backslash
    return f"%{pattern}%"


def _prop(menu: Menu, name: str, allowed: tuple[Prop, ...]) -> Prop:
    prop = menu.by_name.get(name)
    if prop is None or prop not in allowed:
        raise UnknownPropertyError(name, menu.name)
    return prop


def listing(db: Session, actor: Actor, menu: Menu, query: Query) -> Listing:
    stmt = verbs.scope(actor, menu).order_by(None)
    if query.search:
        fields = searchable(menu)
        if query.field:
            fields = (_prop(menu, query.field, fields),)
        pattern = like_pattern(query.search)
        stmt = stmt.where(or_(false(), *(_column(menu, p).ilike(pattern, "\\") for p in fields)))
    for name, text in query.equal:
        prop = _prop(menu, name, sortable(menu))
        if prop.ref is not None:
            target = verbs.find(db, actor, MENUS[prop.ref], text)
            stmt = stmt.where(_column(menu, prop) == target.id)
        else:
            stmt = stmt.where(_column(menu, prop) == prop.kind.parse(text, prop.name))
    total = int(db.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    order = []
    for name, descending in query.order:
        column = _column(menu, _prop(menu, name, sortable(menu)))
        order.append(column.desc() if descending else column.asc())
    row_id = menu.model.id  # type: ignore[attr-defined]
    order.append(row_id.desc() if query.order and query.order[0][1] else row_id.asc())
    if not 1 <= query.limit <= MAX_LIMIT:
        raise InvalidValueError("limit", f"a page has 1 to {MAX_LIMIT} items")
    rows = db.scalars(stmt.order_by(*order).offset(max(0, query.offset)).limit(query.limit))
    items = tuple(verbs.render(db, menu, row, show_sensitive=False) for row in rows)
    return Listing(items, total)
