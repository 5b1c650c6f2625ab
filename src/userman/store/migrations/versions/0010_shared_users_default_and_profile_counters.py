"""subscriber's on-shared-users-limit, router default, user-profile counters

A subscriber's row says what its routers do at a user's shared-users limit; routers that said
`reject`, the old default, now say `default` and follow it (which is `reject` until changed).
Each user-profile entry counts what accounting reported while it ran; the running entries
start from the sum the access decision used to make, their sessions since the entry started.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 23:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

COUNTERS = ("uptime", "download", "upload")


def upgrade() -> None:
    # Added in place (SQLite's ALTER TABLE ADD COLUMN): a batch copy of `customer` would drop the
    # table every other one refers to. The server defaults stay; the models give every value.
    op.add_column(
        "customer",
        sa.Column("on_shared_users_limit", sa.String(length=32), nullable=False, server_default=""),
    )
    op.execute(
        "UPDATE router SET on_shared_users_limit = 'default' WHERE on_shared_users_limit = 'reject'"
    )
    for name in COUNTERS:
        op.add_column(
            "user_profile",
            sa.Column(f"{name}_used", sa.BigInteger(), nullable=False, server_default="0"),
        )
    # What user_facts summed before: the user's sessions that ended after the entry started,
    # or are still open.
    for name in COUNTERS:
        op.execute(
            f"UPDATE user_profile SET {name}_used = (SELECT COALESCE(SUM(session.{name}), 0)"
            " FROM session WHERE session.user_id = user_profile.user_id"
            " AND (session.till_time >= user_profile.start_time OR session.active))"
            " WHERE state = 'running' AND start_time IS NOT NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("user_profile", schema=None) as batch_op:
        for name in COUNTERS:
            batch_op.drop_column(f"{name}_used")
    op.execute(
        "UPDATE router SET on_shared_users_limit = 'reject' WHERE on_shared_users_limit = 'default'"
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("on_shared_users_limit")
