"""Tenancy is a security boundary (DESIGN.md): two subscribers, `admin` and `isp2`, each with every
kind of item, and for every menu and verb, acting as each subscriber's owner and sub-customers,
nothing of the other subscriber shows, and nothing of it can be changed, referred to or copied.

The manual: "each subscriber sees everything that happens with his sub-customers, credits,
users, routers, sessions, etc., but has no access to other subscriber's data."

The two-subscriber world is built once per back end; every test that changes something runs in
a transaction that is rolled back, and every refusal is checked against a snapshot of all rows.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator, Mapping

import pytest
from sqlalchemy import select

from support import NOW, dry_run, run, snapshot, unchanged
from tenancy import ROLES, ROOT, SUBSCRIBERS, World, build_world, other, rows_of
from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    UnknownPropertyError,
    UsermanError,
)
from userman.services import MENUS, Actor, Outcome, Request, Userman
from userman.services import commands as commands_module
from userman.services.actor import LEVELS
from userman.services.permissions import write_level
from userman.store import models

ATTACKERS = [(s, f"{s}{role}") for s in SUBSCRIBERS for role in ROLES]
REFUSED = (NotFoundError, InvalidValueError)
GENERIC_CHANGES = ("set", "remove", "enable", "disable")
READS = ("print", "find", "export", "count-only")


# --- the world (tests/tenancy.py) -------------------------------------------------------------


@pytest.fixture(scope="module")
def world(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The two subscribers, built once per back end."""
    backup_dir = tmp_path_factory.mktemp("backups")
    app = Userman(module_db_url, backup_dir=backup_dir)
    app.prepare()
    yield build_world(app, backup_dir, [login for _, login in ATTACKERS])
    app.close()


# --- every menu has a case -------------------------------------------------------------------

