"""The accounting group-commit writer: many records, one transaction, then every answer.

The event loop hands a record over and awaits its future; one writer thread takes whatever is
queued (up to `limit`), stores it with one call of `write_many` (one commit) and only then
resolves the futures, so no Accounting-Response leaves before its record is durable (RFC 2866
2). The futures a batch resolves on an event loop are resolved by one callback on that loop:
one wake-up per batch, not one per record. A batch that fails is written again one record at a
time: a bad record fails alone, and gets no answer (the router retransmits). Records keep their
arrival order, within a batch and across batches. It knows nothing of RADIUS or of the
database: `write_many` does the storing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from userman.server.metrics import BATCH_BOUNDS, Histogram

__all__ = ["BATCH_LIMIT", "GroupCommitWriter"]

log = logging.getLogger("userman.server")

BATCH_LIMIT = 256

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class _Waiter(Generic[R]):
    """Who waits for an item: a thread's future (`submit`), or a coroutine's future on its
    event loop (`write`), which only that loop may resolve."""

    future: Future[R] | asyncio.Future[R]
    loop: asyncio.AbstractEventLoop | None = None

    def claim(self) -> bool:
        """Whether the item is still wanted: a future cancelled before its turn is not."""
        if isinstance(self.future, Future):
            return self.future.set_running_or_notify_cancel()
        return not self.future.cancelled()  # read from the writer thread: a hint only


def _settle(outcomes: list[tuple[asyncio.Future[R], R | None, BaseException | None]]) -> None:
    """On the event loop: resolve the futures of a batch (unless cancelled meanwhile)."""
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]


class GroupCommitWriter(Generic[T, R]):
    """One thread that stores queued items in batches; `close()` stores what is left first."""

    def __init__(
        self,
        write_many: Callable[[Sequence[T]], Sequence[R]],
        *,
        limit: int = BATCH_LIMIT,
        name: str = "userman-accounting",
    ) -> None:
        if limit < 1:
            raise ValueError("a batch holds at least one record")
        self.write_many = write_many
        self.limit = limit
        self.counters: Counter[str] = Counter()
        # For /metrics: the records of each commit, and how long it took.
        self.batch_records = Histogram(BATCH_BOUNDS)
        self.commit_seconds = Histogram()
        self._queue: deque[tuple[T, _Waiter[R]]] = deque()
        self._ready = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """How many items wait for a batch (not counting the one being written)."""
        with self._ready:
            return len(self._queue)

    def submit(self, item: T) -> Future[R]:
        """Queue `item`; the future resolves once it is committed, or fails with its error."""
        future: Future[R] = Future()
        self._put(item, _Waiter(future))
        return future

    async def write(self, item: T) -> R:
        """Queue `item` and wait, without blocking the event loop, until it is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._put(item, _Waiter(future, loop))
        return await future

    def _put(self, item: T, waiter: _Waiter[R]) -> None:
        with self._ready:
            if self._closing:
                raise RuntimeError("the accounting writer is closed")
            self._queue.append((item, waiter))
            self._ready.notify()

    def close(self) -> None:
        """Store everything queued, then stop the thread; later `submit` calls fail."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closing:
                    self._ready.wait()
                if not self._queue:
                    return  # closing, and nothing is left
                count = min(self.limit, len(self._queue))
                batch = [self._queue.popleft() for _ in range(count)]
            # A future cancelled before its turn has nobody to answer: it is not written.
            self._store([(item, waiter) for item, waiter in batch if waiter.claim()])

    def _store(self, batch: list[tuple[T, _Waiter[R]]]) -> None:
        outcomes: list[tuple[_Waiter[R], R | None, BaseException | None]] = []
        self._write(batch, outcomes)
        loops: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[R], R | None, Any]]] = {}
        for waiter, result, error in outcomes:
            future = waiter.future
            if isinstance(future, Future):
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)  # type: ignore[arg-type]
            elif waiter.loop is not None:
                loops.setdefault(waiter.loop, []).append((future, result, error))
        for loop, settled in loops.items():
            with contextlib.suppress(RuntimeError):  # a loop closed meanwhile has nobody to tell
                loop.call_soon_threadsafe(_settle, settled)

    def _write(
        self,
        batch: list[tuple[T, _Waiter[R]]],
        outcomes: list[tuple[_Waiter[R], R | None, BaseException | None]],
    ) -> None:
        """Store a batch in one commit, or else each of its records alone; note each outcome."""
        if not batch:
            return
        try:
            began = time.perf_counter()
            results = list(self.write_many([item for item, _ in batch]))
            self.commit_seconds.observe(time.perf_counter() - began)
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} records")
        except Exception as error:
            if len(batch) == 1:
                self.counters["failed-records"] += 1
                outcomes.append((batch[0][1], None, error))
                return
            self.counters["failed-batches"] += 1
            log.warning(
                "a batch of %d items of %s failed (%s); storing them one by one",
                len(batch),
                self._thread.name,
                error,
            )
            for single in batch:
                self._write([single], outcomes)
            return
        self.counters["batches"] += 1
        self.counters["records"] += len(batch)
        self.batch_records.observe(len(batch))
        outcomes.extend(
            (waiter, result, None) for (_, waiter), result in zip(batch, results, strict=True)
        )
