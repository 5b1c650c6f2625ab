"""Who may see and change what: the manual's permission levels and access flags.

- Levels (weakest first): read-only may only look; read-write may also manage users, their
  profiles, sessions and payments; full may also manage routers, logs, profiles, limitations,
  attributes and groups; owner may do everything in its subscriber's domain, including
  customers, history and the database.
- Access flags: a customer that is not an owner reaches the items of a family (routers, users,
  profiles, limits) that it owns itself when it has `own-<family>`, and its parent's when it has
  `parent-<family>`; never another customer's. Sessions and payments follow users; logs follow
  routers.
- Customers: an owner manages every customer of its subscriber, except the subscriber's own
  account, which only the subscriber changes; others see only themselves and the customers
  below them, and change only their own password and contact details (`SELF_SERVICE`). A
  customer's permissions are never above its parent's, nor below its sub-customers'. A disabled
  customer, or one below a disabled customer, cannot act. No customer disables or removes
  itself; with the rules before, that keeps every subscriber's last enabled owner (the
  subscriber, which every customer of its domain acts under) from being disabled, demoted or
  removed by anyone but the local superuser. A change to a customer it may not see but knows
  (its parent) is refused by the permission it lacks, not as "no such item".
- Tenancy: nobody but the local superuser reaches an item of another subscriber; such an item is
  "not found", never "not permitted", so its existence does not show.
- Secrets print (`show-sensitive`, or `where` on a secret) only to who may change them.
The local superuser passes every check. Every refusal names what is missing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, false, inspect, select
from sqlalchemy.orm import Session

from userman.core.errors import InvalidValueError, NotFoundError, PermissionDeniedError
from userman.services.actor import LEVELS, Actor
from userman.services.menus import CUSTOMER, Menu, Visibility, menu_for
from userman.store import models

__all__ = [
    "check_change",
    "check_customer",
    "check_kept",
    "check_level",
    "check_sensitive",
    "check_unseen",
    "make_actor",
    "may_change",
    "visible",
    "write_level",
]

FAMILIES = ("routers", "users", "profiles", "limits")

# The level changes of what is not a menu need (a menu's is its `write_level`).
AREA_LEVEL = {
    "database": "owner",  # save, load (services/backup.py)
    "settings": "full",  # services/subscriber_settings.py
    "certificate": "owner",  # services/certificates.py: its changes are the superuser's
}


def write_level(target: Menu | str) -> str:
    """The level changes of a menu (or one named by any of its names), the database or the
    settings need. A name that is none of these is an error, never a default level."""
    if isinstance(target, str):
        menu = menu_for(target)
        if menu is None:
            if target not in AREA_LEVEL:
                raise KeyError(f"no menu or area named {target!r}")
            return AREA_LEVEL[target]
        target = menu
    return target.write_level


def _customer_column(menu: Menu) -> Any:
    """The column naming the customer whose item this is, for menus whose owner property is a
    customer (a customer's own `parent` is not: customers are seen by their tree)."""
    owner = menu.by_name.get(menu.owner)
    if menu is CUSTOMER or owner is None or owner.ref != CUSTOMER.name:
        return None
    return getattr(menu.model, owner.column)


def visible(actor: Actor, menu: Menu, stmt: Select[Any]) -> Select[Any]:
    """Narrow `stmt` (already within the actor's subscriber) to what the actor may see, as the
    menu's `visibility` says."""
    if actor.sees_everything:
        return stmt
    if menu.visibility is Visibility.TREE:
        return stmt.where(menu.model.id.in_(actor.tree))  # type: ignore[attr-defined]
    if menu.visibility is Visibility.ACTOR:
        return stmt.where(models.HistoryEntry.actor == actor.login)
    reach = actor.reach.get(menu.area, frozenset())
    column = _customer_column(menu)
    if column is not None:
        return stmt.where(column.in_(reach))
    # No customer of its own: reached through the item its owner property names (a
    # profile-limitation through its profile, a user-profile entry through its user).
    owner = menu.by_name.get(menu.owner)
    above = menu_for(owner.ref) if owner is not None and owner.ref else None
    above_column = _customer_column(above) if above is not None else None
    if owner is None or above is None or above_column is None:
        return stmt.where(false())  # a menu without a rule shows nothing rather than too much
    owned = select(above.model.id).where(above_column.in_(reach))  # type: ignore[attr-defined]
    return stmt.where(getattr(menu.model, owner.column).in_(owned))


def may_change(actor: Actor, target: Menu | str) -> bool:
    """Whether the actor's level lets it change items of the menu at all (the web pages show
    the buttons that change things only then; each change is still checked)."""
    return actor.is_superuser or actor.level >= LEVELS[write_level(target)]


def check_level(actor: Actor, target: Menu | str, verb: str) -> None:
    """Refuse a changing verb to an actor whose level is below what the menu needs."""
    needed = write_level(target)
    if not actor.is_superuser and actor.level < LEVELS[needed]:
        name = target if isinstance(target, str) else target.name
        raise PermissionDeniedError(
            f"{needed} permissions", f"{actor.login} has {actor.permissions} for {name} {verb}"
        )


def check_change(  # noqa: PLR0917 - the change is these six things
    db: Session,
    actor: Actor,
    menu: Menu,
    row: Any,
    verb: str,
    props: frozenset[str] = frozenset(),
) -> None:
    """May the actor make this change (to `props`, for set) to this item (new or existing)?"""
    if actor.is_superuser:
        return
    if row.subscriber_id != actor.subscriber_id:
        # find() never hands out another subscriber's item; this is the second lock.
        raise NotFoundError(menu.name, f"*{row.id:X}" if row.id is not None else "(new)")
    if menu is CUSTOMER:
        _check_customer_change(actor, row, verb, props)
        return
    check_level(actor, menu, verb)
    if actor.sees_everything:
        return
    column = _customer_column(menu)
    owner_id = getattr(row, column.key) if column is not None else None
    if owner_id is None:
        return  # reached through its profile or user, which find() already checked
    if owner_id not in actor.reach.get(menu.area, frozenset()):
        raise PermissionDeniedError(
            _access_for(db, actor, menu, owner_id), f"for {menu.name} {verb}"
        )


# What a customer may change of itself, whatever its level: never its permissions, access,
# parent, login or public-id.
SELF_SERVICE = frozenset(
    {"password", "email", "company", "city", "country", "time-zone", "date-format", "comment"}
)


def _check_customer_change(actor: Actor, row: Any, verb: str, props: frozenset[str]) -> None:
    if row.id is not None and row.id == actor.customer_id and verb != "remove":
        if props <= SELF_SERVICE:
            return
        if actor.permissions != "owner":
            (denied, *_) = sorted(props - SELF_SERVICE)
            raise PermissionDeniedError("owner permissions", f"to change its own {denied}")
    check_level(actor, CUSTOMER, verb)
    if row.id is not None and row.id == row.subscriber_id and row.id != actor.customer_id:
        # The subscriber's own account is the key to the whole domain: only it (and the local
        # superuser) may change or remove it, not the owners below it.
        raise PermissionDeniedError("the subscriber itself", f"to {verb} {row.login}")


def check_kept(actor: Actor, row: models.Customer, verb: str) -> None:
    """No customer disables (`disabled=yes`, after the change) or removes (`verb` remove)
    itself: it would lock itself out, and the subscriber its whole domain."""
    if actor.is_superuser or row.id is None or row.id != actor.customer_id:
        return
    removing = verb == "remove"
    if not (removing or row.disabled):
        return
    doing = "remove" if removing else "disable"
    if row.id == row.subscriber_id:
        raise PermissionDeniedError(
            "the local superuser",
            f"{row.login} is the subscriber, whose account every customer of its domain acts "
            f"under: it cannot {doing} itself",
        )
    raise PermissionDeniedError("another owner", f"{row.login} cannot {doing} itself")


def check_unseen(db: Session, actor: Actor, menu: Menu, key: str, verb: str) -> None:
    """A change to a customer the actor does not see (`find` said "no such item") but knows,
    its parent (its own `parent=`), is refused by the permission it lacks."""
    if menu is not CUSTOMER or actor.sees_everything or actor.customer_id is None:
        return
    own = db.get(models.Customer, actor.customer_id)
    if own is None or own.parent_id is None or own.parent_id == own.id:
        return
    parent = db.get(models.Customer, own.parent_id)
    if parent is not None and _names(key, parent):
        check_level(actor, CUSTOMER, verb)


def _names(key: str, customer: models.Customer) -> bool:
    """Whether `key` names the customer, by its login or its `*ID` (hexadecimal)."""
    if not key.startswith("*"):
        return key == customer.login
    try:
        return int(key[1:], 16) == customer.id
    except ValueError:
        return False


def check_sensitive(actor: Actor, menu: Menu) -> None:
    """Secrets (shared secrets, user passwords, wireless keys) show only to who may change
    them: `show-sensitive`, `export show-sensitive` and `where` on a secret need the level of
    the menu's changes."""
    check_level(actor, menu, "show-sensitive")


def _access_for(db: Session, actor: Actor, menu: Menu, owner_id: int) -> str:
    """What would let the actor reach an item of `owner_id`, for the refusal's message."""
    if owner_id == actor.customer_id:
        return f"own-{menu.area} access"
    own = db.get(models.Customer, actor.customer_id)
    if own is not None and owner_id == own.parent_id:
        return f"parent-{menu.area} access"
    return "owner permissions"  # another customer's items: only an owner reaches them


def check_customer(db: Session, row: models.Customer) -> None:
    """A customer's permissions are never above its parent's (the manual), so never below any
    of its sub-customers' either: lowering a customer's level refuses while one is above it."""
    if row.parent_id is None or row.parent_id == row.id:
        if row.id is not None and row.permissions != "owner":
            raise InvalidValueError("permissions", "a subscriber must have owner permissions")
    else:
        parent = db.get(models.Customer, row.parent_id)
        if parent is not None and LEVELS[row.permissions] > LEVELS[parent.permissions]:
            raise InvalidValueError(
                "permissions", f"{row.permissions} is above its parent's ({parent.permissions})"
            )
    if not inspect(row).has_identity:
        return  # a new customer, not yet stored, has no sub-customers yet
    children = db.execute(
        select(models.Customer.login, models.Customer.permissions).where(
            models.Customer.parent_id == row.id, models.Customer.id != row.id
        )
    ).all()
    for login, permissions in children:
        if LEVELS[permissions] > LEVELS[row.permissions]:
            raise InvalidValueError(
                "permissions",
                f"{row.permissions} is below its sub-customer {login}'s ({permissions})",
            )


def make_actor(db: Session, customer: models.Customer) -> Actor:
    """The actor a customer acts as, with its reach computed once; refused when the customer or
    one above it is disabled (a sub-customer acts on its parent's behalf)."""
    node: models.Customer | None = customer
    while node is not None:
        if node.disabled:
            which = customer.login if node is customer else f"{node.login}, above {customer.login},"
            raise PermissionDeniedError("an enabled customer", f"{which} is disabled")
        above = node.parent_id
        node = None if above is None or above == node.id else db.get(models.Customer, above)
    access = frozenset(filter(None, customer.access.split(",")))
    parent = customer.parent_id if customer.parent_id != customer.id else None
    reach: dict[str, frozenset[int]] = {}
    for family in FAMILIES:
        ids = set()
        if f"own-{family}" in access:
            ids.add(customer.id)
        if f"parent-{family}" in access and parent is not None:
            ids.add(parent)
        reach[family] = frozenset(ids)
    tree = {customer.id}
    frontier = [customer.id]
    while frontier:
        children = db.scalars(
            select(models.Customer.id).where(
                models.Customer.parent_id.in_(frontier), models.Customer.id.not_in(tree)
            )
        ).all()
        tree.update(children)
        frontier = list(children)
    assert customer.subscriber_id is not None
    return Actor(
        customer.login,
        customer.subscriber_id,
        customer.id,
        customer.permissions,
        access,
        reach,
        frozenset(tree),
    )
