"""The schema and the engines: Alembic builds the same schema as the models on both back ends."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from importlib.resources import files
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, column, event, inspect, select, table, text
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError

from userman.core.errors import DatabaseError
from userman.core.profiles import ProfileState
from userman.store import database as database_module
from userman.store import models
from userman.store.database import SCHEMA_REVISION, Database

# The default customer as revision 0001 stores it (the models have more columns since).
ADMIN_OF_0001 = (
    "INSERT INTO customer (id, subscriber_id, parent_id, login, password_hash,"
    " permissions, access, backup_allowed, disabled, currency, time_zone, date_format,"
    " email, company, city, country, public_id, public_host, user_prefix,"
    " signup_allowed, paypal_allowed, paypal_business_id, paypal_secure_response,"
    " paypal_accept_pending, comment) VALUES (1, 1, 1, 'admin', '', 'owner', '', true,"
    " false, 'USD', '', '', '', '', '', '', 'p', '', '', false, false, '', false, false, '')"
)


def at_revision(db_url: str, revision: str) -> Database:
    """A new database with the schema of an older revision, to upgrade from."""
    from alembic import command

    database = Database(db_url)
    config = Config()
    config.set_main_option("script_location", str(files("userman.store") / "migrations"))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return database


def test_schema_revision_is_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(files("userman.store") / "migrations"))
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_REVISION]


def test_migration_creates_every_table_of_the_models(db_url: str) -> None:
    database = Database(db_url)
    assert database.revision() is None
    database.migrate()
    assert database.revision() == SCHEMA_REVISION
    tables = set(inspect(database.engine).get_table_names())
    assert set(models.Base.metadata.tables) <= tables
    database.migrate()  # a second start changes nothing
    database.dispose()


def test_times_come_back_aware_and_utc(db_url: str) -> None:
    database = Database(db_url)
    database.migrate()
    moment = dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with database.begin() as db:
        customer = models.Customer(login="c", public_id="p1")
        db.add(customer)
        db.flush()
        db.add(
            models.LogEntry(
                subscriber_id=customer.id, customer_id=customer.id, status="s", time=moment
            )
        )
    with database.begin() as db:
        stored = db.scalar(select(models.LogEntry.time))
    assert stored == moment
    assert stored is not None
    assert stored.tzinfo == dt.UTC
    database.dispose()


def test_a_profile_state_is_a_member_of_profile_state_stored_as_its_text(db_url: str) -> None:
    """user_profile.state holds 'waiting', 'running' or 'used' as it always did (no schema
    change); the ORM and Core statements give ProfileState members and refuse other text."""
    database = Database(db_url)
    database.migrate()
    moment = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
    with database.begin() as db:
        customer = models.Customer(login="c", public_id="p1")
        db.add(customer)
        db.flush()
        user = models.User(subscriber_id=customer.id, customer_id=customer.id, username="u")
        profile = models.Profile(subscriber_id=customer.id, owner_id=customer.id, name="p")
        db.add_all([user, profile])
        db.flush()
        entry = {"subscriber_id": customer.id, "user_id": user.id, "profile_id": profile.id}
        db.add(models.UserProfile(**entry, state=ProfileState.RUNNING, assigned_at=moment))
    with database.begin() as db:
        assert db.scalar(select(models.UserProfile.state)) is ProfileState.RUNNING
        stored = db.scalar(select(column("state")).select_from(table("user_profile")))
        assert stored == "running"
        wrong = models.UserProfile(**entry, state="runing", assigned_at=moment)
        db.add(wrong)
        with pytest.raises(StatementError, match="runing"):
            db.flush()
        db.rollback()
    database.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    database = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    with database.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"
    database.dispose()


@pytest.mark.parametrize(
    ("query", "level"),
    [("", 2), ("?synchronous=normal", 1), ("?synchronous=FULL", 2), ("?synchronous=extra", 3)],
)
def test_sqlite_syncs_each_commit_unless_the_url_says_otherwise(
    tmp_path: Path, query: str, level: int
) -> None:
    # FULL (2) by default: in WAL mode a commit, and so an acknowledged accounting record,
    # survives a power cut; ?synchronous=normal (1) only a crash of the process.
    database = Database(f"sqlite:///{tmp_path / 'sync.db'}{query}")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == level
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert Path(database.engine.url.database or "") == tmp_path / "sync.db"
    database.dispose()


def test_an_unknown_synchronous_level_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    known = r"synchronous='sometimes' \(use off, normal, full, extra\)"
    with pytest.raises(DatabaseError, match=known):
        Database(f"sqlite:///{tmp_path / 'sync.db'}?synchronous=sometimes")
    with pytest.raises(DatabaseError, match="is an SQLite setting"):
        Database("postgresql://userman@127.0.0.1/userman?synchronous=full")
    assert not (tmp_path / "sync.db").exists()


def test_the_migrations_build_exactly_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    database = Database(db_url)
    database.migrate()
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), models.Base.metadata)
    assert differences == []
    database.dispose()


def test_an_upgrade_keeps_the_rows_of_the_previous_revision(db_url: str) -> None:
    database = at_revision(db_url, "0001")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(ADMIN_OF_0001)
        connection.exec_driver_sql(
            "INSERT INTO profile (id, subscriber_id, owner_id, name, name_for_users, validity,"
            " starts_at, price, override_shared_users, comment)"
            " VALUES (1, 1, 1, 'p1', '', 0, 'logon', 0, 'off', '')"
        )
    database.migrate()
    with database.begin() as db:
        profile = db.get(models.Profile, 1)
        assert profile is not None
        assert profile.attributes == ""
    database.dispose()


def test_routers_from_before_0004_keep_answering_without_message_authenticator(
    db_url: str,
) -> None:
    # BlastRADIUS (CVE-2024-3596): routers added from 0004 on require a Message-Authenticator;
    # those already there get False, so an upgrade stops no router that worked.
    database = at_revision(db_url, "0003")
    customer_id = 1
    with database.engine.begin() as connection:
        connection.exec_driver_sql(ADMIN_OF_0001)
        connection.exec_driver_sql(
            "INSERT INTO router (subscriber_id, customer_id, name, ip_address, shared_secret,"
            f" log, use_coa, coa_port, disabled, comment) VALUES ({customer_id},"
            f" {customer_id}, 'old', '10.0.0.1', 's', 'auth-fail', false, 1700, false, '')"
        )
    database.migrate()
    with database.begin() as db:
        db.add(
            models.Router(
                subscriber_id=customer_id,
                customer_id=customer_id,
                name="new",
                ip_address="10.0.0.2",
            )
        )
    with database.begin() as db:
        routers = {
            r.name: r.require_message_authenticator for r in db.scalars(select(models.Router))
        }
    # Schema 0012 made the property yes/no/auto: `no` stays, a router added now is `auto`.
    assert routers == {"old": "no", "new": "auto"}
    database.dispose()


def test_0013_gives_every_user_ipv6_dns_and_keeps_its_profiles(db_url: str) -> None:
    """Legacy User Manager's user property ipv6-dns arrives as `::` (none) for the users already
    there; their profile queue stays (a copy of the table would cascade-delete it on SQLite)."""
    database = at_revision(db_url, "0011")
    with database.engine.begin() as connection:
        insert_as_of(
            connection,
            models.Customer,
            id=1,
            subscriber_id=1,
            parent_id=1,
            login="a",
            public_id="p",
        )
        insert_as_of(connection, models.Profile, id=1, subscriber_id=1, owner_id=1, name="p")
        insert_as_of(connection, models.User, id=1, subscriber_id=1, customer_id=1, username="u")
        insert_as_of(
            connection,
            models.UserProfile,
            subscriber_id=1,
            user_id=1,
            profile_id=1,
            assigned_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )
    database.migrate()
    with database.begin() as db:
        [user] = db.scalars(select(models.User)).all()
        assert user.ipv6_dns == "::"
        assert len(db.scalars(select(models.UserProfile)).all()) == 1
    database.dispose()


def insert_as_of(connection: Connection, model: type[models.Base], **values: object) -> None:
    """A row as the model makes it, in the columns its table has at the current revision (a
    later revision's columns do not exist yet)."""
    name = model.__tablename__
    present = {c["name"] for c in inspect(connection).get_columns(name)}
    row = {
        c.name: c.default.arg  # type: ignore[attr-defined]
        for c in model.__table__.columns
        if c.name in present and c.default is not None
    }
    row.update(values)
    columns = model.__table__.columns
    stmt = table(name, *(column(key, columns[key].type) for key in row)).insert()
    connection.execute(stmt.values(row))


def test_0010_leaves_old_routers_to_the_subscriber_and_counts_running_profiles(
    db_url: str,
) -> None:
    # Routers that said `reject`, the old default, now say `default` (the subscriber's choice,
    # reject until changed); a running user-profile entry starts with what the access decision
    # summed before: the user's sessions that ended after it started, or are open.
    database = at_revision(db_url, "0009")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with database.engine.begin() as connection:
        connection.exec_driver_sql(ADMIN_OF_0001)
        for name, choice in (("r1", "reject"), ("r2", "disconnect-oldest")):
            connection.exec_driver_sql(
                "INSERT INTO router (subscriber_id, customer_id, name, ip_address, shared_secret,"
                " log, use_coa, coa_port, require_message_authenticator, on_shared_users_limit,"
                f" disabled, comment) VALUES (1, 1, '{name}', '{name}', 's', '', false, 1700,"
                f" true, '{choice}', false, '')"
            )
        connection.exec_driver_sql(
            "INSERT INTO profile (id, subscriber_id, owner_id, name, name_for_users, validity,"
            " starts_at, price, override_shared_users, attributes, comment)"
            " VALUES (1, 1, 1, 'p1', '', 0, 'logon', 0, 'off', '', '')"
        )
        insert_as_of(connection, models.User, id=1, subscriber_id=1, customer_id=1, username="u")
        connection.exec_driver_sql(
            "INSERT INTO user_profile (subscriber_id, user_id, profile_id, state, assigned_at,"
            " start_time) VALUES (1, 1, 1, 'running', '2026-01-01 00:00:00',"
            " '2026-01-01 00:00:00')"
        )
        sessions = models.UserSession.__table__
        for ended, active, used in (
            (start - dt.timedelta(hours=1), False, 1000),  # before the profile: not its usage
            (start + dt.timedelta(hours=1), False, 20),
            (start - dt.timedelta(hours=1), True, 3),  # open: counts whole
        ):
            connection.execute(
                sessions.insert().values(
                    subscriber_id=1,
                    customer_id=1,
                    user_id=1,
                    username="u",
                    acct_session_id=str(used),
                    from_time=ended - dt.timedelta(minutes=5),
                    till_time=ended,
                    uptime=used,
                    download=used * 2,
                    upload=used * 3,
                    active=active,
                )
            )
    database.migrate()
    with database.begin() as db:
        routers = {r.name: r.on_shared_users_limit for r in db.scalars(select(models.Router))}
        [entry] = db.scalars(select(models.UserProfile)).all()
        counted = (entry.uptime_used, entry.download_used, entry.upload_used)
        [admin] = db.scalars(select(models.Customer)).all()
        admin_choice = admin.on_shared_users_limit
    assert routers == {"r1": "default", "r2": "disconnect-oldest"}
    assert counted == (23, 46, 69)
    assert admin_choice == ""
    database.dispose()


def _upgrade(database: Database, revision: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("userman.store") / "migrations"))
    from alembic import command

    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return config


