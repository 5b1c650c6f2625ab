"""router counters

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 21:27:22.632207
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "router_counter",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("router_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["router.id"],
            name=op.f("fk_router_counter_router_id_router"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["customer.id"],
            name=op.f("fk_router_counter_subscriber_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_router_counter")),
        sa.UniqueConstraint("router_id", "name", name="uq_router_counter_name"),
    )


def downgrade() -> None:
    op.drop_table("router_counter")
