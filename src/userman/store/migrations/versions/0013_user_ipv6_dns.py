"""user ipv6-dns

Legacy User Manager's user property `ipv6-dns` (in every RouterOS v6.4x export): the DNS server
given to the user over IPv6; `::`, none, for every user already there.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch: SQLite would copy the table, and dropping the old `user`
    # with foreign keys on deletes every user-profile row (ON DELETE CASCADE). The server
    # default stays (the model declares it) and fills the rows already there.
    op.add_column(
        "user", sa.Column("ipv6_dns", sa.String(length=45), nullable=False, server_default="::")
    )


def downgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("ipv6_dns")
