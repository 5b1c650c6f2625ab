"""The change log the triggers of migration 0014 write, read as store/policy.py reads it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from support import run
from userman.services import Actor, Userman
from userman.store import policy

ROOT = Actor.superuser()


def read(app: Userman, cursor: policy.Cursor) -> list[tuple[str, int | None]]:
    with app.database.session() as db:
        changes = policy.read_changes(db, cursor, 1000)
    assert changes is not None
    return [(change.table, change.user_id) for change in changes]


def test_every_write_of_a_watched_row_is_noted_with_its_user(app: Userman) -> None:
    with app.database.session() as db:
        cursor = policy.start_cursor(db)
    run(app, ROOT, "profile add", name="p")
    run(app, ROOT, "user add", username="u", password="x")
    run(app, ROOT, "user create-and-activate-profile", "u", profile="p")
    run(app, ROOT, "user remove", "u")
    user_id = 1
    noted = read(app, cursor)
    assert noted[:3] == [("profile", None), ("user", user_id), ("user_profile", user_id)]
    # Removed with its user's entry (ON DELETE CASCADE), in either order.
    assert sorted(noted[3:]) == [("user", user_id), ("user_profile", user_id)]


def test_postgresql_reads_a_change_committed_after_a_later_one(app: Userman) -> None:
    """Sequence numbers are not in commit order on PostgreSQL: a transaction that took its
    number first and commits last is still read."""
    if app.database.is_sqlite:
        pytest.skip("SQLite has one writer at a time: ids are in commit order")
    run(app, ROOT, "user add", username="early", password="x")
    run(app, ROOT, "user add", username="late", password="x")
    with app.database.session() as db:
        cursor = policy.start_cursor(db)
    with app.database.engine.connect() as slow:
        slow_transaction = slow.begin()
        slow.execute(text("UPDATE \"user\" SET password = 'a' WHERE username = 'early'"))
        with app.database.engine.begin() as quick:
            quick.execute(text("UPDATE \"user\" SET password = 'b' WHERE username = 'late'"))
        assert read(app, cursor) == [("user", 2)]
        slow_transaction.commit()
    assert read(app, cursor) == [("user", 1)]
    assert read(app, cursor) == []


def test_the_trigger_watches_every_user_column_the_policy_reads() -> None:
    """The user trigger (migration 0014's, watching since 0022 the otp columns too) notes a
    change of exactly the columns store/policy.py reads for a decision: one read and not
    watched would go stale in memory."""
    import importlib

    first = importlib.import_module("userman.store.migrations.versions.0014_policy_change")
    latest = importlib.import_module("userman.store.migrations.versions.0022_otp")
    assert latest.BEFORE == first.USER_COLUMNS
    assert ("id", *latest.AFTER) == policy.USER_COLUMNS
