"""router on shared-users limit

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 21:14:23.483522
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing routers keep legacy User Manager's behaviour, refusing at the limit.
    with op.batch_alter_table("router", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "on_shared_users_limit",
                sa.String(length=32),
                nullable=False,
                server_default="reject",
            )
        )
    with op.batch_alter_table("router", schema=None) as batch_op:
        batch_op.alter_column("on_shared_users_limit", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("router", schema=None) as batch_op:
        batch_op.drop_column("on_shared_users_limit")
