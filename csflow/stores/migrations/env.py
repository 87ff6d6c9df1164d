"""Alembic environment for the csflow tables.

Run only through :func:`csflow.stores.sql.upgrade`, which passes the
connection to migrate in ``config.attributes["connection"]``: migrations then
run inside the caller's transaction, so they work on a host application's
connection and commit (or roll back) with it. There is no ``alembic.ini`` and
no URL here on purpose.
"""

from __future__ import annotations

from alembic import context

from csflow.stores._schema import VERSION_TABLE, metadata

context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=metadata,
    # The host's own Alembic history keeps ``alembic_version``.
    version_table=VERSION_TABLE,
    render_as_batch=True,
)
with context.begin_transaction():
    context.run_migrations()
