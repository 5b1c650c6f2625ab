"""`userman import` at operator scale (services/bulk.py): a big script's user, user-profile and
create-and-activate-profile lines are written in bulk, and give the database, the history and
the errors (line, column, message; nothing applied) that running every line on its own gives.

The reference is the same import with `Userman.execute_script` replaced by `execute_many`,
which runs each command through commands.run as before the bulk path existed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from userman.cli.script import ScriptError, export_script, import_script
from userman.services import Actor, Userman, bulk
from userman.services import app as app_module
from userman.store import bulk as store_bulk
from userman.store import models
from userman.store.database import normalize_url

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

HEAD = """\
/tool user-manager customer
add login=shop parent=admin permissions=read-write access=own-users,own-profiles
add login=other permissions=owner
add login=viewer parent=admin permissions=read-only
/tool user-manager user group
add name=staff owner=admin
add name=staff owner=other
/tool user-manager profile
add name=now owner=admin starts-at=now validity=30d
add name=later owner=admin
add name=now owner=other starts-at=now
"""


def user_line(n: int) -> str:
    """A user with a little of everything an export may carry."""
    customer = ("admin", "shop", "other")[n % 3]
    words = [f"add username=u{n:05d} customer={customer} password=p{n}"]
    if n % 4 == 0:
        words.append("group=staff")
    if n % 5 == 0:
        words.append("shared-users=2")
    if n % 7 == 0:
        words.append("disabled=yes")
    if n % 11 == 0:
        words.append('comment="a \\"quoted\\" comment"')
    if n % 13 == 0:
        words.append("attributes=Session-Timeout:60")
    if n % 17 == 0:
        words.append("registration-date=jan/02/2026 caller-id=00:11:22:33:44:55")
    return " ".join(words) + "\n"


def big_script(users: int) -> str:
    """Users, their profiles as an export writes them (state and times), as a hand-written
    script queues them (create-and-activate-profile, user-profile add without state), and the
    same username in two subscribers (told apart by customer=)."""
    lines = [HEAD, "/tool user-manager user\n"]
    lines += [user_line(n) for n in range(users)]
    lines.append("add username=twin customer=admin\nadd username=twin customer=other\n")
    lines.append("/tool user-manager user-profile\n")
    for n in range(0, users, 2):
        lines.append(
            f'add user=u{n:05d} profile=now state=running assigned="jan/05/2026 10:00:00" '
            f'start-time="jan/05/2026 10:00:00" end-time="feb/04/2026 10:00:00"\n'
        )
    lines += [f"add user=u{n:05d} profile=later\n" for n in range(1, users, 6)]
    lines.append("/tool user-manager user\n")
    lines += [
        f"create-and-activate-profile u{n:05d} customer={('admin', 'shop', 'other')[n % 3]} "
        f"profile={'later' if n % 9 == 0 else 'now'}\n"
        for n in range(1, users, 2)
    ]
    lines.append("create-and-activate-profile twin customer=other profile=now\n")
    return "".join(lines)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """One `now` for every command, so that two imports give the same times."""
    monkeypatch.setattr(app_module, "utcnow", lambda: NOW)


@pytest.fixture
def one_by_one(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`import` as it ran before services/bulk.py: every command through commands.run."""
    with monkeypatch.context() as patch:
        patch.setattr(Userman, "execute_script", Userman.execute_many)
        yield


def fresh(url: str) -> Userman:
    app = Userman(url)
    app.prepare()
    return app


RANDOM = re.compile(r' (password-hash="[^"]*"|public-id=\w+)')


def _masked(change: dict[str, Any]) -> dict[str, Any]:
    """A sub-change without the values made at random: a customer's hash salt and public-id,
    and the nonce of every sealed password and secret (their clear text is in the export)."""
    for values in (change["before"], change["after"]):
        if change["table"] == "customer" and values is not None:
            values["password_hash"] = values["public_id"] = "random"
        for name, value in (values or {}).items():
            if isinstance(value, str) and value.startswith("enc1:"):
                values[name] = "sealed"
    return change


