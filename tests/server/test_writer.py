"""The accounting group-commit writer: many records share a commit, each answer follows the commit
of its record (RFC 2866 2), a bad record fails alone, and closing stores what is queued.

A `Gate` holds the writer's first batch back, as a slow disk would: the records that arrive
meanwhile queue up, and the test knows which batch each one lands in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.exc import IntegrityError

from inmemory import run_server
from userman.core.accounting import AccountingRecord, AcctStatus
from userman.radius.dictionary import default_dictionary
from userman.radius.packet import Code, build, decode, encode
from userman.server.endpoint import RadiusServer
from userman.server.writer import GroupCommitWriter
from userman.services import Actor, RouterInfo, Userman
from userman.services.aaa import find_router
from userman.store import models
from userman.store.database import normalize_url

SECRET = b"12345"
D = default_dictionary()
NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
WRITER_THREAD = "userman-accounting"
BOUND = 30.0  # seconds a gate waits at most; a bound, never an assertion


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Userman]:
    userman = Userman(f"sqlite:///{tmp_path / 'writer.db'}")
    userman.prepare()
    root = Actor.superuser()
    router = {"name": "router1", "ip-address": "127.0.0.1", "shared-secret": "12345"}
    userman.execute(root, ("router",), "add", (), router)
    userman.execute(root, ("user",), "add", (), {"username": "test", "password": "test"})
    yield userman
    userman.close()


@pytest.fixture
def router(app: Userman) -> RouterInfo:
    info = find_router(app.database, "127.0.0.1")
    assert info is not None
    return info


@pytest.fixture
def commits(app: Userman) -> Iterator[list[int]]:
    """One entry per commit made by the writer thread on the app's engine."""
    made: list[int] = []

    def count(_connection: Any) -> None:
        if threading.current_thread().name == WRITER_THREAD:
            made.append(1)

    event.listen(app.database.engine, "commit", count)
    yield made
    event.remove(app.database.engine, "commit", count)


@pytest.fixture
def observer(app: Userman) -> Iterator[Engine]:
    """Another engine on the same database: sees only what is committed."""
    engine = create_engine(normalize_url(app.database.url))
    yield engine
    engine.dispose()


class Gate:
    """Wraps `write_many`: its first call waits until `ready()` (or a bound), then writes."""

    def __init__(self, write_many: Callable[[Sequence[Any]], Any]) -> None:
        self.write_many = write_many
        self.ready: Callable[[Sequence[Any]], bool] = lambda _items: self.opened.is_set()
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.calls = 0

    def __call__(self, items: Sequence[Any]) -> Any:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            deadline = time.monotonic() + BOUND
            while not self.ready(items) and time.monotonic() < deadline:
                time.sleep(0.001)
        return self.write_many(items)


def record(session: str, status: AcctStatus, **counters: int) -> AccountingRecord:
    return AccountingRecord(status, session, "test", **counters)


def sessions(engine: Engine, acct_session_id: str | None = None) -> list[Any]:
    query = select(models.UserSession).order_by(models.UserSession.id)
    if acct_session_id is not None:
        query = query.where(models.UserSession.acct_session_id == acct_session_id)
    with engine.connect() as connection:
        return list(connection.execute(query))


def accounting_packet(session: str, identifier: int, status: str = "Start") -> bytes:
    pkt = build(
        D,
        Code.ACCOUNTING_REQUEST,
        identifier,
        bytes(16),
        [("User-Name", "test"), ("Acct-Session-Id", session), ("Acct-Status-Type", status)],
    )
    return encode(pkt, SECRET)


class FakeTransport(asyncio.DatagramTransport):
    """Records each answer with whether its record was visible from another connection then."""

    def __init__(self, observer: Engine, session_of: dict[Any, str]) -> None:
        super().__init__()
        self.observer = observer
        self.session_of = session_of
        self.sent: list[tuple[Any, Code, bool]] = []

    def sendto(self, data: bytes, addr: Any = None) -> None:
        with self.observer.connect() as connection:
            found = connection.execute(
                text("SELECT count(*) FROM session WHERE acct_session_id = :id"),
                {"id": self.session_of[addr]},
            ).scalar_one()
        self.sent.append((addr, decode(data, D).code, found == 1))