def test_0012_keeps_each_routers_choice_and_every_row_that_names_a_router(db_url: str) -> None:
    # require-message-authenticator became yes/no/auto: a router that required it (true) says
    # `yes`, one that did not says `no`; only a router added afterwards is `auto`. The column
    # changes in place, so the counters, sessions and log rows of the routers stay theirs.
    database = Database(db_url)
    _upgrade(database, "0011")
    with database.engine.begin() as connection:
        connection.exec_driver_sql(ADMIN_OF_0001)
        for number, required in ((1, "true"), (2, "false")):
            connection.exec_driver_sql(
                "INSERT INTO router (subscriber_id, customer_id, name, ip_address,"
                " shared_secret, log, use_coa, coa_port, require_message_authenticator,"
                " on_shared_users_limit, disabled, comment) VALUES"
                f" (1, 1, 'r{number}', '10.0.0.{number}', 's', '', false, 1700, {required},"
                " 'default', false, '')"
            )
        connection.exec_driver_sql(
            "INSERT INTO router_counter (subscriber_id, router_id, name, value)"
            " SELECT 1, id, 'accepts', 5 FROM router WHERE name = 'r1'"
        )
        connection.exec_driver_sql(
            "INSERT INTO log (subscriber_id, customer_id, router_id, user_orig, nas_port_type,"
            " nas_port_id, calling_station_id, acct_session_id, user_ip, host_ip, status, time,"
            " description) SELECT 1, 1, id, 'u', '', '', '', '', '', '', 'authorization-ok',"
            " '2026-01-01 00:00:00', '' FROM router WHERE name = 'r2'"
        )
    database.migrate()
    with database.begin() as db:
        db.add(models.Router(subscriber_id=1, customer_id=1, name="r3", ip_address="10.0.0.3"))
    with database.begin() as db:
        routers = {
            r.name: (r.require_message_authenticator, r.message_authenticator_seen)
            for r in db.scalars(select(models.Router))
        }
        names = {r.id: r.name for r in db.scalars(select(models.Router))}
        counters = [(names[c.router_id], c.value) for c in db.scalars(select(models.RouterCounter))]
        logged = [names[e.router_id or 0] for e in db.scalars(select(models.LogEntry))]
    assert routers == {"r1": ("yes", None), "r2": ("no", None), "r3": ("auto", None)}
    assert counters == [("r1", 5)]
    assert logged == ["r2"]
    database.dispose()