# For each menu: an attack's valid arguments of `set`, and the `add`s whose references (name and
# *ID forms) point into the target subscriber `it` while the rest is the attacker's own.
Ref = tuple[str, str]  # (menu, name template with {it})
SET_ARGS: dict[str, dict[str, str]] = {
    "customer": {"comment": "taken"},
    "router": {"comment": "taken"},
    "profile": {"comment": "taken"},
    "profile limitation": {"comment": "taken"},
    "profile profile-limitation": {"comment": "taken"},
    "user group": {"comment": "taken"},
    "attribute": {"comment": "taken"},
    "user": {"comment": "taken"},
    "user-profile": {},
    "session": {},
    "log": {},
    "payment": {"result-msg": "taken"},
    "history": {},
}
# (menu, fixed args, references into `it`); each runs once with names and once with *IDs.
ADDS: list[tuple[str, dict[str, str], dict[str, Ref]]] = [
    (
        "customer",
        {"login": "new", "permissions": "read-only"},
        {"parent": ("customer", "{it}-clerk")},
    ),
    (
        "router",
        {"name": "new", "ip-address": "10.9.9.9"},
        {"customer": ("customer", "{it}-clerk")},
    ),
    ("profile", {"name": "new"}, {"owner": ("customer", "{it}-clerk")}),
    ("profile limitation", {"name": "new"}, {"owner": ("customer", "{it}-clerk")}),
    (
        "profile profile-limitation",
        {"limitation": "{me}-limit"},
        {"profile": ("profile", "{it}-profile")},
    ),
    (
        "profile profile-limitation",
        {"profile": "{me}-profile"},
        {"limitation": ("profile limitation", "{it}-limit")},
    ),
    ("user group", {"name": "new"}, {"owner": ("customer", "{it}-clerk")}),
    ("attribute", {"name": "new"}, {"owner": ("customer", "{it}-clerk")}),
    ("user", {"username": "new"}, {"customer": ("customer", "{it}-clerk")}),
    (
        "user",
        {"username": "new", "customer": "{me}-clerk"},
        {"group": ("user group", "{it}-group")},
    ),
    ("user-profile", {"profile": "{me}-profile"}, {"user": ("user", "{it}-clerk-user")}),
    ("user-profile", {"user": "{me}-clerk-user"}, {"profile": ("profile", "{it}-profile")}),
]
# `set`s that move an own item, or point it, into the target subscriber.
SET_REFS: list[tuple[str, str, dict[str, Ref]]] = [
    ("customer", "{me}-clerk", {"parent": ("customer", "{it}-boss")}),
    ("router", "{me}-clerk-router", {"customer": ("customer", "{it}-clerk")}),
    ("profile", "{me}-profile", {"owner": ("customer", "{it}-clerk")}),
    ("profile limitation", "{me}-limit", {"owner": ("customer", "{it}-clerk")}),
    ("user group", "{me}-group", {"owner": ("customer", "{it}-clerk")}),
    ("attribute", "{me}-attr", {"owner": ("customer", "{it}-clerk")}),
    ("user", "{me}-clerk-user", {"customer": ("customer", "{it}-clerk")}),
    ("user", "{me}-clerk-user", {"group": ("user group", "{it}-group")}),
]
# The special verbs and how each is tried against the other subscriber: (menu, verb) -> cases
# of (positional, args) with {it} the target subscriber.
SPECIAL_CASES: dict[tuple[str, str], list[tuple[tuple[str, ...], dict[str, str]]]] = {
    ("user", "create-and-activate-profile"): [
        (("{it}-clerk-user",), {"profile": "{it}-profile"}),
        (("{it}-clerk-user",), {"profile": "{it}-profile", "customer": "{it}-clerk"}),
        (("{me}-clerk-user",), {"profile": "{it}-profile"}),
        (("{it}-clerk-user",), {"profile": "{me}-profile"}),
        (("shared",), {"profile": "basic", "customer": "{it}"}),
    ],
    ("user", "add-batch-users"): [
        ((), {"number-of-users": "2", "customer": "{it}-clerk"}),
        ((), {"number-of-users": "2", "customer": "{me}-clerk", "profile": "{it}-profile"}),
        ((), {"number-of-users": "2", "customer": "{me}-clerk", "group": "{it}-group"}),
    ],
    ("user-profile", "add"): [],  # v7's add: the user-profile cases of ADDS
    ("session", "close-session"): [],  # by *ID and number in test_special_verbs_...
    ("history", "undo"): [],  # test_undo_and_redo_stay_in_the_subscriber
    ("history", "redo"): [],
    ("database", "save"): [],  # test_a_backup_holds_only_its_subscriber
    ("database", "load"): [],
    # The installation's retention, no subscriber's data; set only by the local superuser
    # (test_retention: test_the_settings_are_the_superusers_and_say_what_is_wrong).
    ("database", "print"): [],
    ("database", "set"): [],
    ("router", "monitor"): [(("{it}-router",), {}), (("{it}-clerk-router",), {})],
    ("router", "reset-counters"): [(("{it}-router",), {}), (("{it}-clerk-router",), {})],
    ("settings", "print"): [((), {"subscriber": "{it}"}), ((), {"subscriber": "{it}-clerk"})],
    ("settings", "set"): [((), {"subscriber": "{it}", "smtp-server": "evil.example"})],
    ("settings", "export"): [],  # only the actor's own: test_settings_cli
    # The installation's certificates, no subscriber's data: every change and a key are the
    # local superuser's (test_certificates: test_only_the_superuser_changes_certificates).
    ("certificate", "add"): [],
    ("certificate", "import"): [],
    ("certificate", "print"): [],
    ("certificate", "export"): [],
    ("certificate", "remove"): [],
    ("certificate", "revoke"): [],
}


def test_every_menu_and_special_verb_has_a_tenancy_case() -> None:
    """A new menu or special verb without a case here fails, rather than going untested."""
    assert set(SET_ARGS) == set(MENUS)
    assert {menu for menu, _, _ in ADDS} == {name for name, m in MENUS.items() if m.addable}
    assert set(SPECIAL_CASES) == set(commands_module.SPECIAL)


# --- reading -------------------------------------------------------------------------------


def read(app: Userman, actor: Actor, menu: str, verb: str) -> Outcome:
    if verb == "count-only":
        return app.execute(actor, tuple(menu.split()), "print", ("count-only",))
    return app.execute(actor, tuple(menu.split()), verb)


