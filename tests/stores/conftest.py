"""Store fixtures: every contract test runs against memory, SQLite and PostgreSQL.

Each PostgreSQL store gets a schema of its own (through ``search_path`` in the
URL), dropped afterwards, so tests neither see each other's rows nor need the
database to be empty.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

SQL_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=SQL_BACKENDS)
def db_url(request: pytest.FixtureRequest, new_db_url: Callable[[str], str]) -> str:
    """A fresh SQLite file or PostgreSQL schema, without csflow's tables yet."""
    return new_db_url(request.param)


