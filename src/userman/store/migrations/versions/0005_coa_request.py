"""coa request

The Disconnect- and CoA-Requests (RFC 5176) waiting for a server node to send them, and what
became of those sent: written with the change that calls for one (a session closed by hand, a
user disabled or removed, limits used up), claimed and sent by the server.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coa_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("router_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=64), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["router.id"],
            name=op.f("fk_coa_request_router_id_router"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["session.id"],
            name=op.f("fk_coa_request_session_id_session"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["customer.id"],
            name=op.f("fk_coa_request_subscriber_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coa_request")),
    )
    with op.batch_alter_table("coa_request", schema=None) as batch_op:
        batch_op.create_index("ix_coa_request_state", ["state", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_coa_request_session_id"), ["session_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_coa_request_subscriber_id"), ["subscriber_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("coa_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_coa_request_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_coa_request_session_id"))
        batch_op.drop_index("ix_coa_request_state")
    op.drop_table("coa_request")