def serve_all(
    app: Userman, gate: Gate, transport: FakeTransport, requests: dict[Any, bytes]
) -> RadiusServer:
    """The requests at once to a server with 4 workers; the gate holds the first batch until
    every other record is queued behind it."""

    async def main(server: RadiusServer) -> None:
        gate.ready = lambda items: server.writer.pending >= len(requests) - len(items)
        await asyncio.gather(
            *(server.handle(transport, data, addr, True) for addr, data in requests.items())
        )

    return run_server(app, main, workers=4)


def test_many_records_share_few_commits_and_each_answer_follows_its_commit(
    app: Userman, commits: list[int], observer: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 300
    session_of = {("127.0.0.1", 20000 + n): f"s{n:04d}" for n in range(count)}
    requests = {
        addr: accounting_packet(session, n % 256)
        for n, (addr, session) in enumerate(session_of.items())
    }
    gate = Gate(app.account_many)
    monkeypatch.setattr(app, "account_many", gate)
    transport = FakeTransport(observer, session_of)
    server = serve_all(app, gate, transport, requests)

    assert len(transport.sent) == count
    assert {addr for addr, _, _ in transport.sent} == set(session_of)
    assert all(code is Code.ACCOUNTING_RESPONSE for _, code, _ in transport.sent)
    assert all(visible for _, _, visible in transport.sent), "an answer came before its commit"
    # One batch held back, then the rest in batches of at most 256: three commits at most.
    assert 1 < len(commits) <= 3
    assert server.writer.counters["batches"] == len(commits)
    assert server.writer.counters["records"] == count
    assert len(sessions(observer)) == count


def test_records_of_one_session_apply_in_arrival_order_within_a_batch(
    app: Userman, router: RouterInfo, commits: list[int], observer: Engine
) -> None:
    gate = Gate(app.account_many)
    writer = GroupCommitWriter(gate)
    try:
        writer.submit((router, record("s0", AcctStatus.START), NOW))
        assert gate.entered.wait(BOUND)
        futures = [
            writer.submit((router, rec, NOW + dt.timedelta(seconds=n)))
            for n, rec in enumerate(
                [
                    record("", AcctStatus.ACCOUNTING_ON),
                    record("s1", AcctStatus.START),
                    record("s1", AcctStatus.INTERIM_UPDATE, session_time=60, upload=100),
                    record("s2", AcctStatus.START),
                    record("s1", AcctStatus.STOP, session_time=120, upload=250),
                    record("s1", AcctStatus.START),  # the router reused the id: a new session
                ]
            )
        ]
        gate.opened.set()
        on, *states = [future.result(BOUND) for future in futures]
        assert on is None  # Accounting-On changes no session
    finally:
        writer.close()

    assert len(commits) == 2  # the held batch, then all six records in one
    assert [state.status if state else None for state in states] == [
        frozenset({"start"}),
        frozenset({"start", "interim"}),
        frozenset({"start"}),
        frozenset({"start", "interim", "stop"}),
        frozenset({"start"}),
    ]
    old, new = sessions(observer, "s1")
    assert (old.status, old.active, old.upload, old.uptime) == (
        "start,interim,stop",
        False,
        250,
        120,
    )
    assert (new.status, new.active, new.upload) == ("start", True, 0)
    [user] = app.execute(Actor.superuser(), ("user",), "print").items
    assert user.json["upload-used"] == 250


def test_a_bad_record_fails_alone_and_the_others_of_its_batch_are_stored(
    app: Userman, router: RouterInfo, observer: Engine
) -> None:
    gate = Gate(app.account_many)
    writer = GroupCommitWriter(gate)
    poisoned = AccountingRecord(AcctStatus.START, None, "test")  # type: ignore[arg-type]
    try:
        writer.submit((router, record("s0", AcctStatus.START), NOW))
        assert gate.entered.wait(BOUND)
        batch = [record("a", AcctStatus.START), record("b", AcctStatus.START), poisoned]
        batch.append(record("c", AcctStatus.START))
        futures = [writer.submit((router, rec, NOW)) for rec in batch]
        gate.opened.set()
        with pytest.raises(IntegrityError):
            futures[2].result(BOUND)  # NOT NULL: a record the database refuses
        assert [future.result(BOUND).acct_session_id for future in (*futures[:2], futures[3])] == [
            "a",
            "b",
            "c",
        ]
    finally:
        writer.close()

    assert [row.acct_session_id for row in sessions(observer)] == ["s0", "a", "b", "c"]
    assert writer.counters["failed-batches"] == 1
    assert writer.counters["failed-records"] == 1
    assert writer.counters["records"] == 4


def test_a_record_that_cannot_be_stored_gets_no_answer(
    app: Userman, observer: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = app.account_many

    def refusing(items: Sequence[Any]) -> Any:
        if any(rec.acct_session_id == "poison" for _, rec, _ in items):
            raise RuntimeError("the database refuses this record")
        return store(items)

    gate = Gate(refusing)
    monkeypatch.setattr(app, "account_many", gate)
    names = ["a", "b", "poison", "c", "d"]
    session_of = {("127.0.0.1", 30000 + n): name for n, name in enumerate(names)}
    requests = {addr: accounting_packet(name, 1) for addr, name in session_of.items()}
    transport = FakeTransport(observer, session_of)
    server = serve_all(app, gate, transport, requests)

    answered = {session_of[addr] for addr, _, visible in transport.sent if visible}
    assert answered == {"a", "b", "c", "d"}
    assert len(transport.sent) == 4
    assert server.counters["failed-requests"] == 1
    assert sorted(row.acct_session_id for row in sessions(observer)) == ["a", "b", "c", "d"]


def test_closing_stores_what_is_queued_and_refuses_more(
    app: Userman, router: RouterInfo, observer: Engine
) -> None:
    gate = Gate(app.account_many)
    writer = GroupCommitWriter(gate)
    futures = [writer.submit((router, record("s0", AcctStatus.START), NOW))]
    assert gate.entered.wait(BOUND)
    futures += [writer.submit((router, record(f"q{n}", AcctStatus.START), NOW)) for n in range(5)]
    closing = threading.Thread(target=writer.close)
    closing.start()
    gate.opened.set()
    closing.join(BOUND)
    assert not closing.is_alive()

    assert all(future.done() and future.exception() is None for future in futures)
    assert len(sessions(observer)) == 6
    with pytest.raises(RuntimeError, match="closed"):
        writer.submit((router, record("late", AcctStatus.START), NOW))


def test_a_batch_wakes_the_event_loop_once_for_all_its_answers() -> None:
    gate = Gate(lambda items: [item * 2 for item in items])
    writer: GroupCommitWriter[int, int] = GroupCommitWriter(gate)
    gate.ready = lambda _items: writer.pending >= 100  # the second batch: 100 records
    wake_ups: list[Any] = []

    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        first = asyncio.ensure_future(writer.write(0))
        while not gate.entered.is_set():
            await asyncio.sleep(0.001)
        wake = loop.call_soon_threadsafe

        def counted(callback: Any, *args: Any) -> Any:
            wake_ups.append(callback)
            return wake(callback, *args)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        rest = [asyncio.ensure_future(writer.write(n)) for n in range(1, 101)]
        return await asyncio.gather(first, *rest)

    try:
        assert asyncio.run(main()) == [2 * n for n in range(101)]
    finally:
        writer.close()
    assert writer.counters["batches"] == gate.calls == 2
    assert len(wake_ups) == 2  # one per batch, not one per record
