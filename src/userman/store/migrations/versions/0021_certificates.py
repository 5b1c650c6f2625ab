"""certificates: the installation's certificates and keys (services/certificates.py)

certificate: one row per certificate made or imported with `userman certificate`, the PEM
chain, the private key sealed at rest (store/secrets.py, like user passwords), the CA here that
issued it, when it was revoked, and a CA's latest CRL. The settings that name them (the EAP
server's `certificate`, `radsec-certificate`, `trusted-ca`) are rows of server_setting.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("chain", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("is_ca", sa.Boolean(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=True),
        sa.Column("revoked", sa.DateTime(), nullable=True),
        sa.Column("crl", sa.Text(), nullable=False),
        sa.Column("crl_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["certificate.id"],
            name=op.f("fk_certificate_issuer_id_certificate"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate")),
        sa.UniqueConstraint("name", name=op.f("uq_certificate_name")),
    )


def downgrade() -> None:
    op.drop_table("certificate")
