"""The tenancy sweep (issue 11, "Measured, not hoped"): every verb of every menu through
`Userman.execute` (the command line's path), every route of the REST API, every customer page
and the user page, tried by a customer of subscriber `admin` at each permission level (a user of
`admin`'s on the user page) against the items of subscriber `isp2` (tests/tenancy.py), by name
and by *ID.

It is generated from the definitions: the menus, their references and verbs (services/menus.py,
`verbs_of`), and the API's and the pages' routes from the app's route table, so a new menu,
verb, route or page is swept without a change here; a route it does not know how to try fails
until it is listed with the reason it names nothing of anyone's.

Each attempt is made twice: naming an item of isp2's, and naming one that does not exist (a
"ghost" of the same form). With what was named replaced by a placeholder, both answers must be
the same (error, status, body): "not yours" never differs from "no such item". No answer holds
the text "isp2" (every name and secret of isp2's holds it), isp2's rows are the same after each
test and after the whole sweep, and what names nothing (lists, counts, the status page) does not
change when isp2 grows. The command line's path tries up to three items of isp2's per menu on
SQLite and the first on PostgreSQL; the API and the pages run the same commands, and try the
first (one world per module and back end).
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx2 import ASGITransport, AsyncClient
from sqlalchemy import select

from support import NOW
from tenancy import LEVEL_ROLES, SHARED_NAMES, World, build_world, rows_of
from userman.core.errors import UsermanError
from userman.services import MENUS, SPECIAL, Actor, Scope, Userman, passwords, verbs_of
from userman.services.menus import menu_for
from userman.services.permissions import AREA_LEVEL
from userman.store import models
from userman.web.api import url_name
from userman.web.app import create_app
from userman.web.forms import form_props
from userman.web.sections import PAGES
from web.test_customer_pages import log_in
from web.test_user_page import log_in as log_in_user

US, THEM = "admin", "isp2"
ATTACKERS = {f"{US}{role}": level for role, level in LEVEL_ROLES.items()}
GHOST_NAME = f"{THEM}-ghost"
GHOST_ID = 0x7FFFFFF
MARK = "\x00"  # where an attempt names the item of isp2's (or the ghost)
PER_MENU = 3  # isp2's items tried per menu: the first, the last and one between

# What a verb needs besides the reference it is tried with, so that it gets as far as resolving
# the reference (instead of stopping at a value it lacks).
BASE_ARGS: dict[tuple[str, str], dict[str, str]] = {
    ("router", "add"): {"ip-address": "10.99.0.1"},
    ("user", "add-batch-users"): {"number-of-users": "1"},
    ("settings", "set"): {"smtp-server": "evil.example"},
}
# Every reference's name, and the menu whose items it names (customer=, owner=, profile=, ...);
# the verbs of a menu or an area are tried with each, and with these.
REF_ARGS: dict[str, str] = {p.name: p.ref for m in MENUS.values() for p in m.props if p.ref}
MENU_ARGS = {**REF_ARGS, "subscriber": "customer", "users": "user", "name": ""}
# The arguments a verb of a whole menu, or a form, is tried with when not every one is.
FEW = ("customer", "subscriber", "profile", "group", "users", "name")
NAME_WRITES = {("database", "save")}  # its name= is a file of the actor's own, not an item
PLACEHOLDER = "<named>"
BASE = "http://testserver"  # the clients' (and the log-in cookie's) host


# --- the world and isp2's items ---------------------------------------------------------------


@dataclass
class Sweep:
    world: World
    theirs: dict[str, list[tuple[int, str | None]]]  # menu -> isp2's (id, name), some
    ours: dict[str, str]  # menu -> an item of admin's, by name or *ID
    before: dict[str, list[tuple[Any, ...]]]  # isp2's rows before the sweep
    web_session: int  # the id of a web log-in of isp2's
    public_id: str  # isp2's, as its sign-up links and user page name it

    @property
    def app(self) -> Userman:
        return self.world.app

    def actor(self, login: str) -> Actor:
        return self.world.actors[login]

    def addresses(
        self, menu: str, *, ids: bool = True, first: bool = False
    ) -> list[tuple[str, str]]:
        """(isp2's item, a ghost of the same form): by *ID and by name; of its first item only
        when a verb's argument names it (each of its items is the verb's own item elsewhere)."""
        if not menu:  # a backup's name
            return [(THEM, GHOST_NAME)]
        found: list[tuple[str, str]] = []
        for row_id, name in self.theirs[menu][: 1 if first else None]:
            if ids:
                found.append((f"*{row_id:X}", f"*{GHOST_ID:X}"))
            if name and name not in SHARED_NAMES:
                found.append((name, GHOST_NAME))
        return found

    def b_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        with self.app.database.begin() as db:
            return rows_of(db, self.world.subscriber_ids[THEM])


def _spread(rows: Sequence[tuple[int, str | None]]) -> list[tuple[int, str | None]]:
    if len(rows) <= PER_MENU:
        return list(rows)
    return [rows[0], rows[len(rows) // 2], rows[-1]]


@contextmanager
def cheap_hashes() -> Iterator[None]:
    """Customers' passwords hashed at argon2's least cost: the sweep tries names, not
    passwords, and a hash at the full cost takes a loaded machine half a second."""
    with pytest.MonkeyPatch.context() as patch:
        cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        patch.setattr(passwords, "_hasher", cheap)
        yield


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sweep]:
    """The world on SQLite, with isp2's items to try and an item of admin's for each menu."""
    folder = tmp_path_factory.mktemp("sweep")
    with built(f"sqlite:///{folder / 'userman.db'}", folder) as found:
        yield found


@pytest.fixture(scope="module")
def postgresql_sweep(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sweep]:
    """The same world on PostgreSQL (tests/conftest.py's database, emptied after the module)."""
    with built(module_db_url, tmp_path_factory.mktemp("sweep-pg")) as found:
        yield found


@contextmanager
def built(url: str, folder: Path) -> Iterator[Sweep]:
    app = Userman(url, backup_dir=folder / "backups")
    app.prepare()
    with cheap_hashes():
        world = build_world(app, folder / "backups", list(ATTACKERS))
    theirs: dict[str, list[tuple[int, str | None]]] = {}
    ours: dict[str, str] = {}
    with app.database.begin() as db:
        for name, spec in MENUS.items():
            key = getattr(spec.model, spec.by_name[spec.key].column) if spec.key else None
            model: Any = spec.model
            for who in (THEM, US):
                stmt = select(model.id, key if key is not None else model.id)
                stmt = stmt.where(model.subscriber_id == world.subscriber_ids[who])
                rows = [(i, n if key is not None else None) for i, n in db.execute(stmt)]
                assert rows, f"the world has no {name} of {who}"
                if who == THEM:
                    theirs[name] = _spread(sorted(rows))
                else:  # by name: admin's *ID may be one of isp2's items' of another menu
                    row_id, own = max(rows)
                    ours[name] = own if own and own not in SHARED_NAMES else f"*{row_id:X}"
    with TestClient(create_app(app), follow_redirects=False) as browser:
        log_in(browser, THEM, "pw")  # a web log-in of isp2's
    with app.database.begin() as db:
        web = db.scalar(
            select(models.WebSession.id).where(
                models.WebSession.subscriber_id == world.subscriber_ids[THEM]
            )
        )
        public_id = db.scalar(
            select(models.Customer.public_id).where(models.Customer.login == THEM)
        )
    assert web is not None
    assert public_id
    found = Sweep(world, theirs, ours, {}, web, public_id)
    found.before = found.b_rows()
    try:
        yield found
    finally:
        app.close()


# --- attempts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One command, `MARK` standing for isp2's item (`theirs`) or for a ghost."""

    menu: str
    verb: str
    positional: tuple[str, ...]
    args: tuple[tuple[str, str], ...]
    theirs: str = ""
    ghost: str = ""

    def fill(self, value: str) -> tuple[tuple[str, ...], dict[str, str]]:
        words = tuple(w.replace(MARK, value) for w in self.positional)
        return words, {k: v.replace(MARK, value) for k, v in self.args}

    def __str__(self) -> str:
        words, args = self.fill(self.theirs)
        said = " ".join([*words, *(f"{k}={v}" for k, v in args.items())])
        return f"{self.menu} {self.verb} {said}".strip()


def attempt(
    menu: str,
    verb: str,
    words: Sequence[str],
    args: Mapping[str, str],
    pair: tuple[str, str] = ("", ""),
) -> Attempt:
    return Attempt(menu, verb, tuple(words), tuple(args.items()), *pair)


# How a generic verb addresses items: one item, a new one, or the menu's items.
GENERIC_KIND = {
    "get": "item",
    "set": "item",
    "remove": "item",
    "enable": "item",
    "disable": "item",
    "add": "add",
    "print": "read",
    "find": "read",
    "export": "read",
}
OWN_KIND = {Scope.ITEM: "item", Scope.READ_ITEM: "item", Scope.ADD: "add", Scope.MENU: "menu"}


def kind_of(name: str, verb: str) -> str:
    spec = menu_for(name)
    if spec is None:
        return "menu"  # database, settings
    own = {v.name: v.scope for v in spec.verbs}
    return OWN_KIND[own[verb]] if verb in own else GENERIC_KIND[verb]


def cli_attempts(sweep: Sweep, name: str, verb: str, *, wide: bool = True) -> list[Attempt]:
    """Every way this sweep tries `<name> <verb>` against isp2's items; when not `wide`, a few:
    its first item by *ID and by name, and what arguments name by one form only."""

    def pick(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return pairs if wide else pairs[-1:]

    spec = menu_for(name)
    kind = kind_of(name, verb)
    base = BASE_ARGS.get((name, verb), {})
    found: list[Attempt] = []
    if kind == "menu":
        for arg, target in MENU_ARGS.items():
            if (arg == "name" and (name, verb) in NAME_WRITES) or (arg not in FEW and not wide):
                continue
            for pair in pick(sweep.addresses(target, first=True)):
                found.append(attempt(name, verb, (), {**base, arg: MARK}, pair))
        return found
    assert spec is not None
    refs = [p for p in spec.props if p.ref and p.writable]
    if kind == "item":
        args = {"comment": "sweep"} if verb == "set" and "comment" in spec.by_name else {}
        for pair in sweep.addresses(name, first=not wide):
            found.append(attempt(name, verb, (MARK,), args, pair))
            if verb == "get" and wide:
                found.append(attempt(name, verb, (MARK, spec.shown[0].name), {}, pair))
        # An item of admin's own, pointed into isp2 by a reference.
        own = verb not in GENERIC_KIND
        pointers = REF_ARGS if own else {p.name: p.ref for p in refs} if verb == "set" else {}
        for arg, target in pointers.items():
            for pair in pick(sweep.addresses(target or "", first=True)):
                if pair[0] != sweep.ours[name]:  # an *ID of another table's may be the same
                    found.append(attempt(name, verb, (sweep.ours[name],), {arg: MARK}, pair))
    elif kind == "add":
        if spec.key:
            base = {spec.key: "sweep-new", **base}
        for prop in refs:
            others = {q.name: sweep.ours[q.ref or ""] for q in refs if q.required and q != prop}
            for pair in pick(sweep.addresses(prop.ref or "", first=not wide)):
                found.append(attempt(name, verb, (), {**base, **others, prop.name: MARK}, pair))
        if (name, verb) not in SPECIAL:
            for pair in pick(sweep.addresses(name, first=not wide)):
                found.append(attempt(name, verb, (), {**base, "copy-from": MARK}, pair))
    else:  # read
        found.append(attempt(name, verb, (), {}))
        found.append(attempt(name, verb, ("show-sensitive",) if verb != "find" else (), {}))
        if verb == "print":
            found.append(attempt(name, verb, ("count-only",), {}))
        shown = [p for p in spec.shown if p.name == spec.key or p.ref]
        for prop in shown:
            target = prop.ref or name
            named = sweep.addresses(target, ids=False, first=not wide)
            for pair in named or sweep.addresses(target, first=True)[:1]:
                if verb == "find":
                    found.append(attempt(name, verb, (), {prop.name: MARK}, pair))
                elif verb == "print":
                    found.append(attempt(name, verb, ("where",), {prop.name: MARK}, pair))
                    if prop.name == spec.key:
                        words = ("count-only", "where", f"{prop.name}~^{MARK}$")
                        found.append(attempt(name, verb, words, {}, pair))
    return found


def normal(text: str, value: str) -> str:
    """The answer with what was named replaced by a placeholder, in each form it may take (as
    given, in a URL, a page's hexadecimal id)."""
    if not value:
        return text
    forms = {value, quote(value, safe=""), quote(value)}
    if value.startswith("*"):
        forms.add("/" + value[1:])
    elif value.isalnum():  # a page's id in hexadecimal, said back as an *ID
        forms.add("*" + value)
    if value.isdigit():  # a number in a form, said back as an *ID
        forms.add(f"*{int(value):X}")
    for form in sorted(forms, key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(form)}(?![\w-])", PLACEHOLDER, text)
    return text


async def leaks(
    att: Attempt, answer: Callable[[str], Awaitable[str]], ghosts: dict[object, str]
) -> list[str]:
    """What the answers to an attempt give away: a difference between isp2's item and a ghost,
    or isp2's name. A ghost's answer is asked once (`ghosts`: by the command it makes)."""
    real = normal(await answer(att.theirs), att.theirs)
    ghost = real
    if att.theirs:
        said = (att.menu, att.verb, att.fill(att.ghost))
        key = (said[0], said[1], said[2][0], tuple(said[2][1].items()))
        if key not in ghosts:
            ghosts[key] = normal(await answer(att.ghost), att.ghost)
        ghost = ghosts[key]
    found = []
    if real != ghost:
        at = next(
            i for i, (a, b) in enumerate(zip(real + "\0", ghost + "\1", strict=False)) if a != b
        )
        span = slice(max(0, at - 200), at + 300)  # where they part
        found.append(f"{att}: isp2's item answers\n  {real[span]}\nbut a ghost\n  {ghost[span]}")
    if THEM in real.lower():
        at = real.lower().index(THEM)
        found.append(f"{att}: isp2 shows: ...{real[max(0, at - 200) : at + 200]}...")
    return found


# (attacker, attempt, what MARK stands for) -> the answer as text
Answer = Callable[[str, Attempt, str], Awaitable[str]]


def try_all(
    sweep: Sweep, attempts: Sequence[Attempt], answer: Answer, logins: Sequence[str] = ()
) -> None:
    """Every attempt by each attacker (its permission level names it in a finding); then isp2's
    rows must be as they were before the sweep. The web's in one event loop (httpx's ASGI
    transport), not a thread's hand-off a request as TestClient's."""
    assert attempts, "nothing to try"

    async def by(login: str) -> list[str]:
        found: list[str] = []
        ghosts: dict[object, str] = {}
        for att in attempts:

            def asked(value: str, att: Attempt = att) -> Awaitable[str]:
                return answer(login, att, value)

            said = await leaks(att, asked, ghosts)
            found += [f"[{login}, {ATTACKERS.get(login, '')}] {text}" for text in said]
        return found

    async def each() -> list[str]:  # the attackers at once: a web request waits on a thread
        everyone = await asyncio.gather(*map(by, logins or ATTACKERS))
        return [text for found in everyone for text in found]

    found = asyncio.run(each())
    assert not found, "\n".join(found[:8]) + f"\n({len(found)} in all)"
    assert sweep.b_rows() == sweep.before, "a row of isp2's changed"


# --- the command line's path: Userman.execute -------------------------------------------------

CLI_CASES = [(name, verb) for name in [*MENUS, *AREA_LEVEL] for verb in verbs_of(name)]


async def cli_answer(sweep: Sweep, actor: Actor, att: Attempt, value: str) -> str:
    words, args = att.fill(value)
    try:
        outcome = sweep.app.execute(actor, att.menu.split(), att.verb, words, args)
    except UsermanError as error:
        return f"{type(error).__name__}: {error}"
    items = [item.json for item in outcome.items]
    return repr((outcome.message, outcome.count, items, outcome.exported, outcome.error))


@pytest.mark.parametrize(("menu", "verb"), CLI_CASES, ids=[f"{m} {v}" for m, v in CLI_CASES])
def test_every_verb_of_every_menu(sweep: Sweep, menu: str, verb: str) -> None:
    def answer(login: str, att: Attempt, value: str) -> Awaitable[str]:
        return cli_answer(sweep, sweep.actor(login), att, value)

    try_all(sweep, cli_attempts(sweep, menu, verb), answer)


# --- the routes of the app ----------------------------------------------------------------------


def walk(routes: Sequence[Any]) -> Iterator[tuple[str, str, Any]]:
    """(method, path, route) of every route, through included routers (FastAPI >= 0.165 keeps
    them as routers of their own)."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                original = context.original_route
                for method in sorted(getattr(original, "methods", None) or ()):
                    yield method, context.path, original
        else:
            for method in sorted(getattr(route, "methods", None) or ()):
                yield method, route.path, route


ROUTES = sorted(
    {(m, p): r for m, p, r in walk(create_app(None).routes) if m != "HEAD"}.items(),  # type: ignore[arg-type]
    key=lambda pair: pair[0],
)
URL_MENUS = {url_name(name): name for name in MENUS}


MENUS_AND_AREAS = [*MENUS, *AREA_LEVEL]


@pytest.mark.parametrize("module_db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("menu", MENUS_AND_AREAS)
def test_every_verb_of_every_menu_on_postgresql(postgresql_sweep: Sweep, menu: str) -> None:
    """The command line's path on PostgreSQL too: every verb of the menu (a finding names it),
    isp2's first item of each menu."""
    sweep = postgresql_sweep

    def answer(login: str, att: Attempt, value: str) -> Awaitable[str]:
        return cli_answer(sweep, sweep.actor(login), att, value)

    attempts = [
        att for verb in verbs_of(menu) for att in cli_attempts(sweep, menu, verb, wide=False)
    ]
    try_all(sweep, attempts, answer)


# --- the REST API -------------------------------------------------------------------------------

API_ROUTES = [(m, p) for (m, p), _ in ROUTES if p.startswith("/api/v1/")]
# Routes that name nothing of a subscriber's, and why they are not tried.
API_UNTRIED = {
    ("POST", "/api/v1/token"): "makes a token of the actor's own; its name names no item",
    ("DELETE", "/api/v1/web-session"): "ends the actor's own web log-ins (the sweep's pages')",
}
# What is not a menu but is addressed in a route: isp2's (item, ghost).
NOT_MENUS: dict[str, Callable[[Sweep], tuple[str, str]]] = {
    "token": lambda sweep: (f"{THEM}-token", f"{GHOST_NAME}-token"),
    "web-session": lambda sweep: (str(sweep.web_session), str(GHOST_ID)),
}


def api_verb(method: str, path: str) -> tuple[str, str]:
    """The command (menu or area, verb) an API route runs."""
    collection, *rest = path.removeprefix("/api/v1/").split("/")
    menu = URL_MENUS.get(collection, collection)
    if not rest:
        return menu, {"GET": "print", "POST": "add", "PATCH": "set"}[method]
    if len(rest) == 1 and rest[0].startswith("{"):  # {item}, a token's {name}, {session_id}
        return menu, {"GET": "get", "PATCH": "set", "DELETE": "remove"}[method]
    return menu, rest[-1]


def api_attempts(sweep: Sweep, method: str, path: str) -> list[Attempt]:
    menu, verb = api_verb(method, path)
    if menu in NOT_MENUS:  # an API token by its name, a web log-in by its number
        if "{" in path:
            return [attempt(menu, verb, (MARK,), {}, NOT_MENUS[menu](sweep))]
        return [attempt(menu, verb, (), {})]
    found = []
    for att in cli_attempts(sweep, menu, verb, wide=False):
        words = att.positional
        if "{item}" in path and (len(words) != 1 or (method == "GET" and att.args)):
            continue  # get ITEM PROPERTY has no route; a GET of an item carries no arguments
        if "count-only" in words:
            continue
        found.append(att)
    return found


async def api_request(http: AsyncClient, method: str, path: str, att: Attempt, value: str) -> str:
    words, args = att.fill(value)
    url = path
    params: list[tuple[str, str]] = []
    body: dict[str, str] | None = None
    if "{item}" in path or "{name}" in path:
        url = re.sub(r"\{\w+\}", quote(words[0], safe=""), path)
    if method == "GET":
        params = [("show-sensitive", "true")] if "show-sensitive" in words else []
        params += [("where", w) for w in words if "~" in w]
        params += [("where", f"{k}={v}") for k, v in args.items()]
    elif method in ("POST", "PATCH"):
        body = args
    response = await http.request(method, url, params=params, json=body)
    return f"{response.status_code} {response.text}"


@pytest.fixture(scope="module")
def api_clients(sweep: Sweep) -> dict[str, AsyncClient]:
    """A client of the API for each attacker, with a token of its own."""
    app = create_app(sweep.app)
    clients = {}
    for login in ATTACKERS:
        token = sweep.app.make_token(sweep.actor(login), "sweep")
        headers = {"Authorization": f"Bearer {token}"}
        clients[login] = AsyncClient(transport=ASGITransport(app), base_url=BASE, headers=headers)
    return clients


def test_every_api_route_is_tried_or_said_why_not(sweep: Sweep) -> None:
    for method, path in API_ROUTES:
        if (method, path) in API_UNTRIED:
            continue
        assert api_attempts(sweep, method, path), f"{method} {path}: the sweep cannot try it"


@pytest.mark.parametrize(
    ("method", "path"),
    [r for r in API_ROUTES if r not in API_UNTRIED],
    ids=[f"{m} {p}" for m, p in API_ROUTES if (m, p) not in API_UNTRIED],
)
def test_every_api_route(
    sweep: Sweep, api_clients: dict[str, AsyncClient], method: str, path: str
) -> None:
    def answer(login: str, att: Attempt, value: str) -> Awaitable[str]:
        return api_request(api_clients[login], method, path, att, value)

    try_all(sweep, api_attempts(sweep, method, path), answer)


# --- the customer pages -------------------------------------------------------------------------

PAGE_ROUTES = [(m, p) for (m, p), _ in ROUTES if p.startswith("/userman")]
ENDPOINTS = {(m, p): r.endpoint for (m, p), r in ROUTES}
SLUGS = {view.slug: view for view in PAGES}
# Routes that name nothing of a subscriber's, and why they are not tried.
PAGE_UNTRIED = {
    ("GET", "/userman/login"): "the log-in form",
    ("POST", "/userman/login"): "logging in: a login and a password, no item",
    ("POST", "/userman/logout"): "logging out",
    ("POST", "/userman/settings/test-mail"): "sends a mail to the address given; names no item",
    ("POST", "/userman/web-sessions/others/end"): "ends the actor's own other web log-ins",
}
PAGE_CONTEXT = ("request", "page", "_page", "ident", "name")


def hex_addresses(sweep: Sweep, menu: str) -> list[tuple[str, str]]:
    """isp2's first item as a page's URL names it: its id in hexadecimal (the command line's
    sweep tries every item; a page runs the same command)."""
    return [(f"{row_id:X}", f"{GHOST_ID:X}") for row_id, _ in sweep.theirs[menu][:1]]


def page_attempts(sweep: Sweep, method: str, path: str) -> list[Attempt]:
    """How the sweep tries a page: isp2's items in its path, and in its form's or query's
    fields that name items (its menu's references, a query parameter named for a menu)."""
    slug = path.removeprefix("/userman/").split("/")[0]
    view = SLUGS.get(slug)
    menu = view.menu if view is not None else ""
    found: list[Attempt] = []
    if "{number}" in path and slug == "web-sessions":  # a web log-in by its number
        return [attempt(path, method, (MARK,), {}, NOT_MENUS["web-session"](sweep))]
    if "{ident}" in path:
        assert view is not None, path
        fields = {"comment": "sweep"} if method == "POST" else {}
        for pair in hex_addresses(sweep, menu):
            found.append(attempt(path, method, (MARK,), fields, pair))
        return found
    if path.endswith("/bulk"):
        assert view is not None, path
        for action in view.bulk:
            for pair in hex_addresses(sweep, menu):
                found.append(attempt(path, method, (), {"action": action, "id": MARK}, pair))
        return found
    if path.endswith("/new") and method == "POST":
        assert view is not None, path
        names = {field for _, fields in view.form for field in fields}
        fields = {p.name for p in form_props(view.spec, tuple(names))}  # the rest is not read
        adds = cli_attempts(sweep, menu, "add", wide=False)
        return [att for att in adds if all(k in fields for k, v in att.args if MARK in v)]
    found.append(attempt(path, method, (), {}))
    if path.endswith("/named"):
        for pair in sweep.addresses(menu, first=True):
            found.append(attempt(path, method, (), {"key": MARK}, pair))
    elif path == f"/userman/{slug}" and view is not None:
        for pair in sweep.addresses(menu, ids=False, first=True):
            found.append(attempt(path, method, (), {"q": MARK}, pair))
    # The page's own query parameters (or a form's fields) that may name an item.
    names = [
        n for n in inspect.signature(ENDPOINTS[method, path]).parameters if n not in PAGE_CONTEXT
    ]
    if method == "POST":
        names += [n for n in FEW if n not in names]
    for name in names:
        target = MENU_ARGS.get(name, "")
        pairs = sweep.addresses(target, first=True)[-1:] if target else [(THEM, GHOST_NAME)]
        for pair in pairs:
            found.append(attempt(path, method, (), {name: MARK}, pair))
    return found


def secret_name(path: str) -> str:
    view = SLUGS[path.removeprefix("/userman/").split("/")[0]]
    secrets = [p.name for p in view.spec.shown if p.sensitive]
    return secrets[0] if secrets else "password"


async def page_request(
    browser: tuple[AsyncClient, str], method: str, path: str, att: Attempt, value: str
) -> str:
    http, csrf = browser
    words, fields = att.fill(value)
    url = re.sub(r"\{(ident|number)\}", lambda _: words[0], path) if words else path
    if "{name}" in url:
        url = url.replace("{name}", secret_name(path))
    if method == "GET":
        response = await http.get(url, params=fields)
    else:
        response = await http.post(url, data={"csrf": csrf, **fields})
    location = response.headers.get("location", "")
    return f"{response.status_code} {location} {response.text}"


@pytest.fixture(scope="module")
def page_clients(sweep: Sweep) -> dict[str, tuple[AsyncClient, str]]:
    """A browser logged in to the customer pages for each attacker, with its CSRF token."""
    app = create_app(sweep.app)
    clients = {}
    for login in ATTACKERS:
        with TestClient(app, follow_redirects=False) as browser:
            csrf = log_in(browser, login, "")
            cookies = dict(browser.cookies)
        http = AsyncClient(transport=ASGITransport(app), base_url=BASE, cookies=cookies)
        clients[login] = (http, csrf)
    return clients


def test_every_page_route_is_tried_or_said_why_not(sweep: Sweep) -> None:
    for method, path in PAGE_ROUTES:
        if (method, path) not in PAGE_UNTRIED:
            assert page_attempts(sweep, method, path), f"{method} {path}: the sweep cannot try it"


@pytest.mark.parametrize(
    ("method", "path"),
    [r for r in PAGE_ROUTES if r not in PAGE_UNTRIED],
    ids=[f"{m} {p}" for m, p in PAGE_ROUTES if (m, p) not in PAGE_UNTRIED],
)
def test_every_page(
    sweep: Sweep, page_clients: dict[str, tuple[AsyncClient, str]], method: str, path: str
) -> None:
    def answer(login: str, att: Attempt, value: str) -> Awaitable[str]:
        return page_request(page_clients[login], method, path, att, value)

    try_all(sweep, page_attempts(sweep, method, path), answer)


# --- values no two subscribers share -------------------------------------------------------------

# (menu, property) whose column is unique in its table, across subscribers: a router's address,
# a customer's public-id. Taking isp2's value is refused as taken, whose not said.
EVERYWHERE_UNIQUE = [
    (name, prop.name)
    for name, spec in MENUS.items()
    for prop in spec.props
    if prop.writable and prop.column and getattr(spec.model.__table__.c, prop.column).unique  # type: ignore[attr-defined]
]


def test_the_unique_values_are_found(sweep: Sweep) -> None:
    assert ("router", "ip-address") in EVERYWHERE_UNIQUE
    assert ("customer", "public-id") in EVERYWHERE_UNIQUE


@pytest.mark.parametrize(
    ("menu", "prop"), EVERYWHERE_UNIQUE, ids=[f"{m} {p}" for m, p in EVERYWHERE_UNIQUE]
)
def test_a_value_isp2_holds_is_refused_as_taken_and_changes_nothing(
    sweep: Sweep, api_clients: dict[str, AsyncClient], menu: str, prop: str
) -> None:
    """It was an IntegrityError from the database for a customer's public-id (a 500 on the
    API), and a router's address answered that "a router with address ... exists"."""
    spec = MENUS[menu]
    column = spec.by_name[prop].column
    model: Any = spec.model
    with sweep.app.database.begin() as db:
        theirs = db.scalars(
            select(getattr(model, column)).where(
                model.subscriber_id == sweep.world.subscriber_ids[THEM]
            )
        ).first()
    assert theirs
    mine = sweep.ours[menu]
    url = f"/api/v1/{url_name(menu)}/{quote(mine, safe='')}"
    for login in ATTACKERS:
        with pytest.raises(UsermanError) as refused:
            sweep.app.execute(sweep.actor(login), menu.split(), "set", (mine,), {prop: theirs})
        assert THEM not in str(refused.value)
        answer = asyncio.run(api_clients[login].patch(url, json={prop: theirs}))
        assert answer.status_code in {403, 404, 409}, answer.text
        assert THEM not in answer.text
    assert sweep.b_rows() == sweep.before


# --- the user page -------------------------------------------------------------------------------

USER_ROUTES = [(m, p) for (m, p), _ in ROUTES if p == "/user" or p.startswith("/user/")]
USER_UNTRIED = {
    ("POST", "/user/login"): "logging in: a username, a password and the subscriber's public-id",
    ("POST", "/user/logout"): "logging out",
    ("GET", "/user/signup"): "sign-up: public, for the subscriber its public-id names",
    ("POST", "/user/signup"): "sign-up: public, for the subscriber its public-id names",
    ("GET", "/user/activate"): "a sign-up's activation link: its random key is the proof",
    ("POST", "/user/paypal/webhook"): "PayPal's call, checked with PayPal; no user's",
    ("POST", "/user/paypal/ipn"): "PayPal's call, checked with PayPal; no user's",
    ("POST", "/user/settings/password"): "the user's own password",
    ("POST", "/user/settings/details"): "the user's own details, by name; no item",
}


def user_attempts(sweep: Sweep, method: str, path: str) -> list[Attempt]:
    """A user of admin's on its page, with isp2's items in the page's query or form: by number
    where the page takes one (`profile`, `payment`), the subscriber by its public-id (`subs`)."""
    found = [attempt(path, method, (), {})]
    for name, param in inspect.signature(ENDPOINTS[method, path]).parameters.items():
        if name in PAGE_CONTEXT:
            continue
        if "int" in str(param.annotation) and name in MENUS:
            ids = [(str(row_id), str(GHOST_ID)) for row_id, _ in sweep.theirs[name][:1]]
            found += [attempt(path, method, (), {name: MARK}, pair) for pair in ids]
        elif name == "subs":
            found.append(attempt(path, method, (), {name: MARK}, (sweep.public_id, "0" * 16)))
        else:
            target = MENU_ARGS.get(name, "")
            pairs = sweep.addresses(target, first=True)[-1:] if target else [(THEM, GHOST_NAME)]
            found += [attempt(path, method, (), {name: MARK}, pair) for pair in pairs]
    return found


@pytest.fixture(scope="module")
def user_browser(sweep: Sweep) -> tuple[AsyncClient, str]:
    """admin's user `admin-user`, logged in to the user page, and its CSRF token."""
    app = create_app(sweep.app)
    with sweep.app.database.begin() as db:
        ours = db.scalar(select(models.Customer.public_id).where(models.Customer.login == US))
    with TestClient(app, follow_redirects=False) as browser:
        csrf = log_in_user(browser, f"{US}-user", f"{US}-pw", str(ours))
        cookies = dict(browser.cookies)
    return AsyncClient(transport=ASGITransport(app), base_url=BASE, cookies=cookies), csrf


def test_every_user_page_route_is_tried_or_said_why_not(sweep: Sweep) -> None:
    assert USER_ROUTES
    for method, path in USER_ROUTES:
        if (method, path) not in USER_UNTRIED:
            assert user_attempts(sweep, method, path), f"{method} {path}: the sweep cannot try it"


@pytest.mark.parametrize(
    ("method", "path"),
    [r for r in USER_ROUTES if r not in USER_UNTRIED],
    ids=[f"{m} {p}" for m, p in USER_ROUTES if (m, p) not in USER_UNTRIED],
)
def test_every_user_page(
    sweep: Sweep, user_browser: tuple[AsyncClient, str], method: str, path: str
) -> None:
    """The user page has no permission levels: the same answers for each "attacker"."""

    def answer(login: str, att: Attempt, value: str) -> Awaitable[str]:
        return page_request(user_browser, method, path, att, value)

    try_all(sweep, user_attempts(sweep, method, path), answer, logins=(US,))


def test_the_pages_were_swept_logged_in(page_clients: dict[str, tuple[AsyncClient, str]]) -> None:
    """Had a page (or the API) ended the sweep's log-ins, every page would have answered with
    the log-in page, alike for isp2's item and a ghost."""
    for http, _ in page_clients.values():
        assert asyncio.run(http.get("/userman/status")).status_code == 200


def test_the_user_page_was_swept_logged_in(user_browser: tuple[AsyncClient, str]) -> None:
    assert asyncio.run(user_browser[0].get("/user/sessions")).status_code == 200


def test_isp2_is_byte_identical_after_the_sweep(sweep: Sweep) -> None:
    """isp2's rows, dumped before the first attempt, are the same."""
    assert sweep.b_rows() == sweep.before


# --- nothing of isp2's is counted ----------------------------------------------------------------


def grow(sweep: Sweep) -> None:
    """One item more of every kind in isp2's domain, made by its owner (a session, a payment
    and a log entry as the server writes them)."""
    app, owner = sweep.app, sweep.actor(THEM)
    grown = f"{THEM}-grown"
    adds = (
        ("customer", {"login": grown}),
        ("router", {"name": grown, "ip-address": "10.0.2.99"}),
        ("profile", {"name": grown, "starts-at": "now"}),
        ("profile limitation", {"name": grown}),
        ("profile profile-limitation", {"profile": grown, "limitation": grown}),
        ("user group", {"name": grown}),
        ("attribute", {"name": grown, "type-id": "98"}),
        ("user", {"username": grown, "password": "x"}),
    )
    with cheap_hashes():
        for menu, args in adds:
            app.execute(owner, tuple(menu.split()), "add", (), args)
    app.execute(owner, ("user",), "create-and-activate-profile", (grown,), {"profile": grown})
    sid = sweep.world.subscriber_ids[THEM]
    with app.database.begin() as db:
        user = db.scalars(select(models.User).where(models.User.username == grown)).one()
        router = db.scalars(select(models.Router).where(models.Router.name == grown)).one()
        mine = {"subscriber_id": sid, "customer_id": user.customer_id, "user_id": user.id}
        db.add(
            models.UserSession(
                **mine, username=grown, acct_session_id=grown, from_time=NOW, till_time=NOW,
                active=True, download=10**9,
            )
        )  # fmt: skip
        db.add(
            models.Payment(
                **mine, username=grown, profile_name=grown, price=Decimal("1.00"),
                trans_start=NOW, result_msg=grown,
            )
        )  # fmt: skip
        db.add(
            models.LogEntry(
                subscriber_id=sid, customer_id=router.customer_id, router_id=router.id,
                user_orig=grown, time=NOW, status="authorization-failure", description=grown,
            )
        )  # fmt: skip


Asked = tuple[str, Attempt, Answer]  # (the menu and verb, or the route; the attempt; how)


def naming_nothing(sweep: Sweep, page_clients: dict[str, tuple[AsyncClient, str]]) -> list[Asked]:
    """Every attempt that names nothing: print and its count, and the pages' GETs (the status
    page, reports, payments, the lists)."""

    def cli(login: str, att: Attempt, value: str) -> Awaitable[str]:
        return cli_answer(sweep, sweep.actor(login), att, value)

    def page(method: str, path: str) -> Answer:
        return lambda login, att, value: page_request(page_clients[login], method, path, att, value)

    asked: list[Asked] = [
        (f"{menu} {verb}", att, cli)
        for menu, verb in CLI_CASES
        if verb == "print"
        for att in cli_attempts(sweep, menu, verb)
        if att.positional in ((), ("count-only",))  # what find, export and the API list is print's
    ]
    for method, path in PAGE_ROUTES:
        if method == "GET" and (method, path) not in PAGE_UNTRIED and "{" not in path:
            route = f"{method} {path}"
            asked += [
                (route, att, page(method, path)) for att in page_attempts(sweep, method, path)
            ]
    return [(label, att, how) for label, att, how in asked if not att.theirs]


def test_nothing_of_isp2_is_counted(
    sweep: Sweep, page_clients: dict[str, tuple[AsyncClient, str]]
) -> None:
    """What admin's customers are shown when they name nothing (every list and count,
    the status page, reports, payments) is the same before and after isp2 grows by one item of
    every kind: nothing of isp2's is counted, summed or listed. isp2's owner, the control, sees
    each new item. It changes isp2 (the new rows are the baseline of a test after it), so it
    runs last."""
    asked = naming_nothing(sweep, page_clients)

    async def by(login: str) -> dict[tuple[str, str, Attempt], str]:
        return {(login, label, att): await how(login, att, "") for label, att, how in asked}

    async def answers() -> dict[tuple[str, str, Attempt], str]:
        return {
            k: text
            for found in await asyncio.gather(*map(by, ATTACKERS))
            for k, text in found.items()
        }

    def counts(login: str) -> dict[str, int | None]:
        actor = sweep.actor(login)
        return {
            m: sweep.app.execute(actor, m.split(), "print", ("count-only",)).count for m in MENUS
        }

    before, theirs = asyncio.run(answers()), counts(THEM)
    grow(sweep)
    after, grown = asyncio.run(answers()), counts(THEM)
    sweep.before = sweep.b_rows()
    assert [m for m in MENUS if grown[m] == theirs[m]] == []  # the control: it sees them
    changed = [
        f"[{login}] {label}: {att}:\n  {was[:300]}\nbecame\n  {after[login, label, att][:300]}"
        for (login, label, att), was in before.items()
        if after[login, label, att] != was
    ]
    assert not changed, "\n".join(changed[:6]) + f"\n({len(changed)} in all)"
