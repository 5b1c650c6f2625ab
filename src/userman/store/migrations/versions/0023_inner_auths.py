"""user group inner-auths in v7's names, every method inside a tunnel allowed

`inner-auths` is now enforced (EAP-TTLS and PEAP, core/authorize.py) and takes v7's names of
the methods inside a tunnel (ttls-pap, ttls-chap, ttls-mschap1, ttls-mschap2, ttls-eap,
peap-mschap2). Until now it was kept but not enforced, with the outer methods' names and
empty by default: no group can have chosen an inner method, so every group gets them all, as
a new group does.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

ALL = "ttls-pap,ttls-chap,ttls-mschap1,ttls-mschap2,ttls-eap,peap-mschap2"


def upgrade() -> None:
    op.execute(sa.text("UPDATE user_group SET inner_auths = :all").bindparams(all=ALL))


def downgrade() -> None:
    op.execute(sa.text("UPDATE user_group SET inner_auths = ''"))