def state(app: Userman) -> tuple[str, list[tuple[Any, ...]]]:
    """The export and the history, entry by entry: what a user sees, and what undo takes
    back; but the values customers get at random."""
    text = export_script(app, Actor.superuser(), show_sensitive=True)
    with app.database.begin() as db:
        history = [
            (
                e.id,
                e.subscriber_id,
                e.actor,
                e.action,
                e.sub_changes,
                e.state,
                e.time,
                *(_masked(change) for change in json.loads(e.changes)),
            )
            for e in db.scalars(select(models.HistoryEntry).order_by(models.HistoryEntry.id))
        ]
    return RANDOM.sub("", text), history


def imported(url: str, text: str, actor: Actor | None = None) -> Userman:
    app = fresh(url)
    import_script(app, actor or Actor.superuser(), text)
    return app


def empty(url: str) -> None:
    """Drop every table of a database (tests/conftest.py does so after each test)."""
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink()
        return
    engine = create_engine(normalize_url(url))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.mark.usefixtures("clock")
def test_a_large_import_gives_what_line_by_line_gives(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """2,000 users and their profiles (500 on PostgreSQL, where the line-by-line reference is
    slow): the same export and the same history, entry by entry (one per line, with the ids
    and values stored), as running each line on its own. The batch is written every 1,000
    lines here, to cross that seam too."""
    monkeypatch.setattr(bulk, "FLUSH_EVERY", 1_000)
    users = 2_000 if db_url.startswith("sqlite") else 500
    text = big_script(users)
    app = imported(db_url, text)
    try:
        bulk_export, bulk_history = state(app)
    finally:
        app.close()
    empty(db_url)
    with monkeypatch.context() as patch:
        patch.setattr(Userman, "execute_script", Userman.execute_many)
        app = imported(db_url, text)
    try:
        export, history = state(app)
    finally:
        app.close()
    assert export == bulk_export
    assert bulk_export.count("\nadd username=") == users + 2
    assert history == bulk_history
    lines = users + 2 + users // 2 + len(range(1, users, 6)) + users // 2 + 1
    assert len(history) == 3 + 2 + 3 + lines


def with_line(text: str, after: str, line: str) -> str:
    """`text` with `line` put right after the first line that starts with `after`."""
    lines = text.splitlines(keepends=True)
    at = next(i for i, old in enumerate(lines) if old.startswith(after))
    return "".join([*lines[: at + 1], line + "\n", *lines[at + 1 :]])


USERS = "add username=u00040 "
PROFILES = "add user=u00040 "
QUEUE = "create-and-activate-profile u00041 "

# (after which line, the line put there, whether the import fails): errors and edge cases of
# each kind of bulk line, and other commands among them.
CASES = {
    "a username taken": (USERS, "add username=u00010 customer=admin", True),
    "a username taken in its batch": (USERS, "add username=u00035 customer=other", True),
    "the same username in another subscriber": (USERS, "add username=u00035 customer=shop", False),
    "a bad value": (USERS, "add username=bad customer=admin shared-users=lots", True),
    "an unknown property": (USERS, "add username=bad customer=admin colour=red", True),
    "an unknown customer": (USERS, "add username=bad customer=nobody", True),
    "no customer, two subscribers": (USERS, "add username=bad", True),
    "an unknown group": (USERS, "add username=bad customer=admin group=nogroup", True),
    "the default group": (USERS, "add username=v7 customer=admin group=default", False),
    "no username": (USERS, "add password=x customer=admin", True),
    "a positional word": (USERS, "add bad username=x customer=admin", True),
    "an unknown attribute": (USERS, "add username=bad customer=admin attributes=No-Such:1", True),
    "a random password": (
        USERS,
        "add username=r customer=admin random-password=yes password=x",
        True,
    ),
    "copy-from": (USERS, "add username=copy customer=admin copy-from=u00004", False),
    "a user set in between": (
        USERS,
        "set u00003 username=renamed\nadd username=u00003 customer=admin\n"
        "add username=renamed customer=admin",
        True,
    ),
    "a user removed in between": (USERS, "remove u00004\nadd username=u00004 customer=shop", False),
    "a user the queue names before it is added": (PROFILES, "add user=u00059 profile=now", False),
    "an unknown user": (PROFILES, "add user=nobody profile=now", True),
    "a user by *ID": (PROFILES, "add user=*2 profile=later", False),
    "an unknown *ID": (PROFILES, "add user=*FFFF profile=later", True),
    "a user by print number": (PROFILES, "add user=0 profile=later", False),
    "a user in two subscribers": (PROFILES, "add user=twin profile=now", True),
    "an unknown profile": (PROFILES, "add user=u00001 profile=none", True),
    "another subscriber's profile": (PROFILES, "add user=u00002 profile=later", True),
    "a bad state": (PROFILES, "add user=u00001 profile=now state=sleeping", True),
    "a bad time": (PROFILES, "add user=u00001 profile=now state=used end-time=soon", True),
    "a queue property unknown": (PROFILES, "add user=u00001 profile=now colour=red", True),
    "no profile": (PROFILES, "add user=u00001", True),
    "a queue positional word": (PROFILES, "add u00001 profile=now", True),
    "a user of another subscriber": (
        QUEUE,
        "create-and-activate-profile u00001 customer=other profile=now",
        True,
    ),
    "a queue without profile": (QUEUE, "create-and-activate-profile u00001 customer=shop", True),
    "two users": (QUEUE, "create-and-activate-profile u00001 u00004 profile=now", True),
    "a queue argument unknown": (QUEUE, "create-and-activate-profile u00001 profile=now x=1", True),
    "a history undo in between": (
        QUEUE,
        "/tool user-manager history undo\n/tool user-manager user\n"
        "create-and-activate-profile u00041 customer=other profile=now",
        False,
    ),
    "a running profile, then one that starts now": (
        QUEUE,
        "create-and-activate-profile u00003 customer=admin profile=now\n"
        "create-and-activate-profile u00003 customer=admin profile=now",
        False,
    ),
}


@pytest.fixture(scope="module")
def head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with HEAD imported (customers, groups, profiles), copied for each case."""
    path = tmp_path_factory.mktemp("head") / "head.db"
    app = fresh(f"sqlite:///{path}")
    try:
        import_script(app, Actor.superuser(), HEAD)
    finally:
        app.close()
    return path


def outcome(head: Path, path: Path, text: str, login: str | None = None) -> tuple[object, ...]:
    """What importing `text` into a copy of `head` gives: the error (line, column, message)
    or None, and the database's export and history after it."""
    shutil.copyfile(head, path)
    key = head.with_name(head.name + ".key")  # the sealed passwords' key file goes along
    if key.exists():
        shutil.copyfile(key, path.with_name(path.name + ".key"))
    app = Userman(f"sqlite:///{path}")
    try:
        before = state(app)
        error = None
        try:
            import_script(app, app.actor(login), text)
        except ScriptError as caught:
            error = (caught.line, caught.column, caught.message)
            assert state(app) == before, "a failed import changed something"
        return (error, *state(app))
    finally:
        app.close()


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize("load_after", [1, 1_000], ids=["maps", "queries"])
@pytest.mark.parametrize("case", CASES)
def test_errors_and_edge_cases_are_what_line_by_line_gives(
    case: str, load_after: int, head: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each line of CASES, in the middle of a 60-user script: the same error at the same
    line, column and words, nothing applied, or the same database, as line by line; with the
    users read into maps at once, and asked of the database line by line (a short stretch
    between other commands)."""
    monkeypatch.setattr(bulk, "LOAD_AFTER", load_after)
    after, line, fails = CASES[case]
    text = with_line(big_script(60).removeprefix(HEAD), after, line)
    got = outcome(head, tmp_path / "bulk.db", text)
    with monkeypatch.context() as patch:
        patch.setattr(Userman, "execute_script", Userman.execute_many)
        expected = outcome(head, tmp_path / "one-by-one.db", text)
    assert (got[0] is not None) == fails, got[0]
    assert got[0] == expected[0]
    assert got[1:] == expected[1:]


# What a customer that is not an owner may import (HEAD): shop is read-write with own-users
# and own-profiles, so it adds users of its own but sees neither admin's customers nor its
# profiles; viewer is read-only.
AS_CUSTOMER = {
    "its own users": ("shop", "add username=s1 customer=shop\nadd username=s2", False),
    "another customer's user": ("shop", "add username=s1 customer=admin", True),
    "another subscriber's user": ("shop", "add username=s1 customer=other", True),
    "a name taken by a user it does not see": ("shop", "add username=u00000", True),
    "a profile it does not see": (
        "shop",
        "add username=s1\n/tool user-manager user-profile\nadd user=s1 profile=now",
        True,
    ),
    "a queue for a user it does not see": (
        "shop",
        "/tool user-manager user-profile\nadd user=u00000 profile=now",
        True,
    ),
    "create-and-activate-profile": (
        "shop",
        "add username=s1\ncreate-and-activate-profile s1 profile=now",
        True,
    ),
    "read-only adds no user": ("viewer", "add username=v1", True),
    "read-only queues no profile": (
        "viewer",
        "/tool user-manager user-profile\nadd user=u00000 profile=now",
        True,
    ),
    "read-only activates no profile": (
        "viewer",
        "create-and-activate-profile u00000 profile=now",
        True,
    ),
}


@pytest.mark.usefixtures("clock")
@pytest.mark.parametrize("case", AS_CUSTOMER)
def test_a_customer_imports_what_line_by_line_lets_it(
    case: str, head: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same permission checks, refusals and results for `--as LOGIN` as line by line."""
    login, lines, fails = AS_CUSTOMER[case]
    base = tmp_path / "base.db"
    outcome(head, base, big_script(3).removeprefix(HEAD))  # u00000 ... of admin, shop, other
    text = "/tool user-manager user\n" + lines + "\n"
    got = outcome(base, tmp_path / "bulk.db", text, login)
    with monkeypatch.context() as patch:
        patch.setattr(Userman, "execute_script", Userman.execute_many)
        expected = outcome(base, tmp_path / "one-by-one.db", text, login)
    assert (got[0] is not None) == fails, got[0]
    assert got == expected


# (after which line, the wrong line put there, its column, how its message starts)
FAR_INTO = {
    "users": ("add username=u01900 ", "add username=u00003 customer=admin", 5, "username: an"),
    "their profiles": ("add user=u01900 ", "add user=u01901 profile=never", 1, "profile: no"),
    "the queue": (
        "create-and-activate-profile u01901 ",
        "add username=x customer=admin c=1",
        31,
        "c:",
    ),
}


@pytest.mark.parametrize("case", FAR_INTO)
def test_an_error_at_line_n_of_a_big_file_names_line_n_and_applies_nothing(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error far into a 2,000-user script, after the batch was written several times (every
    1,000 lines here): its line and column, and a database as it was before."""
    after, line, column, message = FAR_INTO[case]
    monkeypatch.setattr(bulk, "FLUSH_EVERY", 1_000)
    text = with_line(big_script(2_000), after, line)
    number = text.splitlines().index(line) + 1
    assert number > 1_000
    app = fresh(f"sqlite:///{tmp_path / 'big.db'}")
    try:
        before = state(app)
        with pytest.raises(ScriptError) as caught:
            import_script(app, Actor.superuser(), text)
        assert (caught.value.line, caught.value.column) == (number, column)
        assert caught.value.message.startswith(message), caught.value.message
        assert state(app) == before
    finally:
        app.close()


@pytest.mark.usefixtures("clock")
def test_rows_the_database_gives_back_out_of_order_are_written_line_by_line(
    head: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety net: when a bulk write fails (rows back in an order that cannot be trusted,
    or a constraint the checks missed), its savepoint is undone and its lines run one by one,
    with the result and the errors of line by line."""
    text = big_script(60).removeprefix(HEAD)
    expected = outcome(head, tmp_path / "expected.db", text)
    real = store_bulk.insert_rows
    calls = []

    def refuse_once(*args: Any) -> Any:
        calls.append(args[1].name)
        if len(calls) == 1:
            raise store_bulk.OrderError(args[1].name)
        return real(*args)

    monkeypatch.setattr(store_bulk, "insert_rows", refuse_once)
    assert outcome(head, tmp_path / "got.db", text) == expected
    assert calls[0] == "user"
    wrong = with_line(text, "add username=u00059 ", "add username=u00001 customer=shop")
    calls.clear()
    error = outcome(head, tmp_path / "wrong.db", wrong)[0]
    assert error == (
        wrong.splitlines().index("add username=u00001 customer=shop") + 1,
        5,
        ('username: an item named "u00001" already exists'),
    )
