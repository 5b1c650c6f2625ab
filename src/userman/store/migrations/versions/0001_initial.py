"""customer, router, profile, user, user profile, session, log

Revision ID: 0001
Revises:
Create Date: 2026-11-27 19:37:23.340990
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("permissions", sa.String(length=16), nullable=False),
        sa.Column("access", sa.String(length=255), nullable=False),
        sa.Column("backup_allowed", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("time_zone", sa.String(length=16), nullable=False),
        sa.Column("date_format", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("company", sa.String(length=255), nullable=False),
        sa.Column("city", sa.String(length=255), nullable=False),
        sa.Column("country", sa.String(length=255), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("public_host", sa.String(length=255), nullable=False),
        sa.Column("user_prefix", sa.String(length=64), nullable=False),
        sa.Column("signup_allowed", sa.Boolean(), nullable=False),
        sa.Column("paypal_allowed", sa.Boolean(), nullable=False),
        sa.Column("paypal_business_id", sa.String(length=255), nullable=False),
        sa.Column("paypal_secure_response", sa.Boolean(), nullable=False),
        sa.Column("paypal_accept_pending", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["customer.id"], name=op.f("fk_customer_parent_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_customer_subscriber_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("public_id", name=op.f("uq_customer_public_id")),
        sa.UniqueConstraint("subscriber_id", "login", name="uq_customer_login"),
    )
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("name_for_users", sa.String(length=255), nullable=False),
        sa.Column("validity", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.String(length=8), nullable=False),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("override_shared_users", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["customer.id"], name=op.f("fk_profile_owner_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_profile_subscriber_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile")),
        sa.UniqueConstraint("subscriber_id", "name", name="uq_profile_name"),
    )
    with op.batch_alter_table("profile", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_profile_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "router",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ip_address", sa.String(length=45), nullable=False),
        sa.Column("shared_secret", sa.String(length=255), nullable=False),
        sa.Column("log", sa.String(length=255), nullable=False),
        sa.Column("use_coa", sa.Boolean(), nullable=False),
        sa.Column("coa_port", sa.Integer(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_router_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_router_subscriber_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_router")),
        sa.UniqueConstraint("ip_address", name=op.f("uq_router_ip_address")),
        sa.UniqueConstraint("subscriber_id", "name", name="uq_router_name"),
    )
    with op.batch_alter_table("router", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_router_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("password", sa.String(length=255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("shared_users", sa.Integer(), nullable=True),
        sa.Column("caller_id", sa.String(length=255), nullable=False),
        sa.Column("caller_id_bind_on_first_use", sa.Boolean(), nullable=False),
        sa.Column("ip_address", sa.String(length=45), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("first_name", sa.String(length=255), nullable=False),
        sa.Column("last_name", sa.String(length=255), nullable=False),
        sa.Column("location", sa.String(length=255), nullable=False),
        sa.Column("phone", sa.String(length=255), nullable=False),
        sa.Column("reg_key", sa.String(length=255), nullable=False),
        sa.Column("registration_date", sa.DateTime(), nullable=True),
        sa.Column("wireless_enc_algo", sa.String(length=16), nullable=False),
        sa.Column("wireless_enc_key", sa.String(length=255), nullable=False),
        sa.Column("wireless_psk", sa.String(length=255), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("uptime_used", sa.BigInteger(), nullable=False),
        sa.Column("download_used", sa.BigInteger(), nullable=False),
        sa.Column("upload_used", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_user_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_user_subscriber_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user")),
        sa.UniqueConstraint("subscriber_id", "username", name="uq_user_username"),
    )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_subscriber_id"), ["subscriber_id"], unique=False)

    op.create_table(
        "log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("router_id", sa.Integer(), nullable=True),
        sa.Column("user_orig", sa.String(length=253), nullable=False),
        sa.Column("nas_port", sa.BigInteger(), nullable=True),
        sa.Column("nas_port_type", sa.String(length=32), nullable=False),
        sa.Column("nas_port_id", sa.String(length=255), nullable=False),
        sa.Column("calling_station_id", sa.String(length=255), nullable=False),
        sa.Column("acct_session_id", sa.String(length=253), nullable=False),
        sa.Column("user_ip", sa.String(length=45), nullable=False),
        sa.Column("host_ip", sa.String(length=45), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_log_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["router_id"], ["router.id"], name=op.f("fk_log_router_id_router"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_log_subscriber_id_customer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log")),
    )
    with op.batch_alter_table("log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log_subscriber_id"), ["subscriber_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_log_time"), ["time"], unique=False)

    op.create_table(
        "session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("router_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=253), nullable=False),
        sa.Column("acct_session_id", sa.String(length=253), nullable=False),
        sa.Column("nas_port", sa.BigInteger(), nullable=True),
        sa.Column("nas_port_type", sa.String(length=32), nullable=False),
        sa.Column("nas_port_id", sa.String(length=255), nullable=False),
        sa.Column("calling_station_id", sa.String(length=255), nullable=False),
        sa.Column("user_ip", sa.String(length=45), nullable=False),
        sa.Column("host_ip", sa.String(length=45), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("from_time", sa.DateTime(), nullable=False),
        sa.Column("till_time", sa.DateTime(), nullable=False),
        sa.Column("uptime", sa.BigInteger(), nullable=False),
        sa.Column("download", sa.BigInteger(), nullable=False),
        sa.Column("upload", sa.BigInteger(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("terminate_cause", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_session_customer_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["router_id"],
            ["router.id"],
            name=op.f("fk_session_router_id_router"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_session_subscriber_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_session_user_id_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session")),
    )
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_active"), ["active"], unique=False)
        batch_op.create_index(
            "ix_session_router_acct", ["router_id", "acct_session_id", "active"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_session_subscriber_id"), ["subscriber_id"], unique=False
        )

    op.create_table(
        "user_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.Column("start_time", sa.DateTime(), nullable=True),
        sa.Column("end_time", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["profile_id"], ["profile.id"], name=op.f("fk_user_profile_profile_id_profile")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"], ["customer.id"], name=op.f("fk_user_profile_subscriber_id_customer")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_user_profile_user_id_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_profile")),
    )
    with op.batch_alter_table("user_profile", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_profile_subscriber_id"), ["subscriber_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_user_profile_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_profile", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_profile_user_id"))
        batch_op.drop_index(batch_op.f("ix_user_profile_subscriber_id"))

    op.drop_table("user_profile")
    with op.batch_alter_table("session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_subscriber_id"))
        batch_op.drop_index("ix_session_router_acct")
        batch_op.drop_index(batch_op.f("ix_session_active"))

    op.drop_table("session")
    with op.batch_alter_table("log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_time"))
        batch_op.drop_index(batch_op.f("ix_log_subscriber_id"))

    op.drop_table("log")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_subscriber_id"))

    op.drop_table("user")
    with op.batch_alter_table("router", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_router_subscriber_id"))

    op.drop_table("router")
    with op.batch_alter_table("profile", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_profile_subscriber_id"))

    op.drop_table("profile")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_subscriber_id"))

    op.drop_table("customer")
