"""`session close-session`: an operator ends sessions that the router will not report ended.

The manual's FAQ: sessions without an Accounting-Stop stay active until closed by hand. Closing
marks them inactive with terminate-cause `um-admin-request` (the v7 cause); for a router with
use-coa=yes, a Disconnect-Request is queued for the server to send (services/coa.py).
"""

from __future__ import annotations

from userman.core.errors import InvalidValueError
from userman.services import coa, permissions, verbs
from userman.services.menus import Menu
from userman.services.request import Context, Outcome, Request

__all__ = ["close_session"]

CAUSE = coa.ADMIN_REQUEST


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
            coa.disconnect(ctx.db, row, CAUSE, ctx.now)
            row.active = False
            row.till_time = max(row.till_time, ctx.now)
            row.terminate_cause = CAUSE
            closed += 1
    ctx.db.flush()
    return Outcome(menu, count=closed)
