"""user otp-secret and the step of the last one-time code used

RouterOS v7's user property `otp-secret` (base32): the password is then the static password
followed by a TOTP code (core/totp.py). `otp_secret` is sealed at rest as the password is
(store/secrets.py: the model's type seals it; empty for every user already there); `otp_step`
is the step of the last code accepted, stored before the Access-Accept so that a code works
once, on every process and node. Both are read by access decisions, so the trigger of 0014
that notes a user's changes watches them too: the policy in memory of every process follows a
code being used.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

# Migration 0014's USER_COLUMNS, as it wrote them.
BEFORE = (
    "subscriber_id",
    "customer_id",
    "username",
    "password",
    "disabled",
    "shared_users",
    "caller_id",
    "caller_id_bind_on_first_use",
    "ip_address",
    "ipv6_dns",
    "wireless_enc_algo",
    "wireless_enc_key",
    "wireless_psk",
    "group_id",
    "attributes",
)
AFTER = (*BEFORE, "otp_secret", "otp_step")

SQLITE_NOTE = (
    "INSERT INTO policy_change (table_name, row_id, user_id, at) VALUES ('user', NEW.id,"
    " NEW.id, strftime('%Y-%m-%d %H:%M:%f', 'now'));"
)


def _watch(columns: tuple[str, ...]) -> None:
    """Make the user table's update trigger (migration 0014's) watch `columns`."""
    of = ", ".join(columns)
    if op.get_bind().dialect.name == "postgresql":
        op.execute('DROP TRIGGER policy_change_user ON "user"')
        op.execute(
            f'CREATE TRIGGER policy_change_user AFTER INSERT OR UPDATE OF {of} OR DELETE ON "user"'
            " FOR EACH ROW EXECUTE FUNCTION policy_change_note('id')"
        )
    else:
        op.execute("DROP TRIGGER policy_change_user_update")
        op.execute(
            f'CREATE TRIGGER policy_change_user_update AFTER UPDATE OF {of} ON "user"'
            f" BEGIN {SQLITE_NOTE} END"
        )


def upgrade() -> None:
    # Plain ADD COLUMNs, not a batch: SQLite would copy the table, and dropping the old `user`
    # with foreign keys on deletes every user-profile row (ON DELETE CASCADE; see 0013).
    op.add_column(
        "user",
        sa.Column("otp_secret", sa.String(length=255), nullable=False, server_default=""),
    )
    op.add_column("user", sa.Column("otp_step", sa.BigInteger(), nullable=True))
    _watch(AFTER)


def downgrade() -> None:
    _watch(BEFORE)
    # Plain DROP COLUMNs (SQLite 3.35+): a batch would copy `user` and lose its triggers, and
    # delete every user-profile row on the way (see upgrade).
    op.drop_column("user", "otp_step")
    op.drop_column("user", "otp_secret")