def test_0012_goes_back_without_stopping_a_router_that_answered(db_url: str) -> None:
    # Downgraded, an `auto` router that has signed requires it (true); one that never signed
    # was answered unsigned, so it gets false.
    from alembic import command

    database = Database(db_url)
    database.migrate()
    seen = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with database.begin() as db:
        admin = models.Customer(login="admin", permissions="owner", public_id="p")
        db.add(admin)
        db.flush()
        admin.subscriber_id = admin.parent_id = admin.id
        for name, required, when in (
            ("yes", "yes", None),
            ("no", "no", None),
            ("auto", "auto", None),
            ("signed", "auto", seen),
        ):
            db.add(
                models.Router(
                    subscriber_id=admin.id,
                    customer_id=admin.id,
                    name=name,
                    ip_address=f"10.0.1.{len(name)}{int(when is not None)}",
                    require_message_authenticator=required,
                    message_authenticator_seen=when,
                )
            )
    config = _upgrade(database, "head")
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0011")
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT name, require_message_authenticator FROM router"
        ).all()
    assert {name: bool(required) for name, required in rows} == {
        "yes": True,
        "no": False,
        "auto": False,
        "signed": True,
    }
    database.dispose()


def test_0019_stops_without_a_change_while_two_customers_share_a_login(db_url: str) -> None:
    # Logins became unique across the installation: where two subscribers each have a `bob`,
    # the upgrade (here from 0014, through 0015 to 0018) names them and leaves the database as
    # it was; once one is renamed, it goes through.
    database = at_revision(db_url, "0014")
    with database.engine.begin() as connection:
        for row_id, subscriber_id, login in ((1, 1, "admin"), (2, 2, "acme"), (3, 1, "bob")):
            insert_as_of(
                connection,
                models.Customer,
                id=row_id,
                subscriber_id=subscriber_id,
                parent_id=subscriber_id,
                login=login,
                public_id=f"p{row_id}",
            )
        insert_as_of(
            connection,
            models.Customer,
            id=4,
            subscriber_id=2,
            parent_id=2,
            login="bob",
            public_id="p4",
        )
    with pytest.raises(DatabaseError) as stopped:
        database.migrate()
    message = str(stopped.value)
    assert '"bob": customers id 3 (subscriber admin), id 4 (subscriber acme)' in message
    assert "WHERE id = 4" in message
    assert "nothing was changed" in message
    assert database.revision() == "0014"
    assert "web_session" not in inspect(database.engine).get_table_names()
    with database.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE customer SET login = 'bob2' WHERE id = 4")
    database.migrate()
    assert database.revision() == SCHEMA_REVISION
    with database.engine.begin() as connection, pytest.raises(IntegrityError):
        connection.exec_driver_sql("UPDATE customer SET login = 'bob' WHERE id = 4")
    database.dispose()


