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
    sa.Column("type", sa.String(), nullable=False),
    sa.Column("trigger", sa.String(), nullable=False),
    sa.Column("occurred_at", Time, nullable=False),
    sa.Column("recorded_at", Time, nullable=False),
    sa.Column("idempotency_key", sa.String(), nullable=True, unique=True),
    sa.Column("hash", sa.String(64), nullable=False),
    # canonical JSON of the event without ``pii``: exactly what was hashed, plus the hash
    sa.Column("payload", sa.Text(), nullable=False),
    # personal data, outside the hashed payload so erasure can blank it; NULL when none
    sa.Column("pii", sa.Text(), nullable=True),
    sa.UniqueConstraint("case_id", "seq"),
)

# Every ruleset version an engine used, by content hash (``RuleSet.version``):
# audit rebuilds the rules then in force from here, never from today's files.
rulesets = sa.Table(
    "csflow_rulesets",
    metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    # canonical JSON of {relative file name: text}
    sa.Column("files", sa.Text(), nullable=False),
    sa.Column("saved_at", Time, nullable=False),
)

# Deliberate changes to stored history (erasure, retention purges) and anchors.
# No foreign key to csflow_cases: a purge record outlives the case it deleted.
audit_records = sa.Table(
    "csflow_audit_records",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(), nullable=False),
    sa.Column("at", Time, nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("case_id", sa.String(), nullable=True, index=True),
    sa.Column("detail", sa.Text(), nullable=False),
)

# SLA and deadline timers of open cases (:class:`csflow._timers.Timer`), one
# row per milestone, deleted once recorded. ``spec`` is the timer's canonical
# JSON; ``due_at`` (NULL while paused) and the lease columns are what claims
# query and update. Rows go with their case (ON DELETE CASCADE).
timers = sa.Table(
    "csflow_timers",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column(
        "case_id",
        sa.String(),
        sa.ForeignKey("csflow_cases.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("due_at", Time, nullable=True, index=True),
    sa.Column("lease_until", Time, nullable=True),
    sa.Column("claimed_by", sa.String(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("spec", sa.Text(), nullable=False),
)

# The transactional outbox (:class:`csflow._outbox.OutboxMessage`): written in
# the append that writes the event (``case_id``, ``seq``), claimed by
# dispatchers through ``next_attempt_at`` and the lease, kept once delivered.
outbox = sa.Table(
    "csflow_outbox",
    metadata,
    sa.Column("position", Position, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(), nullable=False, unique=True),
    sa.Column(
        "case_id",
        sa.String(),
        sa.ForeignKey("csflow_cases.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("message", sa.String(), nullable=False),
    sa.Column("recipient", sa.String(), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("next_attempt_at", Time, nullable=True, index=True),
    sa.Column("lease_until", Time, nullable=True),
    sa.Column("delivered_at", Time, nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
)
