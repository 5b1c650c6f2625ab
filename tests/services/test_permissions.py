"""The manual's permission levels and access flags, on SQLite and PostgreSQL.

Levels (read-only < read-write < full < owner) decide which menus a customer may change; the
own-X and parent-X access flags decide whose routers, users, profiles and limits a non-owner
reaches; a customer's permissions are never above its parent's; a disabled customer cannot act.
Every refusal is a `PermissionDeniedError` naming what is missing, and changes nothing.

The world is built once per back end; allowed changes run in a transaction that is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from support import NOW, dry_run, run, unchanged
from userman.cli.main import cli
from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    UsermanError,
)
from userman.services import MENUS, Actor, Request, Userman
from userman.services import commands as commands_module
from userman.services.permissions import make_actor
from userman.store import models

ROOT = Actor.superuser()
FAMILIES = ("routers", "users", "profiles", "limits")
EVERY_FLAG = ",".join(f"{w}-{f}" for w in ("own", "parent") for f in FAMILIES)
OWN_FLAGS = ",".join(f"own-{f}" for f in FAMILIES)
PARENT_FLAGS = ",".join(f"parent-{f}" for f in FAMILIES)
# The sub-customers of `admin`: (login, permissions, access).
CUSTOMERS = (
    ("ro", "read-only", EVERY_FLAG),
    ("rw", "read-write", EVERY_FLAG),
    ("fu", "full", EVERY_FLAG),
    ("ow", "owner", ""),
    ("own-only", "full", OWN_FLAGS),
    ("parent-only", "full", PARENT_FLAGS),
    ("no-flags", "full", ""),
)
LEVEL_ACTORS = ("ro", "rw", "fu", "ow")
LEVELS = ("read-only", "read-write", "full", "owner")
# The level each menu's changes need, as the manual's levels describe them (permissions.py).
NEEDS = {
    "customer": "owner",
    "history": "owner",
    "router": "full",
    "log": "full",
    "profile": "full",
    "profile limitation": "full",
    "profile profile-limitation": "full",
    "attribute": "full",
    "user group": "full",
    "user": "read-write",
    "user-profile": "read-write",
    "session": "read-write",
    "payment": "read-write",
}
# Arguments of an `add` the actor `{me}` may make in each menu, given the level.
ADD_ARGS: dict[str, dict[str, str]] = {
    "customer": {"login": "new", "permissions": "read-only"},
    "router": {"name": "new", "ip-address": "10.9.9.9", "customer": "{me}"},
    "profile": {"name": "new", "owner": "{me}"},
    "profile limitation": {"name": "new", "owner": "{me}"},
    "profile profile-limitation": {"profile": "{me}-profile", "limitation": "{me}-limit"},
    "user group": {"name": "new", "owner": "{me}"},
    "attribute": {"name": "new", "owner": "{me}"},
    "user": {"username": "new", "customer": "{me}"},
    "user-profile": {"user": "{me}-user", "profile": "{me}-profile"},
}
SET_ARGS = {name: {"comment": "changed"} for name in MENUS} | {
    "customer": {"currency": "EUR"},  # not a detail a customer may change of itself
    "user-profile": {},
    "session": {},
    "log": {},
    "history": {},
    "payment": {"result-msg": "changed"},
}


@dataclass
class World:
    app: Userman
    url: str
    actors: dict[str, Actor]
    ids: dict[str, int]  # customer login -> id


def owned_items(app: Userman, owner: Actor, login: str, number: int) -> None:
    """A router, profile, limitation, group, attribute and user of `login`, with a profile
    queued, a session, a log entry and a payment."""
    run(
        app,
        owner,
        "router add",
        name=f"{login}-router",
        customer=login,
        **{"ip-address": f"10.0.0.{number}"},
    )
    run(app, owner, "profile add", name=f"{login}-profile", owner=login)
    run(app, owner, "profile limitation add", name=f"{login}-limit", owner=login)
    run(
        app,
        owner,
        "profile profile-limitation add",
        profile=f"{login}-profile",
        limitation=f"{login}-limit",
    )
    run(app, owner, "user group add", name=f"{login}-group", owner=login)
    run(app, owner, "attribute add", name=f"{login}-attr", owner=login)
    run(app, owner, "user add", username=f"{login}-user", customer=login)
    run(app, owner, "user create-and-activate-profile", f"{login}-user", profile=f"{login}-profile")
    with app.database.begin() as db:
        user = db.scalars(select(models.User).where(models.User.username == f"{login}-user")).one()
        router = db.scalars(
            select(models.Router).where(models.Router.name == f"{login}-router")
        ).one()
        common = {"subscriber_id": user.subscriber_id, "customer_id": user.customer_id}
        db.add(
            models.UserSession(
                **common,
                user_id=user.id,
                username=user.username,
                acct_session_id=login,
                from_time=NOW,
                till_time=NOW,
            )
        )
        db.add(
            models.Payment(
                **common, user_id=user.id, username=user.username, price=Decimal(1), trans_start=NOW
            )
        )
        db.add(models.LogEntry(**common, router_id=router.id, status="accounting-ok", time=NOW))


@pytest.fixture(scope="module")
def world(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    app = Userman(module_db_url, backup_dir=tmp_path_factory.mktemp("backups"))
    app.prepare()
    admin = app.actor("admin")
    for login, level, access in CUSTOMERS:
        run(app, admin, "customer add", login=login, permissions=level, access=access)
    run(app, admin, "customer add", login="kid", parent="own-only", permissions="read-only")
    run(app, admin, "customer add", login="off", permissions="full", disabled="yes")
    run(app, admin, "customer add", login="below-off", parent="off", permissions="read-only")
    for number, login in enumerate(("admin", *(c[0] for c in CUSTOMERS), "kid"), start=1):
        owned_items(app, admin, login, number)
    actors = {login: app.actor(login) for login, _, _ in CUSTOMERS}
    actors["admin"] = admin
    # Each actor that may change something has a history entry of its own.
    for login in ("rw", "fu", "ow"):
        run(app, actors[login], "user set", f"{login}-user", comment="mine")
    with app.database.begin() as db:
        ids = {c.login: c.id for c in db.scalars(select(models.Customer))}
    yield World(app, module_db_url, actors, ids)
    app.close()


def test_every_menu_has_a_level() -> None:
    assert set(NEEDS) == set(MENUS)
    assert set(ADD_ARGS) == {name for name, menu in MENUS.items() if menu.addable}


# --- levels ----------------------------------------------------------------------------------


def allowed(login: str, menu: str) -> bool:
    level = {customer: permissions for customer, permissions, _ in CUSTOMERS}[login]
    return LEVELS.index(level) >= LEVELS.index(NEEDS[menu])


def target(world: World, actor: Actor, login: str, menu: str) -> str:
    """The *ID of an item of `menu` the actor sees, its own where it has one."""
    items = run(world.app, actor, f"{menu} print").items
    assert items or (menu == "history" and login == "ro"), (login, menu)
    if not items:
        # ro has changed nothing, so sees no history: address an entry it cannot see.
        items = run(world.app, world.actors["admin"], f"{menu} print").items
    if menu == "customer":  # not itself: no customer disables or removes itself (below)
        items = tuple(i for i in items if i.json["login"] != login) or items
    mine = [i for i in items if any(t == login or t.startswith(f"{login}-") for _, t in i.fields)]
    return (mine or list(items))[-1].id


@pytest.mark.parametrize("login", LEVEL_ACTORS)
@pytest.mark.parametrize("verb", ["set", "remove", "enable", "disable"])
@pytest.mark.parametrize("menu", sorted(MENUS))
def test_a_level_below_the_menus_is_refused_by_name_and_changes_nothing(
    world: World, menu: str, verb: str, login: str
) -> None:
    actor = world.actors[login]
    key = target(world, actor, login, menu)
    request = Request(tuple(menu.split()), verb, (key,), SET_ARGS[menu] if verb == "set" else {})
    if allowed(login, menu):
        try:
            dry_run(world.app, actor, request)
        except PermissionDeniedError:  # pragma: no cover - the failure
            pytest.fail(f"{login} may {menu} {verb}")
        except UsermanError:
            assert verb != "set"  # remove of an item in use; enable of a menu without it
        return
    with unchanged(world.app), pytest.raises((PermissionDeniedError, NotFoundError)) as raised:
        world.app.execute(actor, request.path, verb, request.positional, request.args)
    if isinstance(raised.value, NotFoundError):
        # Only a menu without enable/disable, or history entries the actor does not see.
        assert verb in ("enable", "disable") or menu == "history", raised.value
    else:
        assert raised.value.permission == f"{NEEDS[menu]} permissions"
        assert f"not permitted: needs {NEEDS[menu]} permissions" in str(raised.value)


@pytest.mark.parametrize("login", LEVEL_ACTORS)
@pytest.mark.parametrize("menu", sorted(ADD_ARGS))
def test_add_needs_the_menus_level(world: World, menu: str, login: str) -> None:
    actor = world.actors[login]
    args = {name: value.format(me=login) for name, value in ADD_ARGS[menu].items()}
    request = Request(tuple(menu.split()), "add", (), args)
    if allowed(login, menu):
        dry_run(world.app, actor, request)
        return
    with unchanged(world.app), pytest.raises(PermissionDeniedError) as raised:
        world.app.execute(actor, request.path, "add", (), args)
    assert raised.value.permission == f"{NEEDS[menu]} permissions"


@pytest.mark.parametrize("menu", sorted(MENUS))
def test_read_only_may_print_find_and_export(world: World, menu: str) -> None:
    actor = world.actors["ro"]
    for verb in ("print", "find", "export"):
        run(world.app, actor, f"{menu} {verb}")
    if menu != "history":  # it has changed nothing, so it has no history
        assert run(world.app, actor, f"{menu} print", "count-only").count


# The special verbs, each with arguments an actor with the level could use; `{me}` is its login.
SPECIALS: dict[tuple[str, str], tuple[str, tuple[str, ...], dict[str, str]]] = {
    ("user", "create-and-activate-profile"): (
        "read-write",
        ("{me}-user",),
        {"profile": "{me}-profile"},
    ),
    ("user", "add-batch-users"): ("read-write", (), {"number-of-users": "2", "customer": "{me}"}),
    ("user-profile", "add"): ("read-write", (), {"user": "{me}-user", "profile": "{me}-profile"}),
    ("session", "close-session"): ("read-write", ("0",), {}),
    ("history", "undo"): ("owner", (), {}),
    ("history", "redo"): ("owner", (), {}),
    ("database", "save"): ("owner", (), {"name": "backup"}),
    ("database", "load"): ("owner", (), {"name": "missing"}),
    ("database", "print"): ("read-only", (), {}),  # the installation's settings: no secret
    ("router", "monitor"): ("read-only", ("{me}-router",), {}),
    ("router", "reset-counters"): ("full", ("{me}-router",), {}),
    ("settings", "print"): ("full", (), {}),
    ("settings", "set"): ("full", (), {"smtp-server": "mail.example"}),
    # Below full permissions `export` simply leaves the settings out (test_settings_cli).
    ("settings", "export"): ("read-only", (), {}),
    # The installation's certificates: an owner sees them and exports a CA for its clients.
    ("certificate", "print"): ("owner", (), {}),
    ("certificate", "export"): ("owner", ("missing",), {}),
}


# The installation's settings (services/settings.py): the local superuser's alone, whatever a
# customer's level.
SUPERUSER_ONLY = {
    ("database", "set"): {"allow-private-destinations": "yes"},
    ("certificate", "add"): {"name": "ca", "common-name": "CA"},
    ("certificate", "import"): {"name": "ca", "file": "/nonexistent.pem"},
    ("certificate", "remove"): {},
    ("certificate", "revoke"): {},
}


def test_every_special_verb_has_a_level() -> None:
    assert set(SPECIALS) | set(SUPERUSER_ONLY) == set(commands_module.SPECIAL)


@pytest.mark.parametrize("login", LEVEL_ACTORS)
@pytest.mark.parametrize("special", sorted(SUPERUSER_ONLY), ids=" ".join)
def test_the_installations_settings_are_the_superusers_alone(
    world: World, special: tuple[str, str], login: str
) -> None:
    menu, verb = special
    with unchanged(world.app), pytest.raises(PermissionDeniedError) as raised:
        world.app.execute(world.actors[login], (menu,), verb, (), SUPERUSER_ONLY[special])
    assert raised.value.permission in {"the superuser", "owner permissions"}


@pytest.mark.parametrize("login", LEVEL_ACTORS)
@pytest.mark.parametrize("special", sorted(SPECIALS), ids=" ".join)
def test_special_verbs_need_their_level(
    world: World, tmp_path: Path, special: tuple[str, str], login: str
) -> None:
    menu, verb = special
    needed, positional, args = SPECIALS[special]
    actor = world.actors[login]
    words = tuple(word.format(me=login) for word in positional)
    values = {k: v.format(me=login, tmp=tmp_path) for k, v in args.items()}
    request = Request(tuple(menu.split()), verb, words, values)
    if LEVELS.index(actor.permissions) >= LEVELS.index(needed):
        try:
            dry_run(world.app, actor, request)
        except PermissionDeniedError:  # pragma: no cover - the failure
            pytest.fail(f"{login} may {menu} {verb}")
        except UsermanError:
            pass  # nothing to undo, no such backup: past the permission check
        return
    with unchanged(world.app), pytest.raises(PermissionDeniedError) as raised:
        world.app.execute(actor, request.path, verb, words, values)
    assert raised.value.permission == f"{needed} permissions"


# --- access flags ----------------------------------------------------------------------------

# The menu of each family, and the menus that follow it.
FAMILY_MENUS = {
    "routers": ("router", "log"),
    "users": ("user", "session", "payment", "user-profile", "user group"),
    "profiles": ("profile", "attribute", "profile profile-limitation"),
    "limits": ("profile limitation",),
}
KEYS = {
    "router": "name",
    "log": None,
    "user": "username",
    "session": "user",
    "payment": "user",
    "user-profile": "user",
    "user group": "name",
    "profile": "name",
    "attribute": "name",
    "profile profile-limitation": "profile",
    "profile limitation": "name",
}


def owners_shown(world: World, login: str, menu: str) -> set[str]:
    """Whose items (by the login in their names) the actor sees in `menu`."""
    items = run(world.app, world.actors[login], f"{menu} print").items
    if menu == "log":
        with world.app.database.begin() as db:
            names = {f"*{e.id:X}": e.customer_id for e in db.scalars(select(models.LogEntry))}
        by_id = {v: k for k, v in world.ids.items()}
        return {by_id[names[item.id]] for item in items}
    key = KEYS[menu]
    assert key is not None
    return {str(item.json[key]).rsplit("-", 1)[0] for item in items}


@pytest.mark.parametrize(
    ("family", "menu"), [(f, m) for f, menus in FAMILY_MENUS.items() for m in menus]
)
def test_own_and_parent_flags_decide_whose_items_a_non_owner_reaches(
    world: World, family: str, menu: str
) -> None:
    assert owners_shown(world, "own-only", menu) == {"own-only"}
    assert owners_shown(world, "parent-only", menu) == {"admin"}
    assert owners_shown(world, "no-flags", menu) == set()
    assert owners_shown(world, "fu", menu) == {"fu", "admin"}
    # An owner sees its whole domain, flags or not.
    assert owners_shown(world, "ow", menu) == {"admin", "kid", *(c[0] for c in CUSTOMERS)}


@pytest.mark.parametrize(
    ("login", "menu", "owner", "needed"),
    [
        ("no-flags", "router", "no-flags", "own-routers access"),
        ("no-flags", "user", "no-flags", "own-users access"),
        ("no-flags", "profile", "no-flags", "own-profiles access"),
        ("no-flags", "profile limitation", "no-flags", "own-limits access"),
        ("parent-only", "user", "parent-only", "own-users access"),
        # Items of a sub-customer are its own and its owner's business, not its parent's.
        ("own-only", "user", "kid", "owner permissions"),
        ("own-only", "router", "kid", "owner permissions"),
    ],
)
def test_adding_an_item_for_a_customer_out_of_reach_is_refused(
    world: World, login: str, menu: str, owner: str, needed: str
) -> None:
    args = {name: value.format(me=owner) for name, value in ADD_ARGS[menu].items()}
    with unchanged(world.app), pytest.raises(PermissionDeniedError) as raised:
        run(world.app, world.actors[login], f"{menu} add", **args)
    assert raised.value.permission == needed


def test_moving_an_item_out_of_reach_is_refused(world: World) -> None:
    """own-only may change its own user, but not hand it to its sub-customer."""
    actor = world.actors["own-only"]
    dry_run(world.app, actor, Request(("user",), "set", ("own-only-user",), {"comment": "x"}))
    with unchanged(world.app), pytest.raises(PermissionDeniedError, match="owner permissions"):
        run(world.app, actor, "user set", "own-only-user", customer="kid")


def test_parent_items_are_reached_only_with_parent_flags(world: World) -> None:
    request = Request(("user",), "set", ("admin-user",), {"comment": "x"})
    dry_run(world.app, world.actors["parent-only"], request)
    for login in ("own-only", "no-flags"):
        with unchanged(world.app), pytest.raises(NotFoundError):
            world.app.execute(
                world.actors[login], request.path, "set", request.positional, request.args
            )


# --- customers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("login", "seen"),
    [
        ("own-only", {"own-only", "kid"}),
        ("ro", {"ro"}),
        ("ow", {"admin", "kid", "off", "below-off", *(c[0] for c in CUSTOMERS)}),
    ],
)
def test_a_non_owner_sees_itself_and_its_sub_customers(
    world: World, login: str, seen: set[str]
) -> None:
    items = run(world.app, world.actors[login], "customer print").items
    assert {str(item.json["login"]) for item in items} == seen


@pytest.mark.parametrize(
    ("command", "positional", "args", "why"),
    [
        (
            "customer add",
            (),
            {"login": "x", "parent": "rw", "permissions": "full"},
            "above its parent",
        ),
        (
            "customer add",
            (),
            {"login": "x", "parent": "ro", "permissions": "owner"},
            "above its parent",
        ),
        ("customer set", ("kid",), {"permissions": "owner"}, "above its parent"),
        ("customer set", ("own-only",), {"permissions": "read-only"}, None),  # kid: read-only
        ("customer set", ("fu",), {"permissions": "owner"}, None),  # allowed: owner's child
        ("customer set", ("kid",), {"parent": "no-flags"}, None),  # allowed: full over read-only
        ("customer set", ("ow",), {"parent": "ro"}, "above its parent"),
        ("customer set", ("admin",), {"permissions": "full"}, "subscriber"),
    ],
)
def test_a_customers_permissions_never_exceed_its_parents(
    world: World, command: str, positional: tuple[str, ...], args: dict[str, str], why: str | None
) -> None:
    *path, verb = command.split()
    for actor in (world.actors["admin"], world.actors["ow"], ROOT):
        request = Request(tuple(path), verb, positional, args)
        if why is None:
            dry_run(world.app, actor, request)
            continue
        refusal: type[Exception] = InvalidValueError
        expected = why
        if positional == ("admin",) and actor is world.actors["ow"]:
            refusal, expected = PermissionDeniedError, "the subscriber itself"
        with unchanged(world.app), pytest.raises(refusal, match=expected):
            world.app.execute(actor, request.path, request.verb, positional, args)


@pytest.mark.parametrize("login", ["ro", "rw", "fu"])
def test_a_customer_changes_its_own_password_and_details_but_not_its_rights(
    world: World, login: str
) -> None:
    actor = world.actors[login]
    dry_run(world.app, actor, Request(("customer",), "set", (login,), {"password": "new"}))
    dry_run(world.app, actor, Request(("customer",), "set", (login,), {"email": "a@b.example"}))
    for args in ({"permissions": "owner"}, {"access": "own-users"}, {"parent": login}):
        with unchanged(world.app), pytest.raises(PermissionDeniedError):
            world.app.execute(actor, ("customer",), "set", (login,), args)


def test_only_the_subscriber_changes_its_own_account(world: World) -> None:
    with unchanged(world.app), pytest.raises(PermissionDeniedError, match="subscriber itself"):
        world.app.execute(world.actors["ow"], ("customer",), "set", ("admin",), {"password": "x"})


@pytest.mark.parametrize(("login", "parent"), [("kid", "own-only"), ("ro", "admin")])
@pytest.mark.parametrize("verb", ["set", "remove", "enable", "disable"])
def test_a_change_to_its_parent_names_the_permission_it_lacks(
    world: World, login: str, parent: str, verb: str
) -> None:
    """A non-owner does not see its parent, but knows it (its own `parent=`): changing it is
    refused by the permission it lacks (customers need owner permissions), not as "no such
    item". A customer it neither sees nor knows, a sibling, stays "no such item"."""
    actor = world.app.actor(login)
    args = {"comment": "x"} if verb == "set" else {}
    why = rf"needs owner permissions \({login} has read-only for customer {verb}\)"
    for key in (parent, f"*{world.ids[parent]:X}", f"*{world.ids[parent]:x}"):
        with unchanged(world.app), pytest.raises(PermissionDeniedError, match=why):
            world.app.execute(actor, ("customer",), verb, (key,), args)
    with unchanged(world.app), pytest.raises(NotFoundError):
        world.app.execute(actor, ("customer",), verb, ("rw",), args)
    # A sub-customer it sees is refused the same way.
    with unchanged(world.app), pytest.raises(PermissionDeniedError, match="owner permissions"):
        world.app.execute(world.actors["own-only"], ("customer",), verb, ("kid",), args)