def test_0016_seals_the_clear_passwords_and_secrets_of_before(tmp_path: Path) -> None:
    from userman.store.secrets import attach

    database = at_revision(f"sqlite:///{tmp_path / 'old.db'}", "0015")
    attach(database.engine, None)  # written as revision 0015 wrote them: clear
    with database.begin() as db:
        customer = models.Customer(login="admin", public_id="p")
        db.add(customer)
        db.flush()
        customer.subscriber_id = customer.id
        ids = {"subscriber_id": customer.id, "customer_id": customer.id}
        # In the columns of 0015 (a later revision's do not exist yet).
        db.flush()
        insert_as_of(db.connection(), models.User, **ids, username="u", password="old password")
        db.add(models.Router(**ids, name="r", ip_address="10.0.0.1", shared_secret="old secret"))
        kept = [{"table": "user", "id": 1, "before": {"password": "older"}, "after": None}]
        db.add(
            models.HistoryEntry(
                actor="admin",
                action="user set",
                changes=json.dumps(kept),
                time=dt.datetime.now(dt.UTC),
            )
        )
    attach(database.engine, database.keyring)
    database.migrate()
    with database.engine.connect() as connection:
        raw = connection.exec_driver_sql("SELECT password FROM user").scalar()
        secret = connection.exec_driver_sql("SELECT shared_secret FROM router").scalar()
    assert raw.startswith("enc1:")
    assert secret.startswith("enc1:")
    with database.begin() as db:
        assert db.scalars(select(models.User.password)).one() == "old password"
        assert db.scalars(select(models.Router.shared_secret)).one() == "old secret"
        [entry] = json.loads(db.scalars(select(models.HistoryEntry.changes)).one())
        assert entry["before"]["password"].startswith("enc1:")
        assert database.keyring is not None
        assert database.keyring.open(entry["before"]["password"], "user.password") == "older"
    with database.engine.begin() as connection:  # SQL typed by hand: clear, and read so
        connection.exec_driver_sql("UPDATE user SET password = 'typed'")
    with database.begin() as db:
        assert db.scalars(select(models.User.password)).one() == "typed"
    database.dispose()


