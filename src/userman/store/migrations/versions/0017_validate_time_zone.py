"""customer time-zone holds any IANA name

`time_zone` was 16 characters, shorter than many IANA names (`America/Los_Angeles`,
`America/Argentina/Buenos_Aires`): PostgreSQL refused them. It becomes 64, what the property
takes (services/fields.py TIME_ZONE). Every customer keeps its zone.

The column is converted in place (add, copy, drop, rename), as 0012 does for the same reason:
a batch copy of `customer` on SQLite would drop the table that every other one refers to.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 00:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def _resize(length: int) -> None:
    op.add_column(
        "customer",
        sa.Column("zone", sa.String(length=length), nullable=False, server_default="-00:00"),
    )
    op.execute(f"UPDATE customer SET zone = substr(time_zone, 1, {length})")
    op.drop_column("customer", "time_zone")
    op.execute("ALTER TABLE customer RENAME COLUMN zone TO time_zone")


def upgrade() -> None:
    _resize(64)


def downgrade() -> None:
    # A zone longer than 16 characters cannot stay: it was refused before, and is read as UTC.
    op.execute("UPDATE customer SET time_zone = '-00:00' WHERE length(time_zone) > 16")
    _resize(16)
