"""The server's sweeper (server/main.py `_sweep_stale`) prunes what the retention settings say
is due (services/retention.py), in a worker thread, while the loop goes on."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from sqlalchemy import func, select

from support import run
from userman.server.main import _sweep_stale
from userman.services import Actor, Userman
from userman.store import models


def test_the_sweeper_prunes_old_log_entries_off_the_loop(app: Userman) -> None:
    run(app, Actor.superuser(), "database set", **{"keep-log": "1d"})
    with app.database.begin() as db:
        user = db.scalars(select(models.User)).one()
        for days in (400, 2, 0):
            db.add(
                models.LogEntry(
                    subscriber_id=user.subscriber_id, customer_id=user.customer_id,
                    status="auth-ok", time=dt.datetime.now(dt.UTC) - dt.timedelta(days=days),
                )
            )  # fmt: skip
    threads: set[int] = set()
    retain = app.retain

    def retain_in(now: dt.datetime) -> int:
        threads.add(threading.get_ident())
        return retain(now)

    app.retain = retain_in  # type: ignore[method-assign]

    async def main() -> None:
        stop = asyncio.Event()
        with ThreadPoolExecutor(2) as pool:
            server = SimpleNamespace(app=app, pool=pool)
            sweeper = asyncio.ensure_future(_sweep_stale(server, 0, stop))  # type: ignore[arg-type]
            while not threads:
                await asyncio.sleep(0.01)
            stop.set()
            await asyncio.wait_for(sweeper, 30)

    asyncio.run(main())
    assert threading.get_ident() not in threads  # not on the loop's thread
    with app.database.session() as db:
        assert db.scalar(select(func.count()).select_from(models.LogEntry)) == 1