def test_0022_gives_users_no_otp_secret_and_notes_a_used_code_as_a_policy_change(
    db_url: str,
) -> None:
    """The users already there have no otp-secret and no code used; a code being used (the
    step stored, services/access.py) is noted for the policy in memory of every process, as a
    change of the password is; down again, the trigger watches what 0014 made it watch."""
    from alembic import command

    database = at_revision(db_url, "0021")
    with database.engine.begin() as connection:
        insert_as_of(
            connection,
            models.Customer,
            id=1,
            subscriber_id=1,
            parent_id=1,
            login="a",
            public_id="p",
        )
        insert_as_of(connection, models.User, id=1, subscriber_id=1, customer_id=1, username="u")
    config = _upgrade(database, "head")

    def notes() -> int:
        with database.engine.connect() as connection:
            return int(
                connection.exec_driver_sql(
                    "SELECT count(*) FROM policy_change WHERE table_name = 'user'"
                ).scalar_one()
            )

    with database.begin() as db:
        user = db.get(models.User, 1)
        assert user is not None
        assert (user.otp_secret, user.otp_step) == ("", None)
    before = notes()
    with database.engine.begin() as connection:
        connection.exec_driver_sql('UPDATE "user" SET otp_step = 5 WHERE id = 1')
    assert notes() == before + 1
    with database.engine.begin() as connection:
        connection.exec_driver_sql('UPDATE "user" SET uptime_used = 7 WHERE id = 1')
    assert notes() == before + 1  # not what a decision reads: no note
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0021")
    with database.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE \"user\" SET password = 'x' WHERE id = 1")
    assert notes() == before + 2
    database.dispose()


