"""A small simulated desk in every store, for the audit tests.

The desk is simulated once per session through the Engine (so histories,
decisions, timers and personal data are real), then copied case by case into
each test's fresh store, with the ruleset saved the way the engine does at
start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from csflow.clock import FixedClock
from csflow.demo import run_demo
from csflow.engine import Engine
from csflow.stores import MemoryStore, SQLStore, Store

T0 = datetime(2024, 3, 4, 8, 30, tzinfo=UTC)  # a Monday

BACKENDS = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
SQL_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@dataclass
class Desk:
    store: Store
    url: str | None
    case_ids: tuple[str, ...]
    engine: Engine

    def sql(self, statement: str, **params: object) -> None:
        """Tamper with the database behind csflow's back."""
        assert self.url is not None
        engine = sa.create_engine(self.url)
        with engine.begin() as conn:
            conn.execute(sa.text(statement), params)
        engine.dispose()


@pytest.fixture(scope="session")
def simulated() -> tuple[Engine, tuple[str, ...]]:
    clock = FixedClock(T0)
    engine = Engine(MemoryStore(), clock=clock)
    result = run_demo(engine, clock, cases=12, seed=3)
    return engine, result.case_ids


@pytest.fixture
def make_desk(
    new_db_url: Callable[[str], str], simulated: tuple[Engine, tuple[str, ...]]
) -> Iterator[Callable[[str], Desk]]:
    engine, case_ids = simulated
    opened: list[Store] = []

    def make(backend: str) -> Desk:
        url = None if backend == "memory" else new_db_url(backend)
        store: Store = MemoryStore() if url is None else SQLStore(url)
        opened.append(store)
        assert engine.rules is not None
        store.save_ruleset(engine.rules.version, engine.rules.files)
        for case_id in case_ids:
            store.append(engine.store.load_case(case_id), engine.store.load_events(case_id), 0)
        return Desk(store, url, case_ids, engine)

    yield make
    for store in opened:
        store.close()


@pytest.fixture(params=BACKENDS)
def desk(request: pytest.FixtureRequest, make_desk: Callable[[str], Desk]) -> Desk:
    return make_desk(request.param)


@pytest.fixture(params=SQL_BACKENDS)
def sql_desk(request: pytest.FixtureRequest, make_desk: Callable[[str], Desk]) -> Desk:
    return make_desk(request.param)
