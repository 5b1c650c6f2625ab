"""This serving process in the registry of `userman serve` processes (store/nodes.py), and the
switch of its shared-users claims between memory and the database (services/claims.py).

The rule (README "Nodes on one PostgreSQL"): a process with no live peer claims in memory; with
one, in the database. `join` registers before the policy is loaded; `beat` (every BEAT_SECONDS,
in a thread) renews the row and switches:
- a peer seen, while alone: the claims held in memory are written into session_claim, then the
  row says it `acknowledged` the peer (the newest peer's id);
- no live peer and no live claim in the database (none a forgotten peer may have left), while
  in the database: back to memory, once the database claims of this process under way ended.
A process whose row was forgotten (not renewed for PEER_SECONDS: it stalled) registers anew;
one that joins forgets the rows of the processes of its host that no longer run (one killed).
A registered process claims nowhere until every live peer has acknowledged it (or for at most
JOIN_WAIT: `ready`), so no peer still claims in memory where its claims would not be seen.
A renewal older than LEASE_SECONDS makes this process stop claiming in memory (StaleError).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections import Counter

from sqlalchemy.orm import Session

from userman.services.claims import Claims, Mode
from userman.store import claims as stored
from userman.store import nodes
from userman.store.database import Database

__all__ = ["BEAT_SECONDS", "JOIN_WAIT", "LEASE_SECONDS", "Registry"]

log = logging.getLogger("userman.server")

BEAT_SECONDS = 1.0  # how often the row is renewed
LEASE_SECONDS = 3.0  # alone, only while the last renewal began less than this long ago
JOIN_WAIT = 5.0  # seconds a registered process waits for its peers' acknowledgement


def _running(pid: int) -> bool:
    """Whether a process `pid` runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


class Registry:
    """This process's row and mode."""

    def __init__(self, database: Database, claims: Claims) -> None:
        self.database = database
        self.claims = claims
        self.node_id: int | None = None
        self.acknowledged = 0  # the newest peer this process has switched for
        self.peers: list[nodes.Peer] = []  # as the last beat found them
        self.counters: Counter[str] = Counter()
        self._waiting = False  # registered, its peers' acknowledgement not yet seen
        self._since = 0.0  # when it registered (time.monotonic())

    def _session(self) -> Session:
        return self.database.session()  # not Database.begin: no policy refresh per beat

    def join(self) -> None:
        """Register; claim nowhere until the peers acknowledged (`beat`, `acknowledged`)."""
        self.claims.shared()  # nothing held yet: claiming waits for the first beat
        host = socket.gethostname()
        with self._session() as db, db.begin():
            # A process of this host that is gone (killed, and started again now) is no peer
            # to wait for.
            gone = [row.id for row in nodes.on_host(db, host) if not _running(row.pid)]
            nodes.forget(db, gone)
            self.node_id = nodes.register(db, host, os.getpid())
        self._waiting, self._since = True, time.monotonic()
        self.counters["registrations"] += 1
        self.beat()

    def beat(self) -> None:
        """Renew the row and switch as the module says (in a thread; raises what the database
        raises, and the next beat tries again)."""
        began = time.monotonic()
        with self._session() as db, db.begin():
            now = nodes.clock(db)
            if self.node_id is None or not nodes.renew(db, self.node_id):
                self.node_id = nodes.register(db, socket.gethostname(), os.getpid())
                self._waiting, self._since = True, began
                self.counters["registrations"] += 1
                if self.claims.mode is Mode.SHARED:
                    self.claims.shared()  # nowhere until acknowledged again
                log.warning(
                    "registered again as server node %d: this process was not seen for %d s",
                    self.node_id,
                    nodes.PEER_SECONDS,
                )
            nodes.forget_stale(db, now)
            self.peers = nodes.peers(db, self.node_id, now)
        self.claims.lease_until = began + LEASE_SECONDS
        mode = self.claims.mode
        if self.peers:
            if mode is Mode.ALONE:
                self._share()
            newest = self.peers[-1].id
            if newest > self.acknowledged:
                with self._session() as db, db.begin():
                    nodes.acknowledge(db, self.node_id, newest)
                self.acknowledged = newest
            if self._waiting and self._acknowledged(began):
                self.claims.switched(Mode.SHARED)
        elif mode is not Mode.ALONE:
            self._alone(now)
        else:
            self._waiting = False

    def _acknowledged(self, began: float) -> bool:
        """Whether every live peer acknowledged this process (or JOIN_WAIT passed: said)."""
        assert self.node_id is not None
        late = [peer for peer in self.peers if peer.acknowledged < self.node_id]
        if late and began - self._since < JOIN_WAIT:
            return False
        for peer in late:
            log.warning(
                "server node %d (%s pid %d) did not acknowledge this one within %.0f s: until "
                "it does, a log-on it decides alone does not count this node's claims",
                peer.id,
                peer.host,
                peer.pid,
                JOIN_WAIT,
            )
        self._waiting = False
        return True

    def ready(self) -> bool:
        """Whether this process may claim: its peers acknowledged it, or it is alone."""
        return not self._waiting

    def _share(self) -> None:
        """From memory to the database: the claims held are written first."""
        held = self.claims.shared()
        try:
            with self._session() as db, db.begin():
                stored.write(db, held)
        except Exception:
            self.claims.switched(Mode.ALONE, held)
            raise
        self.counters["switches-to-database"] += 1
        log.info(
            "server nodes: %d peer(s); shared-users claims in the database (%d from memory)",
            len(self.peers),
            len(held),
        )
        self.claims.switched(Mode.SWITCHING if self._waiting else Mode.SHARED)

    def _alone(self, now: dt.datetime) -> None:
        """From the database to memory, when no claim there is live (else at a later beat)."""
        if self.claims.mode is Mode.SWITCHING and not self._waiting:
            return
        if self.claims.mode is Mode.SHARED and not self.claims.alone():
            return  # a database claim of this process is under way
        try:
            with self._session() as db:
                live = stored.any_live(db, now)
        except Exception:
            self.claims.switched(Mode.SHARED)
            raise
        if live:
            self.claims.switched(Mode.SHARED)
            self._waiting = False
            return
        self._waiting = False
        self.counters["switches-to-memory"] += 1
        log.info("server node %s: alone; shared-users claims in memory", self.node_id)
        self.claims.switched(Mode.ALONE)

    def leave(self) -> None:
        """Delete the row (a clean stop)."""
        if self.node_id is None:
            return
        with self._session() as db, db.begin():
            nodes.leave(db, self.node_id)
        self.node_id = None