def test_0023_gives_every_group_every_method_inside_a_tunnel(db_url: str) -> None:
    """inner-auths was kept, not enforced, in the outer methods' names: every group gets the
    methods inside a tunnel, as a new group does; down again, the old empty default."""
    from alembic import command

    database = at_revision(db_url, "0022")
    with database.engine.begin() as connection:
        insert_as_of(
            connection,
            models.Customer,
            id=1,
            subscriber_id=1,
            parent_id=1,
            login="a",
            public_id="p",
        )
        for group_id, inner in ((1, ""), (2, "eap-mschap2")):
            insert_as_of(
                connection,
                models.UserGroup,
                id=group_id,
                owner_id=1,
                subscriber_id=1,
                name=f"g{group_id}",
                outer_auths="pap",
                inner_auths=inner,
                attributes="",
                comment="",
            )
    config = _upgrade(database, "head")
    every = "ttls-pap,ttls-chap,ttls-mschap1,ttls-mschap2,ttls-eap,peap-mschap2"
    with database.begin() as db:
        assert list(db.scalars(select(models.UserGroup.inner_auths))) == [every, every]
        added = models.UserGroup(id=3, owner_id=1, subscriber_id=1, name="g3", attributes="")
        db.add(added)
        db.flush()
        assert added.inner_auths == every
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0022")
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT DISTINCT inner_auths FROM user_group").all()
    assert rows == [("",)]
    database.dispose()


def watched_connections(database: Database) -> list[str]:
    """What the pool of `database` does from now on: "open" and "close" per DB-API connection."""
    seen: list[str] = []
    event.listen(database.engine.pool, "connect", lambda *_: seen.append("open"))
    event.listen(database.engine.pool, "close", lambda *_: seen.append("close"))
    return seen


def test_a_read_only_error_closes_every_connection_before_the_next_opens(tmp_path: Path) -> None:
    """SQLite shares one WAL index among a process's connections to a file, opened read-only
    when the first was (docs/security.md, "A database file the server cannot write"): after
    SQLITE_READONLY the pool closes them all before it opens another. `PRAGMA query_only` makes
    the same error without taking the file's write permission (which root keeps)."""
    database = Database(f"sqlite:///{tmp_path / 'ro.db'}")
    database.migrate()
    opened = [database.engine.connect() for _ in range(3)]
    for connection in opened:
        connection.close()  # three in the pool: one stays idle, one is busy, one fails
    busy = database.engine.connect()  # in use by another thread when the error comes
    seen = watched_connections(database)
    with database.engine.connect() as failing:
        failing.exec_driver_sql("PRAGMA query_only=ON")
        with pytest.raises(OperationalError, match="readonly"):
            failing.exec_driver_sql("DELETE FROM alembic_version")
    assert seen.count("close") == 2  # the failing one and the idle one; `busy` is in use
    waiting: list[int] = []

    def read() -> None:
        with database.engine.connect() as connection:
            waiting.append(connection.exec_driver_sql("SELECT 1").scalar_one())

    thread = threading.Thread(target=read)
    thread.start()
    thread.join(0.3)
    assert thread.is_alive()  # waits until `busy` has closed
    assert "open" not in seen
    busy.close()
    thread.join(5)
    assert waiting == [1]
    assert seen == ["close", "close", "close", "open"]
    with database.begin() as db:  # writes again: the new connection is not query-only
        db.execute(text("UPDATE alembic_version SET version_num = version_num"))
    database.dispose()


