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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from userman.store.database import normalize_url

from userman.cli.script import ScriptError, export_script, import_script
from userman.services import Actor, Userman
from userman.services import app as app_module
from userman.services import bulk
from userman.store import bulk as store_bulk
from userman.store import models

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

HEAD = """\
/tool user-manager customer
add login=shop parent=admin permissions=read-write access=own-users,own-profiles
add login=other permissions=owner
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
    """A customer's sub-change without the values made at random (hash salt, public-id)."""
    for values in (change["before"], change["after"]):
        if change["table"] == "customer" and values is not None:
            values["password_hash"] = values["public_id"] = "random"
    return change


def state(app: Userman) -> tuple[str, list[tuple[Any, ...]]]:
    """The export and the history, entry by entry: what a user sees, and what undo takes
    back; but the values customers get at random."""
    text = export_script(app, Actor.superuser(), show_sensitive=True)
    with app.database.begin() as db:
        history = [
            (e.id, e.subscriber_id, e.actor, e.action, e.sub_changes, e.state, e.time)
            + tuple(_masked(change) for change in json.loads(e.changes))
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
    assert len(history) == 2 + 2 + 3 + lines
