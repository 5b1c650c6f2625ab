"""`database optimize` (v7's `optimize-db`; legacy `database rebuild`): VACUUM and fresh
planner statistics, on SQLite and PostgreSQL alike (store/maintenance.py), the superuser's.
Worth running after a first `database prune` of a large database: SQLite's file shrinks only
then.
"""

from __future__ import annotations

import datetime as dt

from userman.services.actor import Actor
from userman.services.request import Outcome, Request
from userman.services.retention import no_arguments, superuser
from userman.store import maintenance as store
from userman.store.database import Database

__all__ = ["optimize_command"]


def optimize_command(
    database: Database, actor: Actor, request: Request, now: dt.datetime
) -> Outcome:
    superuser(actor, "to optimize the database")
    no_arguments(request)
    ran = store.optimize(database)
    return Outcome(None, message=f"optimized the database: {'; '.join(ran)}")
