"""`session close-session`: an operator ends sessions that the router will not report ended.

The manual's FAQ: sessions without an Accounting-Stop stay active until closed by hand. Closing
marks them inactive with terminate-cause `um-admin-request` (the v7 cause). For a router with
use-coa=yes, the Disconnect-Request to the router comes with the enforcement of the AAA engine.
"""

from __future__ import annotations

from userman.core.errors import InvalidValueError
from userman.services import permissions, verbs
from userman.services.menus import Menu
from userman.services.request import Context, Outcome, Request

__all__ = ["close_session"]

CAUSE = "um-admin-request"


def close_session(ctx: Context, menu: Menu, request: Request) -> Outcome:
    if request.args:
        raise InvalidValueError(next(iter(request.args)), "close-session takes no values")
    if not request.positional:
        raise InvalidValueError("numbers", "say which sessions to close (number or *ID)")
    closed = 0
    for key in verbs.split_keys(request.positional):
        row = verbs.find(ctx.db, ctx.actor, menu, key)
        permissions.check_change(ctx.db, ctx.actor, menu, row, request.verb)
        if row.active:
            row.active = False
            row.till_time = max(row.till_time, ctx.now)
            row.terminate_cause = CAUSE
            closed += 1
    ctx.db.flush()
    return Outcome(menu, count=closed)
