"""user passwords and router shared secrets sealed at rest

No change of schema: the clear values that earlier revisions stored are sealed with the
database's key (store/secrets.py), the key file being made beside an SQLite database on the way;
so are the values of those columns that history entries kept. An entry that changed a password
can then no longer be undone (the row is no longer as the entry left it: sealed anew).
A database server with no key file configured keeps them clear; `userman key rotate` seals them
once it has one. Downgrading opens them again (it needs the key file).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 01:00:00.000000
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from userman.store.secrets import PREFIX, keyring_of

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

CHUNK = 10_000
# Each sealed column, by table, with the associated data it is sealed under.
SEALED = {
    "user": ("password", "user.password"),
    "router": ("shared_secret", "router.shared_secret"),
}


def _each(sealed: bool) -> None:
    bind = op.get_bind()
    keyring = keyring_of(bind.dialect)
    if keyring is None:
        return
    for name, (column, purpose) in SEALED.items():
        table = sa.table(name, sa.column("id", sa.Integer), sa.column(column, sa.String))
        value = table.c[column]
        clear = value.not_like(f"{PREFIX}%") if not sealed else value.like(f"{PREFIX}%")
        change = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("row"))
            .values({column: sa.bindparam("stored")})
        )
        after = 0
        while True:  # a part at a time: a million users are not held at once
            rows = bind.execute(
                sa.select(table.c.id, value)
                .where(table.c.id > after, clear, value != "")
                .order_by(table.c.id)
                .limit(CHUNK)
            ).all()
            if not rows:
                break
            after = rows[-1][0]
            convert = keyring.open if sealed else keyring.seal
            bind.execute(change, [{"row": i, "stored": convert(v, purpose)} for i, v in rows])


def _history(sealed: bool) -> None:
    """The values history entries kept of those columns (before and after a change), too."""
    bind = op.get_bind()
    keyring = keyring_of(bind.dialect)
    if keyring is None:
        return
    convert = keyring.open if sealed else keyring.seal
    table = sa.table("history", sa.column("id", sa.Integer), sa.column("changes", sa.Text))
    change = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row"))
        .values(changes=sa.bindparam("text"))
    )
    after = 0
    while True:
        rows = bind.execute(
            sa.select(table.c.id, table.c.changes)
            .where(table.c.id > after)
            .order_by(table.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            break
        after = rows[-1][0]
        params = []
        for row_id, text in rows:
            changes = json.loads(text)
            touched = False
            for sub in changes:
                column, purpose = SEALED.get(sub.get("table"), ("", ""))
                for side in ("before", "after"):
                    values = sub.get(side) or {}
                    value = values.get(column)
                    if isinstance(value, str) and value and value.startswith(PREFIX) == sealed:
                        values[column] = convert(value, purpose)
                        touched = True
            if touched:
                params.append({"row": row_id, "text": json.dumps(changes)})
        if params:
            bind.execute(change, params)


def upgrade() -> None:
    _each(sealed=False)
    _history(sealed=False)


def downgrade() -> None:
    _each(sealed=True)
    _history(sealed=True)