@pytest.mark.parametrize("login", ["admin", "ow"])
@pytest.mark.parametrize(
    ("verb", "args"),
    [("disable", {}), ("set", {"disabled": "yes"}), ("remove", {})],
)
def test_a_customer_never_disables_or_removes_itself(
    world: World, login: str, verb: str, args: dict[str, str]
) -> None:
    """An owner that disabled or removed itself could not act again; the subscriber, which
    only changes its own account, would take its whole domain with it: its last enabled owner."""
    actor = world.actors[login]
    needed = "the local superuser" if login == "admin" else "another owner"
    with unchanged(world.app), pytest.raises(PermissionDeniedError, match=needed):
        world.app.execute(actor, ("customer",), verb, (login,), args)
    # Another owner may (admin the owner ow); the local superuser may suspend a subscriber.
    allowed = world.actors["admin"] if login == "ow" else ROOT
    try:
        dry_run(world.app, allowed, Request(("customer",), verb, (login,), args))
    except ConflictError:
        assert verb == "remove"  # permitted, but its routers, users ... are still there


def test_the_subscriber_keeps_owner_permissions(world: World) -> None:
    """Demoting the last enabled owner is refused too: a subscriber is always an owner."""
    for actor in (world.actors["admin"], ROOT):
        with unchanged(world.app), pytest.raises(InvalidValueError, match="must have owner"):
            world.app.execute(actor, ("customer",), "set", ("admin",), {"permissions": "full"})


