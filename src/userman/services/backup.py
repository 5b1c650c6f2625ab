"""`database save name=` and `database load name=`: a subscriber's data in a backup file.

A backup (`NAME.umb`, JSON) holds every row of the actor's subscriber (the local superuser:
of every subscriber), sessions, logs, payments and history included, with the schema revision.
Loading replaces that subscriber's data with the file's, all in the command's transaction: the
rows get new ids (references are rewritten), so a backup loads into any database of the same
schema. An owner may save and load only its own subscriber's backup, and only when its
`backup-allowed` is yes (the manual: "Allow to manage backups"), and by a bare file name
that lands in its own folder (`<backup dir>/<public-id>/NAME.umb`); the local superuser's bare
names land in the backup folder itself, and it may give a path. A name has at most 100
characters (a path 1024), none of them a control or bidirectional control character.

A backup holds user passwords and shared secrets sealed, as the database stores them
(store/secrets.py): it loads where the key file holds their key, else the load is refused with
the key's id. The file is made with mode 0600, its folders 0700.

The superuser's `database save name=NAME format=sqlite` copies the whole SQLite database to
`NAME.sqlite` through SQLite's backup API, consistent while the server goes on writing; it is
restored by serving it (`userman serve --db sqlite:///NAME.sqlite`, or put in the database's
place while the server is stopped).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session

from userman.core.errors import (
    ConflictError,
    InvalidValueError,
    PermissionDeniedError,
    UnknownPropertyError,
)
from userman.services.actor import Actor
from userman.services.fields import check_characters
from userman.services.history import decode_value, encode_value
from userman.services.menus import Menu
from userman.services.request import Context, Outcome, Request
from userman.store import models
from userman.store.database import PRIVATE, SCHEMA_REVISION, private_dir
from userman.store.maintenance import copy_sqlite
from userman.store.secrets import stored_columns, unreadable

__all__ = ["load", "save"]

FORMAT = "userman-backup"
SUFFIX = ".umb"
COPY_SUFFIX = ".sqlite"  # format=sqlite: a copy of the whole SQLite database
FORMATS = ("umb", "sqlite")
# Every table that belongs to a subscriber, parents before children; not the CoA requests on
# their way to the routers nor the routers' counters, which are the servers' state, not data
# (the database drops them with their subscriber, router or session), nor the API tokens and
# web sessions, which are credentials: loading an old backup must not bring back a revoked token
# or a session that was logged out.
NOT_DATA = ("coa_request", "router_counter", "api_token", "web_session")
TABLES = [
    t
    for t in models.Base.metadata.sorted_tables
    if "subscriber_id" in t.c and t.name not in NOT_DATA
]


NAME_LIMIT = 100  # a bare name's characters: well within any file system's 255 bytes
PATH_LIMIT = 1024  # a superuser's path


def _check_name(name: str, limit: int) -> None:
    if len(name) > limit:
        raise InvalidValueError("name", f"is {len(name)} characters long (at most {limit})")
    check_characters(name, "name", bidi=False)


def _path(ctx: Context, request: Request, suffix: str = SUFFIX) -> Path:
    """The backup file `name=` names: in the subscriber's own folder below the backup folder.

    Only the local superuser, who runs the server, may name a file by its path.
    """
    known = ("name", "overwrite", "format") if request.verb == "save" else ("name", "overwrite")
    for name in request.args:
        if name not in known:
            raise UnknownPropertyError(name, f"database {request.verb}")
    name = request.args.get("name", "")
    if not name:
        raise InvalidValueError("name", "required: the backup file's name")
    bare = "/" not in name and "\\" not in name and not name.startswith(".")
    _check_name(name, NAME_LIMIT if bare else PATH_LIMIT)
    if not bare and not ctx.actor.is_superuser:
        raise PermissionDeniedError("the superuser", "to name a backup by its path")
    if not bare:
        path = Path(name)
    elif ctx.actor.is_superuser:
        path = ctx.backup_dir / name
    else:
        subscriber = ctx.db.get(models.Customer, ctx.actor.subscriber_id)
        assert subscriber is not None
        path = ctx.backup_dir / subscriber.public_id / name
    return path if path.suffix == suffix else path.with_name(path.name + suffix)


def _check(db: Session, actor: Actor) -> None:
    if actor.is_superuser:
        return
    if actor.permissions != "owner":
        raise PermissionDeniedError("owner permissions", "for database backups")
    customer = db.get(models.Customer, actor.customer_id)
    if customer is None or not customer.backup_allowed:
        raise PermissionDeniedError("backup-allowed", f"{actor.login} may not manage backups")


def _rows(db: Session, table: Table, subscriber_id: int | None) -> list[dict[str, Any]]:
    stmt = select(*stored_columns(table)).order_by(table.c.id)
    if subscriber_id is not None:
        stmt = stmt.where(table.c.subscriber_id == subscriber_id)
    return [dict(row._mapping) for row in db.execute(stmt)]


def _write(path: Path, write: Callable[[Path], None]) -> None:
    """Make `path` with `write(temporary)`, readable by the server's user only (mode 0600:
    a backup holds every password), whole or not at all."""
    temporary = path.with_name(path.name + ".part")
    try:
        private_dir(path.parent)  # 0700
        temporary.unlink(missing_ok=True)
        try:
            write(temporary)
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as error:  # a name the file system refuses, a full disk
        raise InvalidValueError("name", f"cannot write {path}: {error.strerror}") from None


def _write_text(text: str) -> Callable[[Path], None]:
    def write(temporary: Path) -> None:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            os.fchmod(out.fileno(), PRIVATE)  # os.open's mode passes through the umask
            out.write(text)

    return write


def _save_copy(ctx: Context, request: Request) -> Outcome:
    """`format=sqlite`: the whole SQLite database, copied page by page through SQLite's backup
    API while the server goes on writing (consistent as of one moment)."""
    if not ctx.actor.is_superuser:
        raise PermissionDeniedError("the superuser", "to copy the whole database")
    if ctx.db.get_bind().dialect.name != "sqlite":
        raise InvalidValueError("format", "sqlite copies an SQLite database only (use pg_dump)")
    path = _path(ctx, request, COPY_SUFFIX)
    if path.exists() and request.args.get("overwrite", "no") != "yes":
        raise InvalidValueError("name", f"{path} exists (overwrite=yes replaces it)")
    _write(path, lambda temporary: copy_sqlite(ctx.db, temporary))
    return Outcome(None, message=f"copied the database to {path}")


def save(ctx: Context, menu: Menu, request: Request) -> Outcome:
    _check(ctx.db, ctx.actor)
    kind = request.args.get("format", "umb")
    if kind not in FORMATS:
        raise InvalidValueError("format", f"one of {', '.join(FORMATS)}")
    if kind == "sqlite":
        return _save_copy(ctx, request)
    path = _path(ctx, request)
    try:
        exists = path.exists()
    except OSError as error:  # a name too long for the file system, say
        raise InvalidValueError("name", f"cannot use {path}: {error.strerror}") from None
    if exists and request.args.get("overwrite", "no") != "yes":
        raise InvalidValueError("name", f"{path} exists (overwrite=yes replaces it)")
    tables = {
        t.name: [{k: encode_value(v) for k, v in row.items()} for row in _rows(ctx.db, t, sid)]
        for t in TABLES
        for sid in [ctx.actor.subscriber_id]
    }
    scope = "all" if ctx.actor.is_superuser else "subscriber"
    document = {"format": FORMAT, "schema": SCHEMA_REVISION, "scope": scope, "tables": tables}
    _write(path, _write_text(json.dumps(document)))
    count = sum(len(rows) for rows in tables.values())
    return Outcome(None, count=count, message=f"saved {count} rows to {path}")


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise InvalidValueError("name", f"cannot read {path}: {error}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidValueError("name", f"{path} is not a userman backup")
    if document.get("schema") != SCHEMA_REVISION:
        raise InvalidValueError(
            "name", f"{path} has schema {document.get('schema')}, this database {SCHEMA_REVISION}"
        )
    return document


def _clear(db: Session, subscriber_ids: set[int]) -> None:
    """Remove the subscribers' rows, children first (customers last, without their self-links)."""
    customer = models.Base.metadata.tables["customer"]
    for table in reversed(TABLES):
        if table is customer:
            db.execute(
                update(customer)
                .where(customer.c.subscriber_id.in_(subscriber_ids))
                .values(parent_id=None, subscriber_id=None)
            )
            db.execute(delete(customer).where(customer.c.id.in_(subscriber_ids)))
            db.execute(delete(customer).where(customer.c.subscriber_id.is_(None)))
        else:
            db.execute(delete(table).where(table.c.subscriber_id.in_(subscriber_ids)))


