"""history keeps no subscriber from removal

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 20:25:58.709504
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_history_subscriber_id_customer"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_history_subscriber_id_customer"),
            "customer",
            ["subscriber_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_history_subscriber_id_customer"), type_="foreignkey"
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_history_subscriber_id_customer"), "customer", ["subscriber_id"], ["id"]
        )
