"""The status page's "today" and a user's usage days are days in the customer's time zone, as
the reports' are: one session, reported at 23:30 UTC, is "today" in UTC and tomorrow's in
Riga (UTC+2 in winter). `now` is a parameter, so no clock is read."""

from __future__ import annotations

import datetime as dt

import pytest

from userman.services import Actor, Userman
from userman.services.dashboard import dashboard
from userman.services.usage import usage
from userman.store import models

ROOT = Actor.superuser()
REPORTED = dt.datetime(2026, 1, 15, 23, 30, tzinfo=dt.UTC)  # Jan 16th 01:30 in Riga


def _world(app: Userman, zone: str) -> Actor:
    app.execute(ROOT, ["customer"], "set", ["admin"], {"time-zone": zone})
    app.execute(ROOT, ["user"], "add", [], {"username": "ann", "password": "p"})
    with app.database.begin() as db:
        ann = db.query(models.User).filter_by(username="ann").one()
        db.add(
            models.UserSession(
                subscriber_id=ann.subscriber_id, customer_id=ann.customer_id, user_id=ann.id,
                username="ann", acct_session_id="late", from_time=REPORTED - dt.timedelta(hours=1),
                till_time=REPORTED, active=False, status="start,stop", download=5000, upload=7,
            )
        )  # fmt: skip
    return app.actor("admin")


@pytest.mark.parametrize(
    ("zone", "day"), [("-00:00", dt.date(2026, 1, 15)), ("Europe/Riga", dt.date(2026, 1, 16))]
)
def test_a_session_counts_on_its_day_in_the_customers_zone(
    app: Userman, zone: str, day: dt.date
) -> None:
    actor = _world(app, zone)
    with app.database.begin() as db:
        days = usage(db, actor, "ann", dt.datetime(2026, 1, 16, 9, 0, tzinfo=dt.UTC), 3)
        assert [d.download for d in days if d.day == day] == [5000]
        assert sum(d.download for d in days) == 5000
        # On the 16th (UTC 21:00, 23:00 in Riga), "today" has the session only in Riga.
        evening = dashboard(db, actor, dt.datetime(2026, 1, 16, 21, 0, tzinfo=dt.UTC))
        assert evening.download_today == (5000 if zone == "Europe/Riga" else 0)
