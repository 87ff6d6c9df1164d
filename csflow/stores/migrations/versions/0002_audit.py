"""Ruleset versions and the audit record log.

Revision ID: 0002
Revises: 0001
Create Date: 2024-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies of the types in csflow.stores._schema (see 0001).
_POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "csflow_rulesets",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("saved_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_csflow_rulesets"),
    )
    op.create_table(
        "csflow_audit_records",
        sa.Column("position", _POSITION, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("case_id", sa.String(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_csflow_audit_records"),
    )
    op.create_index("ix_csflow_audit_records_case_id", "csflow_audit_records", ["case_id"])


def downgrade() -> None:
    op.drop_table("csflow_audit_records")
    op.drop_table("csflow_rulesets")
