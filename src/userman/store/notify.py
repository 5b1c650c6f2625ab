"""A PostgreSQL connection of its own that LISTENs for NOTIFY userman_policy (sent by
migration 0020's trigger at the commit of every transaction that writes the change log).

`Listener.wait` returns as soon as a notification arrives (True) or after `timeout` (False);
notifications already queued are taken with it, so a burst wakes a reader once. A notification
sent while the connection was down is lost: the reader polls the change log anyway, and a new
Listener after a lost connection is followed by a read that catches up (services/policy.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

__all__ = ["CHANNEL", "Listener"]

CHANNEL = "userman_policy"
APPLICATION_NAME = "userman-listen"  # how the connection shows in pg_stat_activity


class Listener:
    """One LISTEN connection (PostgreSQL only); `close` ends it."""

    def __init__(self, engine: Engine) -> None:
        connection = engine.raw_connection()
        driver: Any = connection.driver_connection
        connection.detach()  # LISTEN stays with this connection: it never goes back to the pool
        driver.autocommit = True
        driver.execute(f"SET application_name = '{APPLICATION_NAME}'")
        driver.execute(f"LISTEN {CHANNEL}")
        self._connection = connection
        self._driver = driver

    def wait(self, timeout: float) -> bool:
        """Whether a notification came within `timeout` seconds (psycopg raises when the
        connection is lost)."""
        came = False
        for _ in self._driver.notifies(timeout=timeout, stop_after=1):
            came = True
        if came:  # the rest of a burst, already here
            for _ in self._driver.notifies(timeout=0.0):
                pass
        return came

    def close(self) -> None:
        self._connection.close()
