"""The routers' request counters: what the servers counted, added up, and `router monitor`.

Each server node counts per router in memory and adds its counts here every few seconds
(`add`), so the totals are those of every node. `router monitor ROUTER` shows them;
`router reset-counters ROUTER` starts them again from zero.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from userman.core.errors import InvalidValueError
from userman.services import permissions, verbs
from userman.services.menus import Menu
from userman.services.request import Context, Outcome, Request
from userman.store import models
from userman.store.database import Database

__all__ = ["SHOWN", "add", "monitor", "reset_counters"]

# What `router monitor` shows, in this order, with zeros for what did not happen.
SHOWN = (
    "access-requests",
    "accepts",
    "rejects",
    "accounting-requests",
    "status-server",
    "duplicates",
    "broken-requests",
    "failed-requests",
    "missing-message-authenticator",
    "bad-authenticator",
    "disconnect-ack",
    "disconnect-nak",
    "coa-ack",
    "coa-nak",
    "coa-timeouts",
)


def add(database: Database, counts: Mapping[tuple[int, str], int]) -> None:
    """Add a node's counts, (router id, counter) -> how many, to the totals: `value + count` in
    the database, never a sum made here, so that workers and nodes adding at once lose none
    (one that reads, adds and writes back the total overwrites the other's), and a counter
    another one inserted meanwhile is added to rather than inserted twice."""
    if not counts:
        return
    with database.begin() as db:
        routers = {
            r.id: r
            for r in db.scalars(
                select(models.Router).where(
                    models.Router.id.in_({router_id for router_id, _ in counts})
                )
            )
        }
        for (router_id, name), count in counts.items():
            router = routers.get(router_id)
            if router is None:
                continue  # removed since
            if _add_to(db, router_id, name, count):
                continue
            try:
                with db.begin_nested():  # a savepoint: a unique-key clash undoes only this
                    db.add(
                        models.RouterCounter(
                            subscriber_id=router.subscriber_id,
                            router_id=router_id,
                            name=name,
                            value=count,
                        )
                    )
            except IntegrityError:  # another node inserted it since the update above
                _add_to(db, router_id, name, count)


def _add_to(db: Session, router_id: int, name: str, count: int) -> bool:
    """Add `count` to the stored counter; False when there is none yet."""
    counter = models.RouterCounter
    done = db.execute(
        update(counter)
        .where(counter.router_id == router_id, counter.name == name)
        .values(value=counter.value + count)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(done, "rowcount", 0))


def _router(ctx: Context, menu: Menu, request: Request) -> models.Router:
    if request.args or len(request.positional) != 1:
        raise InvalidValueError("numbers", f"{request.verb} takes one router (name, *ID, number)")
    router: models.Router = verbs.find(ctx.db, ctx.actor, menu, request.positional[0])
    return router


def monitor(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`router monitor ROUTER`: its counters, as `name: value` lines (and as JSON)."""
    router = _router(ctx, menu, request)
    rows = ctx.db.execute(
        select(models.RouterCounter.name, models.RouterCounter.value).where(
            models.RouterCounter.router_id == router.id
        )
    )
    counted: dict[str, int] = {}
    for name, value in rows:
        counted[name] = value
    names = [*SHOWN, *sorted(set(counted) - set(SHOWN))]
    values = {name: counted.get(name, 0) for name in names}
    width = max(len(name) for name in names)
    text = "\n".join(f"{name:>{width}}: {value}" for name, value in values.items())
    item = verbs.Item(
        verbs.item_id(router),
        "",
        tuple((name, str(value)) for name, value in values.items()),
        {".id": verbs.item_id(router), "name": router.name, **values},
    )
    return Outcome(menu, (item,), message=text)


def reset_counters(ctx: Context, menu: Menu, request: Request) -> Outcome:
    """`router reset-counters ROUTER` (v7): its counters start again from zero."""
    router = _router(ctx, menu, request)
    permissions.check_change(ctx.db, ctx.actor, menu, router, request.verb)
    ctx.db.execute(delete(models.RouterCounter).where(models.RouterCounter.router_id == router.id))
    return Outcome(menu)