def texts(outcome: Outcome) -> list[str]:
    """Every value print or export shows, as text."""
    shown = [text for item in outcome.items for _, text in item.fields]
    shown += [text for line in outcome.exported for _, text in line.args]
    shown += [word for line in outcome.exported for word in line.positional]
    return shown


@pytest.mark.parametrize(("subscriber", "login"), ATTACKERS)
@pytest.mark.parametrize("verb", READS)
@pytest.mark.parametrize("menu", sorted(MENUS))
def test_reading_never_shows_the_other_subscriber(
    world: World, menu: str, verb: str, subscriber: str, login: str
) -> None:
    actor = world.actors[login]
    spec = MENUS[menu]
    mine, theirs = world.ids(spec.model, subscriber), world.ids(spec.model, other(subscriber))
    assert theirs, f"the world has no {menu} of {other(subscriber)}"
    outcome = read(world.app, actor, menu, verb)
    printed = read(world.app, actor, menu, "print")
    shown_ids = {item.id for item in printed.items}
    assert shown_ids <= mine
    if verb == "count-only":
        assert outcome.count == len(printed.items)
    elif verb == "export":
        assert len(outcome.exported) == len(printed.items)
    else:
        assert {item.id for item in outcome.items} == shown_ids
    # Nothing of the other's shows, not even a name or a secret.
    for text in texts(outcome):
        assert other(subscriber) not in text, (menu, verb, text)
    if actor.sees_everything:
        assert shown_ids == mine  # an owner sees its whole domain


@pytest.mark.parametrize(("subscriber", "login"), ATTACKERS)
@pytest.mark.parametrize("menu", sorted(MENUS))
def test_where_and_show_sensitive_never_reach_the_other_subscriber(
    world: World, menu: str, subscriber: str, login: str
) -> None:
    actor = world.actors[login]
    path = tuple(menu.split())
    sensitive = world.app.execute(actor, path, "print", ("show-sensitive",))
    for text in texts(sensitive):
        assert other(subscriber) not in text
    conditions = [f"{prop.name}~{other(subscriber)}" for prop in MENUS[menu].shown]
    for condition in conditions:  # each alone: all together would be an AND
        found = world.app.execute(actor, path, "print", ("where", condition))
        assert found.items == (), condition
    found = world.app.execute(actor, path, "find", ())
    assert {i.id for i in found.items} <= world.ids(MENUS[menu].model, subscriber)


# --- changing the other's items --------------------------------------------------------------


def level_refuses(actor: Actor, menu: str) -> bool:
    needed = write_level(menu)
    return not actor.is_superuser and actor.level < LEVELS[needed]


def refused(
    world: World,
    actor: Actor,
    menu: str,
    verb: str,
    *words: str,
    **args: str,
) -> None:
    """The command fails as "not found" or "invalid" (or for want of a level the actor lacks
    whatever the target); the callers check with `unchanged` that nothing changed."""
    allowed: tuple[type[UsermanError], ...] = REFUSED
    if level_refuses(actor, menu):
        allowed = (*REFUSED, PermissionDeniedError)
    with pytest.raises(allowed) as raised:
        world.app.execute(actor, tuple(menu.split()), verb, words, args)
    if isinstance(raised.value, PermissionDeniedError):
        assert "permissions" in raised.value.permission  # the level, never the item


def their_addresses(world: World, actor: Actor, menu: str, target: str) -> list[str]:
    """Every way to name the target subscriber's items: name, *ID, and the print numbers past
    the actor's own items (numbers count only what the actor sees)."""
    spec = MENUS[menu]
    addresses = sorted(world.ids(spec.model, target))
    if spec.key is not None:
        with world.app.database.begin() as db:
            column = getattr(spec.model, spec.by_name[spec.key].column)
            names = db.scalars(
                select(column).where(spec.model.subscriber_id == world.subscriber_ids[target])  # type: ignore[attr-defined]
            ).all()
        addresses += [str(name) for name in names if name not in ("shared", "basic")]
    own = read(world.app, actor, menu, "count-only").count
    assert own is not None
    addresses += [str(own), str(own + 1), f"{own},0"]
    return addresses


