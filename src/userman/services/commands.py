"""Running a command: `<menu> <verb> [items] [name=value ...]`, the same for every interface.

`run()` finds the menu (legacy or v7 name), checks the actor's permissions, runs the verb, and
records every change in history as one entry. Generic verbs work on every menu; special verbs
(create-and-activate-profile, add-batch-users, close-session, undo, redo, save, load) are in
the `SPECIAL` table. The caller owns the transaction: one command, or one imported script, is
one transaction. The few that are not one transaction (`database prune`, a batch per
transaction; `database optimize`, which no transaction may hold) are in `MAINTENANCE`, which
the caller runs alone, with the database instead of a transaction (`maintain`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy.orm import Session

from userman.core.errors import (
    InvalidValueError,
    NotFoundError,
    UnknownCommandError,
    UnknownPropertyError,
)
from userman.services import (
    backup,
    batch,
    certificates,
    coa,
    counters,
    history,
    maintenance,
    permissions,
    profiles,
    retention,
    sessions,
    settings,
    subscriber_settings,
    verbs,
)
from userman.services.actor import Actor
from userman.services.menus import CUSTOMER, HISTORY, MENU_ALIASES, MENUS, Menu, menu_for
from userman.services.request import Context, Handler, Outcome, Request
from userman.services.verbs import Condition
from userman.store.database import Database

__all__ = ["MAINTENANCE", "MENU_PATHS", "SPECIAL", "is_maintenance", "maintain", "run", "verbs_of"]

PRINT_OPTIONS = ("detail", "terse", "count-only", "show-sensitive", "without-paging", "brief")
READ_VERBS = frozenset({"print", "find", "get", "export", "monitor"})

# Every menu path a command may start with, the v7 names included: the longest first (a command
# starts with the longest path it matches), then in alphabetical order, the same in every process.
MENU_PATHS: tuple[tuple[str, ...], ...] = tuple(
    sorted(
        {tuple(name.split()) for name in [*MENUS, *MENU_ALIASES, *permissions.AREA_LEVEL]},
        key=lambda path: (-len(path), path),
    )
)


def _conditions(request: Request, allowed: Sequence[str]) -> tuple[set[str], list[Condition]]:
    """Split `print`'s words into options and `where` conditions."""
    options: set[str] = set()
    conditions: list[Condition] = []
    words = list(request.positional)
    where = "where" in words
    if where:
        index = words.index("where")
        words, wheres = words[:index], words[index + 1 :]
        for word in wheres:
            prop, tilde, pattern = word.partition("~")
            if not tilde:
                raise InvalidValueError(word, "a condition is PROP=VALUE or PROP~REGEX")
            conditions.append(Condition(prop, "~", pattern))
        conditions.extend(Condition(name, "=", value) for name, value in request.args.items())
    elif request.args:
        raise InvalidValueError(next(iter(request.args)), "conditions follow `where`")
    for word in words:
        if word not in allowed:
            raise InvalidValueError(word, f"unknown option of {request.verb}")
        options.add(word)
    return options, conditions


def _print(ctx: Context, menu: Menu, request: Request) -> Outcome:
    options, conditions = _conditions(request, PRINT_OPTIONS)
    found = verbs.select_rows(
        ctx.db, ctx.actor, menu, conditions, show_sensitive="show-sensitive" in options
    )
    if "count-only" in options:
        return Outcome(menu, count=len(found), options=frozenset(options), listing=True)
    return Outcome(
        menu,
        tuple(item for _, _, item in found),
        tuple(number for number, _, _ in found),
        frozenset(options),
        listing=True,
    )


