"""The two-subscriber world of the tenancy tests (tests/services/test_tenancy.py, and the sweep
of every verb, API route and page in tests/web/test_tenancy_sweep.py): subscribers `admin` and
`isp2`, each with every kind of item, made by its owner so that history has its entries; and a
dump of one subscriber's rows, to show that nothing of it changed.

Every name of `isp2`'s items contains "isp2", but for a few names both subscribers use
(`SHARED_NAMES`): the text "isp2" in what `admin`'s customers are shown is a leak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from support import NOW, run
from userman.services import MENUS, Actor, Userman
from userman.store import models

__all__ = [
    "ALL_ACCESS",
    "LEVEL_ROLES",
    "ROLES",
    "ROOT",
    "SHARED_NAMES",
    "SUBSCRIBERS",
    "World",
    "build_world",
    "other",
    "rows_of",
]

ROOT = Actor.superuser()
SUBSCRIBERS = ("admin", "isp2")
# Who acts: each subscriber's owner, a sub-customer with owner permissions ("-boss"), and one
# with full permissions and every access flag ("-clerk").
ROLES = ("", "-boss", "-clerk")
# One customer of each permission level (the owner twice: the subscriber and one below it),
# the ones below owner with every access flag, so that they reach the most they may.
LEVEL_ROLES = {
    "": "owner",
    "-boss": "owner",
    "-clerk": "full",
    "-writer": "read-write",
    "-reader": "read-only",
}
ALL_ACCESS = ",".join(
    f"{whose}-{family}"
    for whose in ("own", "parent")
    for family in ("routers", "users", "profiles", "limits")
)
SHARED_NAMES = ("shared", "basic")  # names both subscribers' items have


def other(subscriber: str) -> str:
    return SUBSCRIBERS[1 - SUBSCRIBERS.index(subscriber)]


@dataclass
class World:
    app: Userman
    actors: dict[str, Actor]
    subscriber_ids: dict[str, int]
    backups: dict[str, Path]

    def ids(self, table: type[models.Base], subscriber: str) -> set[str]:
        """The *IDs of a subscriber's rows of `table`."""
        sid = self.subscriber_ids[subscriber]
        with self.app.database.begin() as db:
            rows = db.scalars(select(table.id).where(table.subscriber_id == sid))  # type: ignore[attr-defined]
            return {f"*{row_id:X}" for row_id in rows}

    def id_of(self, menu: str, name: str, subscriber: str) -> str:
        """The *ID of the item of `menu` named `name` in `subscriber`'s domain."""
        spec = MENUS[menu]
        assert spec.key is not None
        column = getattr(spec.model, spec.by_name[spec.key].column)
        with self.app.database.begin() as db:
            row_id = db.scalar(
                select(spec.model.id).where(  # type: ignore[attr-defined]
                    column == name,
                    spec.model.subscriber_id == self.subscriber_ids[subscriber],  # type: ignore[attr-defined]
                )
            )
        assert row_id is not None, (menu, name, subscriber)
        return f"*{row_id:X}"


