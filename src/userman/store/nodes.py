"""The registry of the `userman serve` processes on one database (table server_node): how a
process knows whether it is alone, which decides where its shared-users claims go
(services/nodes.py). Times are the database's clock on PostgreSQL (nodes on several hosts
agree on it), this host's on SQLite (whose processes share the host).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from userman.store import models

__all__ = [
    "NODE_LOCK",
    "PEER_SECONDS",
    "Peer",
    "Unregistered",
    "acknowledge",
    "clock",
    "forget",
    "forget_stale",
    "hold",
    "leave",
    "on_host",
    "peers",
    "register",
    "renew",
]

PEER_SECONDS = 5  # a row seen within this long is a live peer; older, it is forgotten
NODE_LOCK = 0x75730003  # advisory locks' first key: a node's claims under way (store/claims.py)

_NODE = models.Base.metadata.tables["server_node"]


class Unregistered(Exception):
    """This process's row is gone: a peer found it not seen for PEER_SECONDS."""


@dataclass(frozen=True, slots=True)
class Peer:
    id: int
    host: str
    pid: int
    acknowledged: int  # the highest peer id it has switched its claims for


def clock(db: Session) -> dt.datetime:
    """Now, by the database's clock on PostgreSQL."""
    if _postgres(db):
        found = db.scalar(text("SELECT clock_timestamp()"))
        assert isinstance(found, dt.datetime)
        return found.astimezone(dt.UTC)
    return dt.datetime.now(dt.UTC)


def register(db: Session, host: str, pid: int) -> int:
    """A new row for this process; its id (higher than every row's before it)."""
    now = clock(db)
    row = {"host": host, "pid": pid, "started": now, "seen": now, "acknowledged": 0}
    key = db.execute(insert(_NODE).values(**row)).inserted_primary_key  # type: ignore[attr-defined]
    assert key is not None
    return int(key[0])


def renew(db: Session, node_id: int) -> bool:
    """Seen now; False when the row is gone (Unregistered's case)."""
    result = db.execute(update(_NODE).where(_NODE.c.id == node_id).values(seen=clock(db)))
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def _postgres(db: Session) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def hold(db: Session, node_id: int) -> None:
    """Keep the row until the transaction ends (on PostgreSQL a shared advisory lock on the
    node, which a peer's `forget_stale` waits for; SQLite's one writer orders them);
    Unregistered when it is gone. No row lock: many claims at once share it for nothing."""
    if _postgres(db):
        db.execute(
            text("SELECT pg_advisory_xact_lock_shared(:space, :key)"),
            {"space": NODE_LOCK, "key": node_id},
        )
    if db.scalar(select(_NODE.c.id).where(_NODE.c.id == node_id)) is None:
        raise Unregistered(f"server node {node_id} is no longer registered")


def on_host(db: Session, host: str) -> list[Peer]:
    """The rows of processes on `host`."""
    rows = db.execute(
        select(_NODE.c.id, _NODE.c.host, _NODE.c.pid, _NODE.c.acknowledged).where(
            _NODE.c.host == host
        )
    )
    return [Peer(*row) for row in rows]


def forget(db: Session, node_ids: list[int]) -> None:
    if node_ids:
        db.execute(delete(_NODE).where(_NODE.c.id.in_(node_ids)))


def forget_stale(db: Session, now: dt.datetime) -> int:
    """Delete the rows not seen within PEER_SECONDS (a process killed, or stalled: when it
    comes back it registers anew), each once its claims under way have ended (`hold`); how
    many."""
    since = now - dt.timedelta(seconds=PEER_SECONDS)
    stale = list(db.scalars(select(_NODE.c.id).where(_NODE.c.seen < since).order_by(_NODE.c.id)))
    if not stale:
        return 0
    if _postgres(db):
        for node_id in stale:
            db.execute(
                text("SELECT pg_advisory_xact_lock(:space, :key)"),
                {"space": NODE_LOCK, "key": node_id},
            )
    # Seen again meanwhile (a stalled process that came back in time) is kept.
    result = db.execute(delete(_NODE).where(_NODE.c.id.in_(stale), _NODE.c.seen < since))
    return int(result.rowcount)  # type: ignore[attr-defined]


def peers(db: Session, node_id: int, now: dt.datetime) -> list[Peer]:
    """The other rows seen within PEER_SECONDS, by id."""
    since = now - dt.timedelta(seconds=PEER_SECONDS)
    rows = db.execute(
        select(_NODE.c.id, _NODE.c.host, _NODE.c.pid, _NODE.c.acknowledged)
        .where(_NODE.c.id != node_id, _NODE.c.seen >= since)
        .order_by(_NODE.c.id)
    )
    return [Peer(*row) for row in rows]


def acknowledge(db: Session, node_id: int, peer_id: int) -> None:
    """Note that this node has switched its claims for the peers up to `peer_id`."""
    db.execute(
        update(_NODE)
        .where(_NODE.c.id == node_id, _NODE.c.acknowledged < peer_id)
        .values(acknowledged=peer_id)
    )


def leave(db: Session, node_id: int) -> None:
    db.execute(delete(_NODE).where(_NODE.c.id == node_id))


def count(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(_NODE)) or 0)
