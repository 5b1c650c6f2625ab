"""router require-message-authenticator yes/no/auto, and when a router first signed

`require_message_authenticator` becomes text: `yes`, `no` or `auto` (FreeRADIUS 3.2.5's
`require_message_authenticator = auto`, the default of a router added from now on). Every
router keeps what it had: true becomes `yes`, false `no`. `message_authenticator_seen` is when
an `auto` router first sent a signed Access-Request, after which it must sign every one.

The column is converted in place (add, copy, drop, rename) rather than by a batch copy of the
table: on SQLite that copy drops `router`, and with it, through their foreign keys, its
counters, CoA requests and the router of every session and log row.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-28 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "router",
        sa.Column("require_ma", sa.String(length=8), nullable=False, server_default="auto"),
    )
    op.execute(
        "UPDATE router SET require_ma = CASE WHEN require_message_authenticator"
        " THEN 'yes' ELSE 'no' END"
    )
    op.drop_column("router", "require_message_authenticator")
    op.execute("ALTER TABLE router RENAME COLUMN require_ma TO require_message_authenticator")
    op.add_column("router", sa.Column("message_authenticator_seen", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.add_column(
        "router",
        sa.Column("require_ma", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    # An `auto` router that never signed was answered unsigned: it goes back to `no`.
    op.execute(
        "UPDATE router SET require_ma = (require_message_authenticator = 'yes'"
        " OR message_authenticator_seen IS NOT NULL)"
    )
    op.drop_column("router", "message_authenticator_seen")
    op.drop_column("router", "require_message_authenticator")
    op.execute("ALTER TABLE router RENAME COLUMN require_ma TO require_message_authenticator")
