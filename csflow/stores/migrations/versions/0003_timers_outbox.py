"""SLA and deadline timers, and the transactional outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2024-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copies of the types in csflow.stores._schema (see 0001).
_POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "csflow_timers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("due_at", _TIME, nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_csflow_timers"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["csflow_cases.id"], name="fk_csflow_timers_case_id",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_csflow_timers_case_id", "csflow_timers", ["case_id"])
    op.create_index("ix_csflow_timers_due_at", "csflow_timers", ["due_at"])
    op.create_table(
        "csflow_outbox",
        sa.Column("position", _POSITION, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("case_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("position", name="pk_csflow_outbox"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["csflow_cases.id"], name="fk_csflow_outbox_case_id",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("id", name="uq_csflow_outbox_id"),
    )
    op.create_index("ix_csflow_outbox_case_id", "csflow_outbox", ["case_id"])
    op.create_index("ix_csflow_outbox_next_attempt_at", "csflow_outbox", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_table("csflow_outbox")
    op.drop_table("csflow_timers")