@pytest.mark.parametrize(("subscriber", "login"), ATTACKERS)
@pytest.mark.parametrize("verb", GENERIC_CHANGES)
@pytest.mark.parametrize("menu", sorted(MENUS))
def test_changing_the_other_subscribers_items_fails_and_changes_nothing(
    world: World, menu: str, verb: str, subscriber: str, login: str
) -> None:
    actor = world.actors[login]
    args = SET_ARGS[menu] if verb == "set" else {}
    with unchanged(world.app):
        for address in their_addresses(world, actor, menu, other(subscriber)):
            refused(world, actor, menu, verb, address, **args)


@pytest.mark.parametrize(("subscriber", "login"), ATTACKERS)
@pytest.mark.parametrize("menu", sorted(MENUS))
def test_the_same_change_to_an_own_item_is_allowed(
    world: World, menu: str, subscriber: str, login: str
) -> None:
    """The control of the test above: addressed by *ID, an own item the actor reaches takes the
    same `set` (rolled back), so the refusals are about tenancy, not about the command."""
    actor = world.actors[login]
    printed = read(world.app, actor, menu, "print")
    if not printed.items:
        assert not actor.sees_everything
        return
    request = Request(tuple(menu.split()), "set", (printed.items[-1].id,), SET_ARGS[menu])
    if level_refuses(actor, menu):
        with pytest.raises(PermissionDeniedError):
            dry_run(world.app, actor, request)
    else:
        dry_run(world.app, actor, request)


def render(template: str, me: str, it: str) -> str:
    return template.format(me=me, it=it)


def ref_variants(world: World, refs: Mapping[str, Ref], me: str, it: str) -> list[dict[str, str]]:
    """The references by name, and by *ID."""
    by_name = {prop: render(name, me, it) for prop, (_, name) in refs.items()}
    by_id = {
        prop: world.id_of(menu, render(name, me, it), it) for prop, (menu, name) in refs.items()
    }
    return [by_name, by_id]


@pytest.mark.parametrize(("subscriber", "login"), ATTACKERS)
@pytest.mark.parametrize(
    ("menu", "fixed", "refs"), ADDS, ids=[f"{m}-{'-'.join(r)}" for m, _, r in ADDS]
)
def test_add_referring_to_the_other_subscriber_fails_and_changes_nothing(
    world: World,
    *,
    menu: str,
    fixed: dict[str, str],
    refs: dict[str, Ref],
    subscriber: str,
    login: str,
) -> None:
    actor = world.actors[login]
    args = {name: render(value, subscriber, subscriber) for name, value in fixed.items()}
    with unchanged(world.app):
        for variant in ref_variants(world, refs, subscriber, other(subscriber)):
            refused(world, actor, menu, "add", **args, **variant)
    # The control: the same add, referring to the actor's own subscriber, is taken.
    for variant in ref_variants(world, refs, subscriber, subscriber):
        request = Request(tuple(menu.split()), "add", (), {**args, **variant})
        if level_refuses(actor, menu):
            with pytest.raises(PermissionDeniedError):
                dry_run(world.app, actor, request)
        else:
            dry_run(world.app, actor, request)


@pytest.mark.parametrize(("subscriber", "login"), ATTACKERS)
@pytest.mark.parametrize("menu", sorted(name for name, m in MENUS.items() if m.addable))
def test_copy_from_the_other_subscriber_fails_and_changes_nothing(
    world: World, menu: str, subscriber: str, login: str
) -> None:
    actor = world.actors[login]
    base = next(
        {name: render(value, subscriber, subscriber) for name, value in fixed.items()}
        | {prop: render(name, subscriber, subscriber) for prop, (_, name) in refs.items()}
        for m, fixed, refs in ADDS
        if m == menu
    )
    sources = [a for a in their_addresses(world, actor, menu, other(subscriber)) if "," not in a]
    with unchanged(world.app):
        for source in sources:
            if (menu, "add") in commands_module.SPECIAL:
                # An add of its own (v7 user-profile) takes no copy-from at all.
                with pytest.raises(UnknownPropertyError, match="copy-from"):
                    world.app.execute(
                        actor, tuple(menu.split()), "add", (), {**base, "copy-from": source}
                    )
            else:
                refused(world, actor, menu, "add", **base, **{"copy-from": source})


