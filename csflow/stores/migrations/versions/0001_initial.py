"""Cases and their hash-chained events.

Revision ID: 0001
Revises:
Create Date: 2024-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the types in csflow.stores._schema: a migration must keep
# creating what it created when it was written, whatever the code says later.
_POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "csflow_cases",
        sa.Column("position", _POSITION, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("workflow", sa.String(), nullable=False),
        sa.Column("workflow_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("terminal", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("position", name="pk_csflow_cases"),
        sa.UniqueConstraint("id", name="uq_csflow_cases_id"),
    )
    op.create_table(
        "csflow_events",
        sa.Column("position", _POSITION, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("occurred_at", _TIME, nullable=False),
        sa.Column("recorded_at", _TIME, nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("pii", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("position", name="pk_csflow_events"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["csflow_cases.id"], name="fk_csflow_events_case_id"
        ),
        sa.UniqueConstraint("case_id", "seq", name="uq_csflow_events_case_id_seq"),
        sa.UniqueConstraint("idempotency_key", name="uq_csflow_events_idempotency_key"),
    )
    op.create_index("ix_csflow_events_type", "csflow_events", ["type"])
    op.create_index("ix_csflow_events_occurred_at", "csflow_events", ["occurred_at"])


def downgrade() -> None:
    op.drop_table("csflow_events")
    op.drop_table("csflow_cases")
