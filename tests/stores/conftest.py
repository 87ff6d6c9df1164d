"""Store fixtures: every contract test runs against memory, SQLite and PostgreSQL.

Each PostgreSQL store gets a schema of its own (through ``search_path`` in the
URL), dropped afterwards, so tests neither see each other's rows nor need the
database to be empty.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from csflow.stores import MemoryStore, SQLStore, Store

BACKENDS = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
SQL_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class PgSchemas:
    """Hands out URLs of fresh, empty schemas and drops them at the end."""

    def __init__(self, url: str) -> None:
        self._url = sa.make_url(url)
        self._admin = sa.create_engine(self._url)
        self._made: list[str] = []

    def new_url(self) -> str:
        schema = f"csflow_test_{uuid.uuid4().hex[:12]}"
        with self._admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        self._made.append(schema)
        url = self._url.update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self._admin.begin() as conn:
            for schema in self._made:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        self._admin.dispose()


@pytest.fixture
def new_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``new_db_url(backend)``: the URL of a fresh, empty database of that backend."""
    schemas: PgSchemas | None = None
    count = 0

    def make(backend: str) -> str:
        nonlocal schemas, count
        count += 1
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'store{count}.db'}"
        if schemas is None:
            schemas = PgSchemas(request.getfixturevalue("postgres_url"))
        return schemas.new_url()

    yield make
    if schemas is not None:
        schemas.drop_all()


@pytest.fixture(params=SQL_BACKENDS)
def db_url(request: pytest.FixtureRequest, new_db_url: Callable[[str], str]) -> str:
    """A fresh SQLite file or PostgreSQL schema, without csflow's tables yet."""
    return new_db_url(request.param)


@pytest.fixture(params=BACKENDS)
def new_store(
    request: pytest.FixtureRequest, new_db_url: Callable[[str], str]
) -> Iterator[Callable[[], Store]]:
    """``new_store()``: a fresh, empty store of the parametrized backend (for hypothesis)."""
    opened: list[Store] = []

    def make() -> Store:
        backend: str = request.param
        store: Store = MemoryStore() if backend == "memory" else SQLStore(new_db_url(backend))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(new_store: Callable[[], Store]) -> Store:
    return new_store()
