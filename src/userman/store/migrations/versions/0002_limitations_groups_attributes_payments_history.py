"""limitations, groups, attributes, payments, history

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 19:54:22.225056
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attribute",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("vendor_id", sa.BigInteger(), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("value_type", sa.String(length=16), nullable=False),
        sa.Column("packet_types", sa.String(length=255), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["customer.id"], name=op.f("fk_attribute_owner_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_attribute_subscriber_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribute")),
        sa.UniqueConstraint("subscriber_id", "name", name="uq_attribute_name"),
    )
    with op.batch_alter_table("attribute", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attribute_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("sub_changes", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_history_subscriber_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history")),
    )
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_history_subscriber_id"), ["subscriber_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_history_time"), ["time"], unique=False)

    op.create_table(
        "limitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("download_limit", sa.BigInteger(), nullable=False),
        sa.Column("upload_limit", sa.BigInteger(), nullable=False),
        sa.Column("transfer_limit", sa.BigInteger(), nullable=False),
        sa.Column("uptime_limit", sa.BigInteger(), nullable=False),
        sa.Column("rate_limit_rx", sa.BigInteger(), nullable=False),
        sa.Column("rate_limit_tx", sa.BigInteger(), nullable=False),
        sa.Column("rate_limit_burst_rx", sa.BigInteger(), nullable=False),
        sa.Column("rate_limit_burst_tx", sa.BigInteger(), nullable=False),
        sa.Column("rate_limit_burst_threshold_rx", sa.BigInteger(), nullable=False),
        sa.Column("rate_limit_burst_threshold_tx", sa.BigInteger(), nullable=False),
        sa.Column("rate_limit_burst_time_rx", sa.Integer(), nullable=False),
        sa.Column("rate_limit_burst_time_tx", sa.Integer(), nullable=False),
        sa.Column("rate_limit_min_rx", sa.BigInteger(), nullable=False),
        sa.Column("rate_limit_min_tx", sa.BigInteger(), nullable=False),
        sa.Column("rate_limit_priority", sa.Integer(), nullable=False),
        sa.Column("group_name", sa.String(length=255), nullable=False),
        sa.Column("ip_pool", sa.String(length=255), nullable=False),
        sa.Column("ip_pool6", sa.String(length=255), nullable=False),
        sa.Column("address_list", sa.String(length=255), nullable=False),
        sa.Column("reset_counters_interval", sa.String(length=16), nullable=False),
        sa.Column("reset_counters_start_time", sa.DateTime(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["customer.id"], name=op.f("fk_limitation_owner_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_limitation_subscriber_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_limitation")),
        sa.UniqueConstraint("subscriber_id", "name", name="uq_limitation_name"),
    )
    with op.batch_alter_table("limitation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_limitation_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "user_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("outer_auths", sa.String(length=255), nullable=False),
        sa.Column("inner_auths", sa.String(length=255), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["customer.id"], name=op.f("fk_user_group_owner_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_user_group_subscriber_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_group")),
        sa.UniqueConstraint("subscriber_id", "name", name="uq_user_group_name"),
    )
    with op.batch_alter_table("user_group", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_group_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "profile_limitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("limitation_id", sa.Integer(), nullable=False),
        sa.Column("from_time", sa.Integer(), nullable=False),
        sa.Column("till_time", sa.Integer(), nullable=False),
        sa.Column("weekdays", sa.String(length=255), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["limitation_id"],
            ["limitation.id"],
            name=op.f("fk_profile_limitation_limitation_id_limitation"),
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"], ["profile.id"], name=op.f("fk_profile_limitation_profile_id_profile")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["customer.id"],
            name=op.f("fk_profile_limitation_subscriber_id_customer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_limitation")),
    )
    with op.batch_alter_table("profile_limitation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_profile_limitation_limitation_id"), ["limitation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_profile_limitation_profile_id"), ["profile_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_profile_limitation_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("profile_name", sa.String(length=64), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("trans_start", sa.DateTime(), nullable=False),
        sa.Column("trans_end", sa.DateTime(), nullable=True),
        sa.Column("trans_status", sa.String(length=16), nullable=False),
        sa.Column("result_msg", sa.Text(), nullable=False),
        sa.Column("user_message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_payment_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["profile.id"],
            name=op.f("fk_payment_profile_id_profile"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_payment_subscriber_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_payment_user_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment")),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_subscriber_id"), ["subscriber_id"], unique=False
        )

    with op.batch_alter_table("profile", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attributes", sa.Text(), nullable=False, server_default=""))

    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("attributes", sa.Text(), nullable=False, server_default=""))
        batch_op.create_foreign_key(
            batch_op.f("fk_user_group_id_user_group"), "user_group", ["group_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_user_group_id_user_group"), type_="foreignkey")
        batch_op.drop_column("attributes")
        batch_op.drop_column("group_id")

    with op.batch_alter_table("profile", schema=None) as batch_op:
        batch_op.drop_column("attributes")

    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_subscriber_id"))

    op.drop_table("payment")
    with op.batch_alter_table("profile_limitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profile_limitation_subscriber_id"))
        batch_op.drop_index(batch_op.f("ix_profile_limitation_profile_id"))
        batch_op.drop_index(batch_op.f("ix_profile_limitation_limitation_id"))

    op.drop_table("profile_limitation")
    with op.batch_alter_table("user_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_group_subscriber_id"))

    op.drop_table("user_group")
    with op.batch_alter_table("limitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_limitation_subscriber_id"))

    op.drop_table("limitation")
    with op.batch_alter_table("history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_history_time"))
        batch_op.drop_index(batch_op.f("ix_history_subscriber_id"))

    op.drop_table("history")
    with op.batch_alter_table("attribute", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attribute_subscriber_id"))

    op.drop_table("attribute")
