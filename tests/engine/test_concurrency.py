"""Two processes fire on one case with the same expected_version: one wins, the
other gets ConcurrencyConflict, and the chain stays valid. Real SQLite file and
real PostgreSQL, real processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable

import pytest

from csflow import Actor, Engine
from csflow.testing import assert_chain_valid

from ._fire_race import contender

START = {
    "customer": {"id": "c1", "name": "Ann Smith"},
    "channel": "phone",
    "business_area": "delivery",
    "product": "parcel",
    "description": "Late",
    "desired_outcome": "delivery",
}


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_two_processes_same_expected_version(
    backend: str, new_db_url: Callable[[str], str]
) -> None:
    url = new_db_url(backend)
    engine = Engine(url)
    case_ids = [engine.start("complaint", START, actor=Actor("a", "agent")).id for _ in range(20)]
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=contender, args=(url, case_ids, n, barrier, results))
        for n in ("p1", "p2")
    ]
    for p in procs:
        p.start()
    by_name = dict(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(60)
    for i, case_id in enumerate(case_ids):
        assert sorted([by_name["p1"][i], by_name["p2"][i]]) == ["ConcurrencyConflict", "won"]
        events = engine.history(case_id)
        assert [e.seq for e in events] == [1, 2]
        assert_chain_valid(events)
    engine.store.close()
