"""The routers' request counters: what the servers counted, added up, and `router monitor`.

Each server node counts per router in memory and adds its counts here every few seconds
(`add`), so the totals are those of every node. `router monitor ROUTER` shows them;
`router reset-counters ROUTER` starts them again from zero.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select

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
    """Add a node's counts, (router id, counter) -> how many, to the totals."""
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
        stored = {
            (row.router_id, row.name): row
            for row in db.scalars(
                select(models.RouterCounter).where(
                    models.RouterCounter.router_id.in_(list(routers))
                )
            )
        }
        for (router_id, name), count in counts.items():
            router = routers.get(router_id)
            if router is None:
                continue  # removed since
            row = stored.get((router_id, name))
            if row is None:
                row = models.RouterCounter(
                    subscriber_id=router.subscriber_id, router_id=router_id, name=name, value=0
                )
                db.add(row)
                stored[(router_id, name)] = row
            row.value += count


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