@pytest.mark.parametrize(("subscriber", "login"), ATTACKERS)
@pytest.mark.parametrize(
    ("menu", "item", "refs"), SET_REFS, ids=[f"{m}-{'-'.join(r)}" for m, _, r in SET_REFS]
)
def test_set_pointing_into_the_other_subscriber_fails_and_changes_nothing(
    world: World, *, menu: str, item: str, refs: dict[str, Ref], subscriber: str, login: str
) -> None:
    actor = world.actors[login]
    target = render(item, subscriber, subscriber)
    with unchanged(world.app):
        for variant in ref_variants(world, refs, subscriber, other(subscriber)):
            refused(world, actor, menu, "set", target, **variant)


@pytest.mark.parametrize(("subscriber", "login"), ATTACKERS)
@pytest.mark.parametrize(
    ("special", "case"),
    [(key, case) for key, cases in SPECIAL_CASES.items() for case in cases],
    ids=[
        f"{' '.join(key)}-{'-'.join(case[1])}"
        for key, cases in SPECIAL_CASES.items()
        for case in cases
    ],
)
def test_special_verbs_never_reach_the_other_subscriber(
    world: World,
    special: tuple[str, str],
    case: tuple[tuple[str, ...], dict[str, str]],
    subscriber: str,
    login: str,
) -> None:
    actor = world.actors[login]
    menu, verb = special
    positional, args = case
    it = other(subscriber)
    words = tuple(render(word, subscriber, it) for word in positional)
    values = {name: render(value, subscriber, it) for name, value in args.items()}
    with unchanged(world.app):
        refused(world, actor, menu, verb, *words, **values)


@pytest.mark.parametrize(("subscriber", "login"), ATTACKERS)
def test_close_session_never_reaches_the_other_subscriber(
    world: World, subscriber: str, login: str
) -> None:
    actor = world.actors[login]
    with unchanged(world.app):
        for address in their_addresses(world, actor, "session", other(subscriber)):
            refused(world, actor, "session", "close-session", address)


# --- the same names in both domains -----------------------------------------------------------


@pytest.mark.parametrize("subscriber", SUBSCRIBERS)
def test_the_same_names_live_in_both_subscribers_independently(
    world: World, subscriber: str
) -> None:
    app, actor = world.app, world.actors[subscriber]
    [user] = run(app, actor, "user print", "where", name="shared").items
    assert user.id in world.ids(models.User, subscriber)
    before = snapshot(app)
    # Changing "shared" as this subscriber's owner changes this subscriber's user only.
    with app.database.session() as db:
        db.begin()
        commands_module.run(
            db, actor, Request(("user",), "set", ("shared",), {"comment": "x"}), NOW
        )
        commands_module.run(db, actor, Request(("profile",), "remove", ("basic",)), NOW)
        mine = world.subscriber_ids[subscriber]
        changed = db.scalars(select(models.User).where(models.User.comment == "x")).all()
        assert [u.subscriber_id for u in changed] == [mine]
        profiles = db.scalars(select(models.Profile).where(models.Profile.name == "basic")).all()
        assert [p.subscriber_id for p in profiles] == [world.subscriber_ids[other(subscriber)]]
        db.rollback()
    assert snapshot(app) == before
    # The superuser must say which user by *ID.
    with pytest.raises(ConflictError, match="several"):
        run(app, ROOT, "user set", "shared", comment="x")
    assert snapshot(app) == before


OWNERS = [(s, login) for s, login in ATTACKERS if not login.endswith("-clerk")]


@pytest.mark.parametrize(("subscriber", "login"), OWNERS)
def test_a_login_of_the_other_subscriber_cannot_be_used_and_is_not_said_whose(
    world: World, subscriber: str, login: str
) -> None:
    # Log-in finds a customer by its login alone: a login is the installation's, not only the
    # subscriber's. Neither adding nor renaming a customer takes another subscriber's, and the
    # refusal is the same as for a login that no subscriber may use.
    app, actor, theirs = world.app, world.actors[login], other(subscriber)
    with unchanged(app):
        for taken in (theirs, f"{theirs}-helper"):
            with pytest.raises(ConflictError) as added:
                run(app, actor, "customer add", login=taken, permissions="read-only")
            assert str(added.value) == f'login: "{taken}" is taken: no two items may share it'
            with pytest.raises(ConflictError) as renamed:
                run(app, actor, "customer set", f"{subscriber}-helper", login=taken)
            assert str(renamed.value) == str(added.value)
        with pytest.raises(ConflictError, match="already exists"):  # its own: said as before
            run(app, actor, "customer add", login=f"{subscriber}-clerk")