def _find(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """RouterOS `find`: the numbers of the items that meet the conditions."""
    conditions = [Condition(name, "=", value) for name, value in request.args.items()]
    for word in request.positional:
        if word == "where":
            continue
        prop, tilde, pattern = word.partition("~")
        if not tilde:
            raise InvalidValueError(word, "a condition is PROP=VALUE or PROP~REGEX")
        conditions.append(Condition(prop, "~", pattern))
    found = verbs.select_rows(ctx.db, ctx.actor, menu, conditions)
    return Outcome(
        menu,
        tuple(item for _, _, item in found),
        tuple(number for number, _, _ in found),
        listing=True,
    )


def _get(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """RouterOS `get ITEM [PROPERTY]`: one item, or the text of one of its properties."""
    if request.args:
        raise InvalidValueError(next(iter(request.args)), "get takes no values")
    words = [w for w in request.positional if w != "show-sensitive"]
    if not 1 <= len(words) <= 2:
        raise InvalidValueError("numbers", "get takes one item and perhaps one property")
    show_sensitive = "show-sensitive" in request.positional
    if show_sensitive:
        permissions.check_sensitive(ctx.actor, menu)
    row = verbs.find(ctx.db, ctx.actor, menu, words[0])
    if len(words) == 2:
        prop = menu.by_name.get(words[1])
        if prop is None or prop.hidden or prop.hashed:
            raise UnknownPropertyError(words[1], menu.name)
        if prop.sensitive:
            permissions.check_sensitive(ctx.actor, menu)
        item = verbs.render(ctx.db, menu, row, show_sensitive=True)
        return Outcome(menu, message=dict(item.fields)[prop.name])
    return Outcome(menu, (verbs.render(ctx.db, menu, row, show_sensitive=show_sensitive),))


def _export(ctx: Context, menu: Menu, request: Request) -> Outcome:
    options, _ = _conditions(request, ("show-sensitive", "terse", "verbose"))
    lines = verbs.export(ctx.db, ctx.actor, menu, show_sensitive="show-sensitive" in options)
    return Outcome(menu, exported=tuple(lines))


def _add(ctx: Context, menu: Menu, request: Request) -> Outcome:
    if request.positional:
        raise InvalidValueError(request.positional[0], "add takes only name=value pairs")
    row = verbs.add(ctx.db, ctx.actor, menu, request.args)
    coa.after_set(ctx.db, menu, [row], request.args.keys(), ctx.now)
    return Outcome(menu, (verbs.render(ctx.db, menu, row, show_sensitive=False),))


def _set(ctx: Context, menu: Menu, request: Request) -> Outcome:
    rows = verbs.set_(ctx.db, ctx.actor, menu, request.positional, request.args)
    coa.after_set(ctx.db, menu, rows, request.args.keys(), ctx.now)
    return Outcome(menu)


def _toggle(disabled: str) -> Handler:
    def handler(ctx: Context, menu: Menu, request: Request) -> Outcome:
        if request.args:
            raise InvalidValueError(next(iter(request.args)), f"{request.verb} takes no values")
        rows = verbs.set_(
            ctx.db, ctx.actor, menu, request.positional, {"disabled": disabled}, request.verb
        )
        coa.after_set(ctx.db, menu, rows, ("disabled",), ctx.now)
        return Outcome(menu)

    return handler


def _remove(ctx: Context, menu: Menu, request: Request) -> Outcome:
    if request.args:
        raise InvalidValueError(next(iter(request.args)), "remove takes no values")
    touched: set[int] = set()  # users whose open sessions the removal may change

    def before(row: object) -> None:
        touched.update(coa.before_remove(ctx.db, menu, row, ctx.now))

    count = verbs.remove(ctx.db, ctx.actor, menu, request.positional, before=before)
    coa.after_remove(ctx.db, touched, ctx.now)
    return Outcome(menu, count=count)


GENERIC: dict[str, Handler] = {
    "print": _print,
    "find": _find,
    "get": _get,
    "export": _export,
    "add": _add,
    "set": _set,
    "enable": _toggle("no"),
    "disable": _toggle("yes"),
    "remove": _remove,
}

# (menu, verb) -> the handler of a verb only that menu has (each declared in the menu's
# `verbs`), or of a verb of what is not a menu (permissions.AREA_LEVEL: database, settings,
# certificate).
SPECIAL: dict[tuple[str, str], Handler] = {
    ("user", "create-and-activate-profile"): profiles.create_and_activate_profile,
    ("user-profile", "add"): profiles.add_user_profile,
    ("history", "undo"): history.undo,
    ("history", "redo"): history.redo,
    ("user", "add-batch-users"): batch.add_batch_users,
    ("session", "close-session"): sessions.close_session,
    ("router", "monitor"): counters.monitor,
    ("router", "reset-counters"): counters.reset_counters,
    ("database", "save"): backup.save,
    ("database", "load"): backup.load,
    ("database", "print"): settings.print_command,  # the installation's (retention, ...)
    ("database", "set"): settings.set_command,
    ("settings", "print"): subscriber_settings.print_command,
    ("settings", "set"): subscriber_settings.set_command,
    ("settings", "export"): subscriber_settings.export_command,
    ("certificate", "add"): certificates.add,
    ("certificate", "import"): certificates.import_,
    ("certificate", "print"): certificates.print_,
    ("certificate", "export"): certificates.export,
    ("certificate", "remove"): certificates.remove,
    ("certificate", "revoke"): certificates.revoke,
}


# (area, verb) -> the handler of a command that is not one transaction: it gets the database.
MaintenanceHandler = Callable[[Database, Actor, Request, dt.datetime], Outcome]
MAINTENANCE: dict[tuple[str, str], MaintenanceHandler] = {
    ("database", "prune"): retention.prune_command,
    ("database", "optimize"): maintenance.optimize_command,
}


def is_maintenance(request: Request) -> bool:
    name = " ".join(request.path)
    return (MENU_ALIASES.get(name, name), request.verb) in MAINTENANCE


def maintain(database: Database, actor: Actor, request: Request, now: dt.datetime) -> Outcome:
    """Run a MAINTENANCE command, outside any transaction of the caller's."""
    name = " ".join(request.path)
    handler = MAINTENANCE[(MENU_ALIASES.get(name, name), request.verb)]
    permissions.check_level(actor, name, request.verb)
    return handler(database, actor, request, now)


def _check_special() -> None:
    """Every handler is for a verb its menu declares, and every declared verb has one: a
    misspelt menu or verb name stops the import, instead of a verb that silently is not."""
    declared = {(menu.name, verb.name) for menu in MENUS.values() for verb in menu.verbs}
    areas = {(menu, verb) for menu, verb in SPECIAL if menu in permissions.AREA_LEVEL}
    if set(SPECIAL) - areas != declared:
        raise RuntimeError(
            f"menus' verbs without a handler: {sorted(declared - set(SPECIAL))}; handlers"
            f" of no declared verb: {sorted(set(SPECIAL) - areas - declared)}"
        )


_check_special()


def verbs_of(name: str) -> tuple[str, ...]:
    """The verbs of a menu (by any of its names), in the order help lists them: the generic
    ones it takes, then its own. The one answer to "which commands does it have", for running
    a command, for help and for completion alike."""
    canonical = MENU_ALIASES.get(name, name)
    menu = MENUS.get(canonical)
    if menu is None:
        return tuple(verb for area, verb in [*SPECIAL, *MAINTENANCE] if area == canonical)
    own = [verb.name for verb in menu.verbs]
    toggles = "disabled" in menu.by_name
    generic = {
        "add": menu.addable,
        "set": True,
        "remove": True,
        "enable": toggles,
        "disable": toggles,
        "print": True,
        "find": True,
        "get": True,
        "export": True,
    }
    return tuple(dict.fromkeys([*(verb for verb, has in generic.items() if has), *own]))


def run(
    db: Session,
    actor: Actor,
    request: Request,
    now: dt.datetime,
    *,
    progress: Callable[[int, int], None] | None = None,
    backup_dir: Path | None = None,
) -> Outcome:
    """Run one command inside the caller's transaction."""
    name = " ".join(request.path)
    menu = menu_for(name)
    known = verbs_of(name)
    if not known:
        raise NotFoundError("menu", name or "(none)")
    if request.verb not in known:
        raise UnknownCommandError(request.verb, name, known)
    if is_maintenance(request):
        raise InvalidValueError(
            f"{name} {request.verb}", "runs on its own, not with other commands in a script"
        )
    handler = SPECIAL.get((MENU_ALIASES.get(name, name), request.verb)) or GENERIC[request.verb]
    assert menu is not None or name in permissions.AREA_LEVEL
    ctx = Context(db, actor, now, progress)
    if backup_dir is not None:
        ctx = replace(ctx, backup_dir=backup_dir)
    target = menu if menu is not None else HISTORY
    if request.verb in READ_VERBS:
        return handler(ctx, target, request)
    if menu is None or not menu.recorded:
        # Undo, redo and loading a backup are not themselves recorded, to be undone; settings
        # record their own entry.
        permissions.check_level(actor, menu or name, request.verb)
        return handler(ctx, target, request)
    if menu is not CUSTOMER:  # a customer may change some of its own details
        permissions.check_level(actor, menu, request.verb)
    with history.recording(db, actor, describe(name, request), now) as recorder:
        outcome = handler(ctx, target, request)
        recorder.outcome = outcome
    return outcome


PAST = {
    "add": "added",
    "set": "changed",
    "remove": "removed",
    "enable": "enabled",
    "disable": "disabled",
}


def describe(menu_name: str, request: Request) -> str:
    """The ACTION history shows, in the manual's words: `UMS user user1 added`, or
    `multiple objects removed` when a verb touched several items."""
    done = PAST.get(request.verb)
    if done is None:
        return " ".join(["UMS", menu_name, request.verb, *request.positional])
    menu = menu_for(menu_name)
    name = ""
    if request.verb == "add":
        name = request.args.get(menu.key, "") if menu is not None and menu.key else ""
    elif len(request.positional) == 1 and "," not in request.positional[0]:
        name = request.positional[0]
    elif request.verb != "add":
        return f"multiple objects {done}"
    return " ".join(word for word in ("UMS", menu_name, name, done) if word)
