"""The SQL tables, as the code reads and writes them today.

Migrations (``migrations/versions``) are the source of truth for what is in a
database; this module mirrors their head so queries can be built with
SQLAlchemy Core. ``tests/stores/test_sql.py`` compares the two, so they cannot
drift apart silently.

Every name starts with ``csflow_`` because the tables often live in the host
application's own database, next to its own tables and its own Alembic
history (hence ``csflow_alembic_version``, not ``alembic_version``).

Case and event rows carry an integer ``position`` from a global
autoincrement: ``csflow_events.position`` is the order events were recorded
in (audit, analytics and, later, the outbox read it), ``csflow_cases.position``
the order cases were created in. Later tables (timers, outbox, snapshots)
refer to ``csflow_cases.id`` or ``csflow_events.position``.
"""

from __future__ import annotations

import sqlalchemy as sa

VERSION_TABLE = "csflow_alembic_version"

# Explicit constraint names make migrations and error messages stable across
# dialects (PostgreSQL reports them; SQLite names the columns instead).
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only autoincrements an ``INTEGER PRIMARY KEY`` (a rowid alias);
# BIGINT there would be a plain column that stays NULL.
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)

cases = sa.Table(
    "csflow_cases",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(), nullable=False, unique=True),
    sa.Column("workflow", sa.String(), nullable=False),
    sa.Column("workflow_version", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(), nullable=False),
    sa.Column("data", sa.Text(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("last_hash", sa.String(64), nullable=False),
    sa.Column("terminal", sa.Boolean(), nullable=False),
)

events = sa.Table(
    "csflow_events",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(), sa.ForeignKey("csflow_cases.id"), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("type", sa.String(), nullable=False, index=True),
    sa.Column("trigger", sa.String(), nullable=False),
    sa.Column("occurred_at", Time, nullable=False, index=True),
    sa.Column("recorded_at", Time, nullable=False),
    sa.Column("idempotency_key", sa.String(), nullable=True, unique=True),
    sa.Column("hash", sa.String(64), nullable=False),
    # canonical JSON of the event without ``pii``: exactly what was hashed, plus the hash
    sa.Column("payload", sa.Text(), nullable=False),
    # personal data, outside the hashed payload so erasure can blank it; NULL when none
    sa.Column("pii", sa.Text(), nullable=True),
    sa.UniqueConstraint("case_id", "seq"),
)
