"""Store fixtures: every contract test runs against memory, SQLite and PostgreSQL.

Each PostgreSQL store gets a schema of its own (through ``search_path`` in the
URL), dropped afterwards, so tests neither see each other's rows nor need the
database to be empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from csflow.stores import MemoryStore, SQLStore, Store

BACKENDS = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
SQL_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


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