def build_subscriber(app: Userman, s: str, number: int) -> None:
    """Everything a subscriber can have, made by its owner so history has its entries."""
    owner = app.actor(s)
    run(app, owner, "customer add", login=f"{s}-boss", permissions="owner")
    run(app, owner, "customer add", login=f"{s}-clerk", permissions="full", access=ALL_ACCESS)
    run(
        app,
        owner,
        "customer add",
        login=f"{s}-helper",
        parent=f"{s}-clerk",
        permissions="read-only",
    )
    for role, level in (("-writer", "read-write"), ("-reader", "read-only")):
        run(app, owner, "customer add", login=f"{s}{role}", permissions=level, access=ALL_ACCESS)
    for name, ip, customer in ((f"{s}-router", 1, s), (f"{s}-clerk-router", 2, f"{s}-clerk")):
        run(
            app,
            owner,
            "router add",
            name=name,
            customer=customer,
            **{"ip-address": f"10.0.{number}.{ip}", "shared-secret": f"{s}-secret"},
        )
    for profile in (f"{s}-profile", "basic"):
        run(app, owner, "profile add", name=profile, validity="30d", **{"starts-at": "now"})
    run(app, owner, "profile limitation add", name=f"{s}-limit", **{"transfer-limit": "1G"})
    run(
        app,
        owner,
        "profile profile-limitation add",
        profile=f"{s}-profile",
        limitation=f"{s}-limit",
    )
    run(app, owner, "user group add", name=f"{s}-group")
    run(app, owner, "attribute add", name=f"{s}-attr", **{"type-id": "99"})
    app.make_token(owner, f"{s}-token")
    app.change_settings(owner, {"smtp-server": f"smtp.{s}.example", "smtp-user": f"{s}-mail"})
    users = ((f"{s}-user", s), (f"{s}-clerk-user", f"{s}-clerk"), ("shared", s))
    for username, customer in users:
        run(
            app,
            owner,
            "user add",
            username=username,
            customer=customer,
            password=f"{s}-pw",
            group=f"{s}-group",
        )
        run(app, owner, "user create-and-activate-profile", username, profile=f"{s}-profile")
    with app.database.begin() as db:
        sid = db.scalar(select(models.Customer.id).where(models.Customer.login == s))
        by_login = {
            c.login: c.id
            for c in db.scalars(select(models.Customer).where(models.Customer.subscriber_id == sid))
        }
        for user in db.scalars(select(models.User).where(models.User.subscriber_id == sid)):
            db.add(
                models.UserSession(
                    subscriber_id=sid,
                    customer_id=user.customer_id,
                    user_id=user.id,
                    username=user.username,
                    acct_session_id=f"{s}-{user.username}",
                    from_time=NOW,
                    till_time=NOW,
                    active=True,
                )
            )
            db.add(  # what a pruned session of the user added up to (services/retention)
                models.SessionDay(
                    subscriber_id=sid,
                    customer_id=user.customer_id,
                    user_id=user.id,
                    username=user.username,
                    first_day=NOW.date(),
                    day=NOW.date(),
                    sessions=1,
                    uptime=60,
                    download=1,
                    upload=1,
                )
            )
            db.add(
                models.Payment(
                    subscriber_id=sid,
                    customer_id=user.customer_id,
                    user_id=user.id,
                    username=user.username,
                    profile_name=f"{s}-profile",
                    price=Decimal("9.99"),
                    trans_start=NOW,
                    result_msg=f"{s}-paid",
                )
            )
        for router in db.scalars(select(models.Router).where(models.Router.subscriber_id == sid)):
            db.add(
                models.LogEntry(
                    subscriber_id=sid,
                    customer_id=router.customer_id,
                    router_id=router.id,
                    user_orig=f"{s}-user",
                    status="authorization-failure",
                    time=NOW,
                    description=f"{s}-log",
                )
            )
        assert by_login[f"{s}-clerk"]


def build_world(app: Userman, backup_dir: Path, logins: Sequence[str]) -> World:
    """Both subscribers in a prepared, empty database; the actors of `logins`; each
    subscriber's backup saved by its owner."""
    run(app, ROOT, "customer add", login="isp2", password="pw")
    for number, s in enumerate(SUBSCRIBERS, start=1):
        build_subscriber(app, s, number)
    actors = {login: app.actor(login) for login in {*logins, *SUBSCRIBERS}}
    subscriber_ids = {s: actors[s].customer_id for s in SUBSCRIBERS}
    backups = {}
    for s in SUBSCRIBERS:
        run(app, actors[s], "database save", name=s)
        [backups[s]] = backup_dir.rglob(f"{s}.umb")
    return World(app, actors, {s: i for s, i in subscriber_ids.items() if i is not None}, backups)


def rows_of(db: Session, subscriber_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that belongs to the subscriber, in id order."""
    return {
        table.name: [
            tuple(row)
            for row in db.execute(
                select(table).where(table.c.subscriber_id == subscriber_id).order_by(table.c.id)
            )
        ]
        for table in models.Base.metadata.sorted_tables
        if "subscriber_id" in table.c
    }
