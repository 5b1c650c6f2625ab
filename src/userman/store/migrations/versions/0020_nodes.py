"""nodes on one PostgreSQL: server_node, session_claim, and policy changes notified

Several `userman serve` nodes share one database (README "Nodes on one PostgreSQL"):

- server_node: the serving processes, each registered at start, its `seen` renewed every
  second (store/nodes.py). A process with no live peer decides shared-users from memory; with
  peers, claims go to session_claim. `acknowledged` is the highest peer id for which a node has
  written its claims from memory into session_claim: a starting node waits for it.

- session_claim: an Access-Accept that counts against a shared-users limit claims a place
  before the router is answered (store/claims.py), so two log-ons at once on two nodes never
  both pass; the session's first accounting record takes the place over (the trigger below
  deletes the user's oldest claim when a session row of the user is inserted), and a claim that
  no record takes over lapses after store/claims.py CLAIM_SECONDS.
- On PostgreSQL, every statement that writes policy_change also sends NOTIFY userman_policy
  (delivered at commit, once per transaction), which each node LISTENs to
  (store/notify.py): the change log is read at once, not at the next poll.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 04:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

CHANNEL = "userman_policy"  # store/notify.py listens to it

POSTGRES = [
    f"""CREATE FUNCTION policy_change_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END $$""",
    "CREATE TRIGGER policy_change_notify AFTER INSERT ON policy_change"
    " FOR EACH STATEMENT EXECUTE FUNCTION policy_change_notify()",
    """CREATE FUNCTION session_claim_taken() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM session_claim WHERE id = (
        SELECT id FROM session_claim WHERE user_id = NEW.user_id ORDER BY id LIMIT 1);
    RETURN NULL;
END $$""",
    "CREATE TRIGGER session_claim_taken AFTER INSERT ON session FOR EACH ROW"
    " WHEN (NEW.user_id IS NOT NULL) EXECUTE FUNCTION session_claim_taken()",
]

SQLITE = [
    "CREATE TRIGGER session_claim_taken AFTER INSERT ON session"
    " WHEN NEW.user_id IS NOT NULL BEGIN"
    " DELETE FROM session_claim WHERE id = ("
    "SELECT id FROM session_claim WHERE user_id = NEW.user_id ORDER BY id LIMIT 1); END",
]


def upgrade() -> None:
    op.create_table(
        "server_node",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started", sa.DateTime(), nullable=False),
        sa.Column("seen", sa.DateTime(), nullable=False),
        sa.Column("acknowledged", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_server_node")),
        sqlite_autoincrement=True,  # ids only grow: `acknowledged` compares them
    )
    op.create_table(
        "session_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("router_id", sa.Integer(), nullable=True),
        # The device it was made for with router_id: the same device asking again takes it over.
        sa.Column("calling_station_id", sa.String(length=253), nullable=False, server_default=""),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_session_claim_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_claim")),
    )
    op.create_index(op.f("ix_session_claim_user_id"), "session_claim", ["user_id"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES if postgres else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER session_claim_taken ON session")
        op.execute("DROP FUNCTION session_claim_taken()")
        op.execute("DROP TRIGGER policy_change_notify ON policy_change")
        op.execute("DROP FUNCTION policy_change_notify()")
    else:
        op.execute("DROP TRIGGER session_claim_taken")
    op.drop_index(op.f("ix_session_claim_user_id"), table_name="session_claim")
    op.drop_table("session_claim")
    op.drop_table("server_node")