def _insert(db: Session, tables: dict[str, list[dict[str, Any]]]) -> int:
    """Insert the file's rows with new ids, rewriting every reference through `new_ids`."""
    new_ids: dict[str, dict[int, int]] = {}
    deferred: list[tuple[Table, int, str, str, int]] = []
    count = 0
    for table in TABLES:
        mapping = new_ids.setdefault(table.name, {})
        for row in tables.get(table.name, []):
            values = {k: decode_value(v) for k, v in row.items() if k in table.c and k != "id"}
            for column in table.c:
                for fk in column.foreign_keys:
                    target = fk.column.table.name
                    old = row.get(column.name)
                    if not isinstance(old, int):
                        continue
                    if target == table.name and old not in mapping:
                        deferred.append((table, row["id"], column.name, target, old))
                        values[column.name] = None
                    else:
                        values[column.name] = new_ids.get(target, {}).get(old)
            result = db.execute(insert(table).values(values).returning(table.c.id))
            mapping[row["id"]] = result.scalar_one()
            count += 1
    for table, old_row, name, target, old in deferred:
        db.execute(
            update(table)
            .where(table.c.id == new_ids[table.name][old_row])
            .values({name: new_ids[target][old]})
        )
    return count


def _check_logins(db: Session, tables: dict[str, list[dict[str, Any]]]) -> None:
    """A login is unique across the installation (services/verbs.py): a customer in the file
    whose login another subscriber's customer has taken since is refused, without saying whose.
    Called once the replaced subscribers' rows are gone."""
    logins = [str(row.get("login")) for row in tables.get("customer", [])]
    taken = db.scalar(
        select(models.Customer.login).where(models.Customer.login.in_(logins)).limit(1)
    )
    if taken is not None:
        raise ConflictError(
            "login", f'"{taken}" is taken: no two items may share it; the backup was not loaded'
        )


