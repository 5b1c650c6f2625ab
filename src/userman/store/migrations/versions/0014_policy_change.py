"""policy_change and the triggers that fill it

The servers decide access from a copy of the policy in memory (services/policy.py). So that each
server sees what any process changes (a command, undo, `database load`, another node, SQL typed
by hand) without reading everything again, the database itself notes every changed row that a
decision depends on: one row of policy_change per row inserted, updated or deleted, with the
user it concerns for the user's own rows (user, user-profile, session). A user's counters and
last-seen are not policy; its user-profile's counters and its sessions are (limits count them).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The user's columns a decision reads (services/policy.py): a change of any other (its counters,
# last-seen, e-mail) writes no row.
USER_COLUMNS = (
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

# Table: (the column that names the user a row concerns, or "" for none; the columns whose
# update is a change, or () for every column).
WATCHED: dict[str, tuple[str, tuple[str, ...]]] = {
    "customer": ("", ()),
    "profile": ("", ()),
    "limitation": ("", ()),
    "profile_limitation": ("", ()),
    "user_group": ("", ()),
    "attribute": ("", ()),
    "user": ("id", USER_COLUMNS),
    "user_profile": ("user_id", ()),
    "session": ("user_id", ()),
}


def _sqlite_note(table: str, row: str, user: str) -> str:
    who = f"{row}.{user}" if user else "NULL"
    return (
        f"INSERT INTO policy_change (table_name, row_id, user_id, at) VALUES ('{table}', {row}.id,"
        f" {who}, strftime('%Y-%m-%d %H:%M:%f', 'now'));"
    )


def _sqlite(table: str, user: str, columns: tuple[str, ...]) -> list[str]:
    of = f" OF {', '.join(columns)}" if columns else ""
    moved = ""
    if user and user != "id":  # a row that moves to another user changes both
        moved = (
            f" INSERT INTO policy_change (table_name, row_id, user_id, at) SELECT '{table}',"
            f" OLD.id, OLD.{user}, strftime('%Y-%m-%d %H:%M:%f', 'now')"
            f" WHERE OLD.{user} IS NOT NEW.{user};"
        )
    return [
        f'CREATE TRIGGER policy_change_{table}_insert AFTER INSERT ON "{table}"'
        f" BEGIN {_sqlite_note(table, 'NEW', user)} END",
        f'CREATE TRIGGER policy_change_{table}_update AFTER UPDATE{of} ON "{table}"'
        f" BEGIN {_sqlite_note(table, 'NEW', user)}{moved} END",
        f'CREATE TRIGGER policy_change_{table}_delete AFTER DELETE ON "{table}"'
        f" BEGIN {_sqlite_note(table, 'OLD', user)} END",
    ]


POSTGRES_FUNCTION = """
CREATE FUNCTION policy_change_note() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    key text := TG_ARGV[0];
    new_row jsonb;
    old_row jsonb;
    writer bigint := pg_current_xact_id()::text::bigint;
BEGIN
    IF TG_OP <> 'DELETE' THEN new_row := to_jsonb(NEW); END IF;
    IF TG_OP <> 'INSERT' THEN old_row := to_jsonb(OLD); END IF;
    IF new_row IS NOT NULL THEN
        INSERT INTO policy_change (table_name, row_id, user_id, xid, at) VALUES (
            TG_TABLE_NAME, (new_row->>'id')::bigint,
            CASE WHEN key = '' THEN NULL ELSE (new_row->>key)::bigint END,
            writer, now() AT TIME ZONE 'utc');
    END IF;
    IF old_row IS NOT NULL AND (new_row IS NULL OR (key NOT IN ('', 'id')
            AND (new_row->>key) IS DISTINCT FROM (old_row->>key))) THEN
        INSERT INTO policy_change (table_name, row_id, user_id, xid, at) VALUES (
            TG_TABLE_NAME, (old_row->>'id')::bigint,
            CASE WHEN key = '' THEN NULL ELSE (old_row->>key)::bigint END,
            writer, now() AT TIME ZONE 'utc');
    END IF;
    RETURN NULL;
END $$
"""


def _postgres(table: str, user: str, columns: tuple[str, ...]) -> list[str]:
    of = f" OF {', '.join(columns)}" if columns else ""
    return [
        f'CREATE TRIGGER policy_change_{table} AFTER INSERT OR UPDATE{of} OR DELETE ON "{table}"'
        f" FOR EACH ROW EXECUTE FUNCTION policy_change_note('{user}')"
    ]


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "policy_change",
        sa.Column("id", big, nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("row_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("xid", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_change")),
    )
    op.create_index(op.f("ix_policy_change_xid"), "policy_change", ["xid"])
    op.create_index(op.f("ix_policy_change_at"), "policy_change", ["at"])
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(POSTGRES_FUNCTION)
    for table, (user, columns) in WATCHED.items():
        for statement in (_postgres if postgres else _sqlite)(table, user, columns):
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in WATCHED:
        if postgres:
            op.execute(f'DROP TRIGGER policy_change_{table} ON "{table}"')
        else:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER policy_change_{table}_{event}")
    if postgres:
        op.execute("DROP FUNCTION policy_change_note()")
    op.drop_index(op.f("ix_policy_change_at"), table_name="policy_change")
    op.drop_index(op.f("ix_policy_change_xid"), table_name="policy_change")
    op.drop_table("policy_change")
