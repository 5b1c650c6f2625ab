"""session_day: what pruned sessions added up to

`database prune` (services/retention.py) deletes sessions older than `keep-sessions` after
adding them up here, per user and pair of days (began, last reported) in the customer's time
zone, so that reports and usage pages show the same totals after pruning.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 01:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("uptime", sa.BigInteger(), nullable=False),
        sa.Column("download", sa.BigInteger(), nullable=False),
        sa.Column("upload", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_session_day_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_session_day_subscriber_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_session_day_user_id_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_day")),
    )
    op.create_index("ix_session_day_subscriber_day", "session_day", ["subscriber_id", "day"])
    op.create_index("ix_session_day_user_day", "session_day", ["user_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_session_day_user_day", table_name="session_day")
    op.drop_index("ix_session_day_subscriber_day", table_name="session_day")
    op.drop_table("session_day")
