"""Two commands that give the same unique value at the same moment (two customers one login,
two routers one address): both pass the checks made before the write, since neither sees the
other's uncommitted row, and the database's unique index stops the later one. It is refused with
the words of the check (`login: "x" is taken: ...`), never the database's IntegrityError.

The race is made deterministic: the first transaction has written its row and commits only once
the second command, in another thread, has made its checks and sends its own INSERT (which
waits for the first's lock: PostgreSQL's index entry, SQLite's write lock)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping

import pytest
from sqlalchemy import event

from inmemory import do
from userman.core.errors import ConflictError, UsermanError
from userman.services import Actor, Userman, verbs
from userman.services.menus import MENUS

ROOT = Actor.superuser()


@pytest.fixture(scope="module")
def app(module_db_url: str) -> Iterator[Userman]:
    """One database per back end for the module: each test uses values of its own."""
    userman = Userman(module_db_url)
    userman.prepare()
    do(userman, "customer add", login="isp2", permissions="owner")
    yield userman
    userman.close()


def race(app: Userman, menu: str, first: Mapping[str, str], second: Mapping[str, str]) -> str:
    """`first` added and not committed while `second` is added by another command: the error
    the second one ends with."""
    outcome: list[BaseException | None] = []
    writing = threading.Event()

    def spy(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if threading.current_thread() is other and statement.startswith(f"INSERT INTO {menu} "):
            writing.set()

    def run() -> None:
        try:
            app.execute(ROOT, (menu,), "add", (), second)
            outcome.append(None)
        except BaseException as error:  # handed to the test's thread
            outcome.append(error)

    other = threading.Thread(target=run)
    event.listen(app.database.engine, "before_cursor_execute", spy)
    try:
        with app.database.begin() as db:
            verbs.add(db, ROOT, MENUS[menu], first)
            other.start()
            assert writing.wait(30)  # its checks passed: it found nothing of ours
    finally:
        event.remove(app.database.engine, "before_cursor_execute", spy)
    other.join(30)
    [error] = outcome
    assert isinstance(error, ConflictError), repr(error)
    return str(error)


def test_two_subscribers_customers_given_one_login_at_once(app: Userman) -> None:
    first, second = {"login": "x", "parent": "isp2"}, {"login": "x", "parent": "admin"}
    said = race(app, "customer", first, second)
    assert said == 'login: "x" is taken: no two items may share it'
    logins = [item.json["login"] for item in app.execute(ROOT, ("customer",), "print").items]
    assert logins.count("x") == 1


def test_one_subscribers_customers_given_one_login_at_once(app: Userman) -> None:
    # Both unique rules are broken (the subscriber's and the installation's); the database says
    # which it checked first, and either answer is the check's own.
    same = {"login": "y", "parent": "admin"}
    said = race(app, "customer", same, same)
    assert said in {
        'login: "y" is taken: no two items may share it',
        'login: an item named "y" already exists',
    }


def test_two_routers_given_one_address_at_once(app: Userman) -> None:
    first = {"name": "a", "customer": "isp2", "ip-address": "10.9.9.9"}
    second = {"name": "b", "customer": "admin", "ip-address": "10.9.9.9"}
    said = race(app, "router", first, second)
    assert said == 'ip-address: "10.9.9.9" is taken: no two items may share it'


def test_two_items_of_one_set_given_one_name(app: Userman) -> None:
    # Not a race: one command renames two profiles to one name. Each is checked against the
    # database before either is written; the index stops the second.
    do(app, "profile add", name="p1", owner="admin")
    do(app, "profile add", name="p2", owner="admin")
    with pytest.raises(UsermanError) as refused:
        do(app, "profile set", "p1", "p2", name="same")
    assert str(refused.value) == 'name: an item named "same" already exists'
