"""session reply digest

What the router was last told an open session's user may do (core/enforce.py), so that a
change of limits during the session is sent as a CoA-Request. Sessions open at the upgrade get
one at their next check, without a CoA.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reply_digest", sa.String(length=64), nullable=False, server_default="")
        )
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.alter_column("reply_digest", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_column("reply_digest")
