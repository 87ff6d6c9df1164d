"""Alembic migrations for the csflow tables; run with :func:`csflow.stores.sql.upgrade`."""
