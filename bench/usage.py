"""What a limitation's usage costs an Access-Request as a user's session history grows.

    uv run python bench/usage.py [--sessions 0,100,1000,10000] [--calls 300] [--db URL]

For a user whose running profile has a download limit without reset-counters-interval, times
`user_facts` (what every Access-Request loads) reading the usage from the running user-profile
entry's counters, as it does now, against summing the user's sessions since the profile started,
as it did before (and still does for a limitation with a reset period), with that many closed
sessions in the database. Prints calls per second for each and the ratio. It asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from sqlalchemy import insert
from sqlalchemy.orm import Session

from userman.core.limits import Usage
from userman.core.profiles import ProfileSlot
from userman.services import Actor, Userman, facts
from userman.store import models, queries

ROOT = Actor.superuser()


def prepare(app: Userman) -> int:
    for path, verb, args in (
        (("profile",), "add", {"name": "p", "starts-at": "now"}),
        (("profile", "limitation"), "add", {"name": "l", "download-limit": "10G"}),
        (("profile", "profile-limitation"), "add", {"profile": "p", "limitation": "l"}),
        (("user",), "add", {"username": "u", "password": "pw"}),
    ):
        app.execute(ROOT, path, verb, (), args)
    app.execute(ROOT, ("user",), "create-and-activate-profile", ("u",), {"profile": "p"})
    with app.database.begin() as db:
        user = queries.users_by_username(db, 1, ["u"])["u"]
        return user.id


def add_sessions(app: Userman, user_id: int, count: int, offset: int) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    rows = [
        {
            "subscriber_id": 1,
            "customer_id": 1,
            "user_id": user_id,
            "username": "u",
            "acct_session_id": f"s{offset + n}",
            "from_time": later,
            "till_time": later,
            "download": 1,
            "active": False,
        }
        for n in range(count)
    ]
    if rows:
        with app.database.begin() as db:
            db.execute(insert(models.UserSession), rows)


def summing(user_id: int) -> Callable[[Session, ProfileSlot], Usage]:
    """The former usage, in place of `facts._counters`: the sessions since the profile started."""

    def usage(db: Session, running: ProfileSlot) -> Usage:
        return facts._usage(db, user_id, running.start_time)  # what ran before

    return usage


def rate(app: Userman, user_id: int, calls: int) -> float:
    now = dt.datetime.now(dt.UTC)
    began = time.perf_counter()
    for _ in range(calls):
        with app.database.begin() as db:
            user = db.get(models.User, user_id)
            assert user is not None
            facts.user_facts(db, user, now)
    return calls / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="0,100,1000,10000")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--db", default="")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = Userman(options.db or f"sqlite:///{Path(folder) / 'bench.db'}")
        app.prepare()
        user_id = prepare(app)
        total = 0
        print(f"{'sessions':>9} {'counters/s':>11} {'sum/s':>8} {'ratio':>6}")
        for count in (int(text) for text in options.sessions.split(",")):
            add_sessions(app, user_id, count - total, total)
            total = count
            counted = rate(app, user_id, options.calls)
            with mock.patch.object(facts, "_counters", summing(user_id)):
                before = rate(app, user_id, options.calls)
            print(f"{count:>9} {counted:>11.0f} {before:>8.0f} {counted / before:>6.2f}")
        app.close()


if __name__ == "__main__":
    main()
