"""customer_login_unique

Log-in finds a customer by its login alone, so a login is unique across the installation, not
only within a subscriber: a unique index on customer.login. A database where two customers
share a login (which two subscribers could do before) is not changed: the upgrade stops with
the list of them, for the operator to rename all but one of each and start again.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 02:00:00.000000
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

from userman.core.errors import DatabaseError

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

CLASHES = text(
    "SELECT c.login, c.id, s.login FROM customer c LEFT JOIN customer s ON s.id = c.subscriber_id"
    " WHERE c.login IN (SELECT login FROM customer GROUP BY login HAVING COUNT(*) > 1)"
    " ORDER BY c.login, c.id"
)


def clashes(rows: list[tuple[str, int, str | None]]) -> str:
    """The message that lists the customers sharing a login, and what the operator does: with
    SQL, since every userman command upgrades the database first."""
    by_login: dict[str, list[str]] = {}
    for login, customer_id, subscriber in rows:
        by_login.setdefault(login, []).append(f"id {customer_id} (subscriber {subscriber})")
    listed = "; ".join(f'"{login}": customers {", ".join(ids)}' for login, ids in by_login.items())
    example = rows[-1][1]
    return (
        "cannot upgrade the database to revision 0019: a customer's login must now be unique"
        f" across the installation, and these are used more than once: {listed}. Rename all"
        " but one customer of each login, in SQL (for example UPDATE customer SET login ="
        f" 'NEW-LOGIN' WHERE id = {example}), and start userman again; nothing was changed"
    )


def upgrade() -> None:
    found = op.get_bind().execute(CLASHES).all()
    if found:
        raise DatabaseError(clashes([(str(a), int(b), c) for a, b, c in found]))
    op.create_index("ix_customer_login", "customer", ["login"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_customer_login", table_name="customer")
