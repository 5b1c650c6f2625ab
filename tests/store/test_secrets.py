"""Data at rest (docs/security.md): the SQLite files private to their owner, user passwords and
shared secrets sealed with the key file's key, readable only with it, and `rotate`."""

from __future__ import annotations

import logging
import shutil
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, text

from userman.core.errors import DatabaseError
from userman.store import models
from userman.store.database import Database, default_url
from userman.store.secrets import PREFIX, SecretsError, rotate


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def opened(url: str) -> Database:
    database = Database(url)
    database.migrate()
    return database


def add_user(database: Database, username: str = "u", password: str = "secret pw") -> None:
    with database.begin() as db:
        customer = models.Customer(login=f"c-{username}", public_id=f"p-{username}")
        db.add(customer)
        db.flush()
        customer.subscriber_id = customer.id
        db.add(
            models.User(
                subscriber_id=customer.id,
                customer_id=customer.id,
                username=username,
                password=password,
            )
        )
        db.add(
            models.Router(
                subscriber_id=customer.id,
                customer_id=customer.id,
                name=f"r-{username}",
                ip_address=f"10.0.0.{len(username)}",
                shared_secret="router secret",
            )
        )


def stored(database: Database, column: str = "password", table: str = "user") -> list[str]:
    with database.engine.connect() as connection:
        return list(
            connection.execute(text(f'SELECT {column} FROM "{table}" ORDER BY id')).scalars()
        )


def test_the_default_folder_database_wal_and_key_file_are_the_owners_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("USERMAN_KEY_FILE", raising=False)
    monkeypatch.setattr("os.umask", lambda _: 0)  # nothing here relies on the umask
    database = opened(default_url())
    add_user(database)
    folder = tmp_path / "userman-data"
    assert mode(folder) == 0o700
    for name in ("userman.db", "userman.db-wal", "userman.db-shm", "userman.db.key"):
        assert mode(folder / name) == 0o600, name
    database.dispose()


def test_a_database_others_may_read_is_narrowed_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tmp_path.chmod(0o755)
    path = tmp_path / "old.db"
    opened(f"sqlite:///{path}").dispose()
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="userman.store.database"):
        opened(f"sqlite:///{path}").dispose()
    assert mode(path) == 0o600
    assert "readable by others (mode 644): narrowed to 600" in caplog.text
    assert mode(tmp_path) == 0o755  # a folder userman did not make is left as it is


def test_passwords_and_secrets_are_sealed_and_read_back_clear(tmp_path: Path) -> None:
    database = opened(f"sqlite:///{tmp_path / 'u.db'}")
    add_user(database, password="pässword")
    (raw,) = stored(database)
    (raw_secret,) = stored(database, "shared_secret", "router")
    assert raw.startswith(PREFIX)
    assert "pässword" not in raw
    assert raw_secret.startswith(PREFIX)
    with database.begin() as db:
        user = db.scalars(select(models.User)).one()
        assert user.password == "pässword"
        assert db.scalars(select(models.Router.shared_secret)).one() == "router secret"
        # Core reads it clear too (the policy load: store/policy.py).
        assert db.execute(select(models.User.__table__.c.password)).scalar() == "pässword"
        user.password = "new"
    assert stored(database) != [raw]
    key_file = tmp_path / "u.db.key"
    assert stored(database)[0].startswith(f"{PREFIX}{key_file.read_text().split()[0]}:")
    database.dispose()


def test_a_database_copied_without_its_key_file_gives_no_password(tmp_path: Path) -> None:
    database = opened(f"sqlite:///{tmp_path / 'u.db'}")
    add_user(database)
    database.dispose()
    (tmp_path / "copy").mkdir()
    shutil.copy(tmp_path / "u.db", tmp_path / "copy" / "u.db")
    copy = opened(f"sqlite:///{tmp_path / 'copy' / 'u.db'}")
    with copy.begin() as db, pytest.raises(SecretsError) as raised:
        db.scalars(select(models.User)).all()
    assert "cannot read user.password: it was sealed with key" in str(raised.value)
    assert "copy/u.db.key does not hold" in str(raised.value)
    with copy.begin() as db:  # what is not secret still reads
        assert db.scalars(select(models.User.username)).one() == "u"
    copy.dispose()