@pytest.mark.parametrize(("subscriber", "login"), ATTACKERS)
def test_a_router_address_of_the_other_subscriber_is_taken_and_not_said_whose(
    world: World, subscriber: str, login: str
) -> None:
    app, actor = world.app, world.actors[login]
    number = 1 + SUBSCRIBERS.index(subscriber)
    theirs = f"10.0.{3 - number}.1"
    said = f'ip-address: "{theirs}" is taken: no two items may share it'
    with unchanged(app):
        with pytest.raises(ConflictError) as added:
            run(app, actor, "router add", name="x", **{"ip-address": theirs})
        assert str(added.value) == said
        with pytest.raises(ConflictError) as changed:
            run(app, actor, "router set", f"{subscriber}-clerk-router", **{"ip-address": theirs})
        assert str(changed.value) == said


# --- backups ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("subscriber", "login"), ATTACKERS)
def test_a_report_counts_what_the_actor_sees_pruned_days_included(
    world: World, subscriber: str, login: str
) -> None:
    """Each user the actor sees has a session and a day total of a pruned one: two, never the
    other subscriber's `shared` user's too."""
    actor = world.actors[login]
    report = world.app.report(actor, NOW.date(), NOW.date())
    seen = {item.json["user"] for item in read(world.app, actor, "session", "print").items}
    assert {line.user for line in report.lines} == seen
    assert [line.sessions for line in report.lines] == [2] * len(seen)


@pytest.mark.parametrize("subscriber", SUBSCRIBERS)
def test_a_backup_holds_only_its_subscriber(world: World, subscriber: str) -> None:
    document = json.loads(world.backups[subscriber].read_text())
    mine = world.subscriber_ids[subscriber]
    for table, rows in document["tables"].items():
        assert rows, f"the backup has no {table}"
        assert {row["subscriber_id"] for row in rows} == {mine}, table
    assert other(subscriber) not in json.dumps(document)


@pytest.mark.parametrize(("subscriber", "login"), ATTACKERS)
def test_the_other_subscribers_backup_does_not_load(
    world: World, subscriber: str, login: str
) -> None:
    actor = world.actors[login]
    theirs = world.backups[other(subscriber)]
    before = snapshot(world.app)
    with pytest.raises(PermissionDeniedError):  # only the superuser names files by path
        run(world.app, actor, "database load", name=str(theirs))
    # Copied into the actor's own folder, it is still the other subscriber's backup.
    mine = world.backups[subscriber].parent / "copied.umb"
    shutil.copyfile(theirs, mine)
    try:
        with pytest.raises(PermissionDeniedError):
            run(world.app, actor, "database load", name="copied")
    finally:
        mine.unlink()
    assert snapshot(world.app) == before


@pytest.mark.parametrize("subscriber", SUBSCRIBERS)
def test_undo_and_redo_stay_in_the_subscriber(world: World, subscriber: str) -> None:
    """The owner's undo takes back its own last change and its redo makes it again, in one
    transaction (rolled back at the end), and neither touches a row of the other subscriber."""
    actor = world.actors[subscriber]
    mine, theirs = world.subscriber_ids[subscriber], world.subscriber_ids[other(subscriber)]
    with world.app.database.session() as db:
        db.begin()
        try:
            before, others = rows_of(db, mine), rows_of(db, theirs)
            commands_module.run(db, actor, Request(("history",), "undo"), NOW)
            undone = rows_of(db, mine)
            assert undone != before, "the undo changed nothing of its own subscriber"
            assert rows_of(db, theirs) == others
            commands_module.run(db, actor, Request(("history",), "redo"), NOW)
            assert rows_of(db, mine) == before
            assert rows_of(db, theirs) == others
        finally:
            db.rollback()
