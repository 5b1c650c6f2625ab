"""router requires message authenticator

Routers added from now on require a Message-Authenticator in every Access-Request (BlastRADIUS,
CVE-2024-3596); the routers already there get `no`, so an upgrade breaks no working router.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 20:40:40.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The server default fills the existing rows; it is dropped after, as the models have none.
    with op.batch_alter_table("router", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "require_message_authenticator",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
    with op.batch_alter_table("router", schema=None) as batch_op:
        batch_op.alter_column("require_message_authenticator", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("router", schema=None) as batch_op:
        batch_op.drop_column("require_message_authenticator")