def test_lowering_a_parent_below_its_sub_customer_is_refused(world: World) -> None:
    """The rule holds from both sides: rw's sub-customer may not outrank rw after a change."""
    admin = world.actors["admin"]
    with world.app.database.session() as db:
        db.begin()
        commands_module.run(
            db,
            admin,
            Request(
                ("customer",), "add", (), {"login": "x", "parent": "fu", "permissions": "full"}
            ),
            NOW,
        )
        with pytest.raises(InvalidValueError, match="below its sub-customer x"):
            commands_module.run(
                db,
                admin,
                Request(("customer",), "set", ("fu",), {"permissions": "read-write"}),
                NOW,
            )
        db.rollback()


@pytest.mark.parametrize("login", ["off", "below-off"])
def test_a_disabled_customer_cannot_act(world: World, login: str) -> None:
    with pytest.raises(PermissionDeniedError, match="an enabled customer"):
        world.app.actor(login)


def test_enabling_again_lets_it_act(world: World) -> None:
    with world.app.database.session() as db:
        db.begin()
        customer = db.scalars(
            select(models.Customer).where(models.Customer.login == "below-off")
        ).one()
        db.get(models.Customer, customer.parent_id).disabled = False  # type: ignore[union-attr]
        assert make_actor(db, customer).permissions == "read-only"
        db.rollback()


# --- the CLI ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("login", "line", "needed"),
    [
        ("ro", "user add username=z", "read-write permissions"),
        ("rw", "router add name=z ip-address=10.8.8.8", "full permissions"),
        ("fu", "customer add login=z permissions=read-only", "owner permissions"),
        ("no-flags", "user add username=z", "own-users access"),
        ("off", "user print", "an enabled customer"),
        # Its parent, which it does not see but knows (its own parent=): not "no such item".
        ("kid", "customer set own-only comment=x", "owner permissions"),
        ("ro", "customer disable admin", "owner permissions"),
        ("ow", "customer disable ow", "another owner"),
        ("admin", "customer remove admin", "the local superuser"),
    ],
)
def test_the_cli_as_a_customer_says_what_is_missing(
    world: World, login: str, line: str, needed: str
) -> None:
    with unchanged(world.app):
        result = CliRunner().invoke(cli, ["--db", world.url, "--as", login, *line.split()])
    assert result.exit_code == 1
    assert f"failure: not permitted: needs {needed}" in result.stderr
    assert result.stdout == ""