def test_a_value_altered_or_moved_to_another_column_does_not_open(tmp_path: Path) -> None:
    database = opened(f"sqlite:///{tmp_path / 'u.db'}")
    add_user(database)
    (secret,) = stored(database, "shared_secret", "router")
    with database.engine.begin() as connection:
        connection.execute(text('UPDATE "user" SET password = :s'), {"s": secret})
    with database.begin() as db, pytest.raises(SecretsError, match="does not open"):
        db.scalars(select(models.User.password)).one()
    database.dispose()


def test_rotate_seals_everything_with_a_new_key_and_forgets_the_old(tmp_path: Path) -> None:
    database = opened(f"sqlite:///{tmp_path / 'u.db'}")
    add_user(database, "a", "pa")
    add_user(database, "bb", "pb")
    with database.engine.begin() as connection:  # and one left clear from before
        connection.execute(text("UPDATE \"user\" SET password = 'clear' WHERE username = 'bb'"))
    key_file = tmp_path / "u.db.key"
    old = key_file.read_text().split()[0]
    other = Database(f"sqlite:///{tmp_path / 'u.db'}")  # another process, keys read before
    with other.begin() as db:
        assert db.scalars(select(models.User.password).order_by(models.User.id)).all() == [
            "pa",
            "clear",
        ]
    new, count = rotate(database.engine, models.Base.metadata.sorted_tables)
    assert count == 4  # two passwords, two secrets
    assert new != old
    assert key_file.read_text().split()[0] == new
    assert len(key_file.read_text().splitlines()) == 1
    assert mode(key_file) == 0o600
    assert all(v.startswith(f"{PREFIX}{new}:") for v in stored(database))
    for db_ in (database, other):  # the other process reads the changed key file
        with db_.begin() as db:
            assert db.scalars(select(models.User.password).order_by(models.User.id)).all() == [
                "pa",
                "clear",
            ]
    _, count = rotate(database.engine, models.Base.metadata.sorted_tables, keep_old=True)
    assert count == 4
    assert len(key_file.read_text().splitlines()) == 2
    other.dispose()
    database.dispose()


def test_an_in_memory_database_seals_with_a_key_in_memory() -> None:
    database = opened("sqlite://")
    add_user(database)
    assert stored(database)[0].startswith(PREFIX)
    with database.begin() as db:
        assert db.scalars(select(models.User.password)).one() == "secret pw"
    database.dispose()


def test_a_database_server_takes_its_key_file_from_the_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("USERMAN_KEY_FILE", raising=False)
    url = "postgresql://userman@127.0.0.1/userman"
    assert Database(url).keyring is None  # none configured: stored clear, as before
    assert Database(f"{url}?key_file={tmp_path / 'k'}").key_file == tmp_path / "k"
    monkeypatch.setenv("USERMAN_KEY_FILE", str(tmp_path / "env.key"))
    assert Database(url).key_file == tmp_path / "env.key"
    assert Database(f"sqlite:///{tmp_path / 'u.db'}").key_file == tmp_path / "env.key"


def test_the_commands_key_file_comes_first_and_is_never_given_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--key-file PATH` (the `key_file` of Database): before $USERMAN_KEY_FILE and the file
    # beside the database; with ?key_file= in the URL as well, the same file or an error.
    monkeypatch.setenv("USERMAN_KEY_FILE", str(tmp_path / "env.key"))
    url = f"sqlite:///{tmp_path / 'u.db'}"
    assert Database(url, key_file=tmp_path / "k").key_file == tmp_path / "k"
    assert Database(f"{url}?key_file={tmp_path / 'k'}", key_file=tmp_path / "k").key_file == (
        tmp_path / "k"
    )
    with pytest.raises(DatabaseError, match="two key files given"):
        Database(f"{url}?key_file={tmp_path / 'k'}", key_file=tmp_path / "other")


@pytest.mark.postgres
def test_postgresql_seals_with_the_configured_key_file(postgres_url: str, tmp_path: Path) -> None:
    from conftest import _empty_postgres

    database = opened(f"{postgres_url}?key_file={tmp_path / 'pg.key'}")
    try:
        add_user(database, password="pg pw")
        assert stored(database)[0].startswith(PREFIX)
        assert mode(tmp_path / "pg.key") == 0o600
        with database.begin() as db:
            assert db.scalars(select(models.User.password)).one() == "pg pw"
    finally:
        database.dispose()
        _empty_postgres(postgres_url)
