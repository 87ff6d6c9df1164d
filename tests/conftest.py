"""Fixtures shared by every test area: PostgreSQL access and fresh databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from csflow.stores import MemoryStore, SQLStore, Store

POSTGRES_ENV = "CSFLOW_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL test database, or a visible skip when none is configured."""
    url = os.environ.get(POSTGRES_ENV)
    if not url and os.environ.get("CSFLOW_REQUIRE_POSTGRES"):
        pytest.fail(f"CSFLOW_REQUIRE_POSTGRES is set (CI) but {POSTGRES_ENV} is not")
    if not url:
        pytest.skip(
            f"PostgreSQL not configured: set {POSTGRES_ENV}, "
            "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    return url


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


BACKENDS = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


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
