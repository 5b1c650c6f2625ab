"""subscriber settings

Each subscriber's own settings (SMTP, the sign-up e-mail, the voucher template, payment
gateways) as name/value rows; services/subscriber_settings.py declares them, so a new setting
needs no new revision.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriber_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["customer.id"],
            name=op.f("fk_subscriber_setting_subscriber_id_customer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_setting")),
        sa.UniqueConstraint("subscriber_id", "name", name="uq_subscriber_setting_name"),
    )


def downgrade() -> None:
    op.drop_table("subscriber_setting")