def test_a_connection_held_through_the_reopening_delays_the_next_only_for_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection that stays in use after SQLITE_READONLY (its own thread may be the one that
    asks for another) cannot hold the other checkouts for ever: past REOPEN_WAIT (made short
    here) one is served, and the pool still closes every connection once all are back."""
    monkeypatch.setattr(database_module, "REOPEN_WAIT", 0.2)
    database = Database(f"sqlite:///{tmp_path / 'held.db'}")
    database.migrate()
    busy = database.engine.connect()  # checked out, and kept so
    failing = database.engine.connect()
    seen = watched_connections(database)
    with failing:
        failing.exec_driver_sql("PRAGMA query_only=ON")
        with pytest.raises(OperationalError, match="readonly"):
            failing.exec_driver_sql("DELETE FROM alembic_version")
    assert seen == ["close"]
    read: list[int] = []

    def another() -> None:
        with database.engine.connect() as connection:
            read.append(connection.exec_driver_sql("SELECT 1").scalar_one())

    thread = threading.Thread(target=another, daemon=True)
    try:
        thread.start()
        thread.join(5)  # far past the bound: a wait without one, or the 10 s one, fails here
        assert not thread.is_alive(), "a checkout waited for a connection that never came back"
        assert read == [1]
        assert seen == ["close", "open", "close"]  # opened past the bound, closed on its return
    finally:
        busy.close()  # and, were the thread still waiting, it ends
        thread.join(10)
    assert seen == ["close", "open", "close", "close"]  # every connection closed: reopened
    with database.begin() as db:  # and the next one writes
        db.execute(text("UPDATE alembic_version SET version_num = version_num"))
    assert seen[-1] == "open"
    database.dispose()


def test_a_read_only_error_gives_the_wal_and_shm_the_database_files_mode(tmp_path: Path) -> None:
    """SQLite makes the -wal and -shm with the database file's mode of the time: made while it
    was read-only, they would stay so after it is writable again."""
    path = tmp_path / "modes.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    sides = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
    # `keeper` stays open, so that SQLite does not remove the -wal when the failing one closes.
    with database.engine.connect() as keeper, database.engine.connect() as connection:
        keeper.exec_driver_sql("SELECT 1")
        for side in sides:
            side.chmod(0o400)
        connection.exec_driver_sql("PRAGMA query_only=ON")
        with pytest.raises(OperationalError, match="readonly"):
            connection.exec_driver_sql("DELETE FROM alembic_version")
        assert [side.stat().st_mode & 0o777 for side in sides] == [0o600, 0o600]
    database.dispose()


def open_descriptors(path: Path) -> int:
    """How many of this process's file descriptors are open on `path`."""
    folder = Path("/proc/self/fd")
    found = 0
    for fd in folder.iterdir():
        with contextlib.suppress(OSError):
            found += os.path.realpath(fd) == str(path)
    return found


def test_a_connection_closed_after_a_read_only_error_lets_go_of_the_file(tmp_path: Path) -> None:
    """The statement that failed with SQLITE_READONLY keeps its cursor in the error's traceback
    (a log record, a future may hold it): SQLAlchemy, taking the error as a lost connection,
    does not close that cursor, and sqlite3_close_v2 leaves a connection with a live statement
    open. Such a connection kept the WAL index read-only for every later one: the server never
    wrote again (seen in about one start in eight on a file made writable after the start)."""
    path = tmp_path / "zombie.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    kept: list[BaseException] = []
    with database.engine.connect() as failing:
        failing.exec_driver_sql("PRAGMA query_only=ON")
        with pytest.raises(OperationalError, match="readonly") as error:
            failing.exec_driver_sql("DELETE FROM alembic_version")
        kept.append(error.value)  # the traceback, and with it the failed statement's cursor
    assert kept
    assert open_descriptors(path) == 0  # every connection closed for real: none in the pool
    database.dispose()