def load(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """Replace the data the backup holds: every subscriber for a superuser's full backup, else
    the subscriber with the backup's public-id. History from before cannot be undone after."""
    _check(ctx.db, ctx.actor)
    path = _path(ctx, request)
    document = _read(path)
    tables: dict[str, list[dict[str, Any]]] = document["tables"]
    roots = [r for r in tables.get("customer", []) if r["id"] == r["subscriber_id"]]
    customer = models.Customer
    if document.get("scope") == "all":
        if not ctx.actor.is_superuser:
            raise PermissionDeniedError("the superuser", "to load a backup of every subscriber")
        replaced = set(
            ctx.db.scalars(select(customer.id).where(customer.id == customer.subscriber_id))
        )
    else:
        public_ids = {str(r["public_id"]) for r in roots}
        if ctx.actor.subscriber_id is not None:
            own = ctx.db.get(customer, ctx.actor.subscriber_id)
            if own is None or public_ids != {own.public_id}:
                raise PermissionDeniedError("the superuser", "the backup is another subscriber's")
        replaced = set(
            ctx.db.scalars(select(customer.id).where(customer.public_id.in_(public_ids)))
        )
    dialect = ctx.db.get_bind().dialect
    for table in TABLES:
        for row in tables.get(table.name, []):
            for why in unreadable(dialect, table, row):
                raise InvalidValueError("name", f"cannot load {path}: {why}")
    _clear(ctx.db, replaced)
    _check_logins(ctx.db, tables)
    count = _insert(ctx.db, tables)
    # The entries' sub-changes name rows by their old ids: they can no longer be undone.
    history = models.Base.metadata.tables["history"]
    ctx.db.execute(update(history).where(history.c.state != "discarded").values(state="discarded"))
    return Outcome(None, count=count, message=f"loaded {count} rows from {path}")
