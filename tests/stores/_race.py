"""Run in a spawned process by test_sql.py: open a store and race another process.

Kept apart from the test module so a child imports little. Both children use
the same first batch (identical content, hence identical hashes), so whichever
creates the case, the winner's second batch links correctly.
"""

from __future__ import annotations

from typing import Any

from csflow.errors import CsflowError
from csflow.stores import SQLStore

from ._chain import extend, start

CASE = "race-1"


def contender(url: str, name: str, barrier: Any, results: Any) -> None:
    outcomes: list[str] = []
    try:
        barrier.wait(60)
        store = SQLStore(url)  # both migrate the fresh database at once
        barrier.wait(60)
        case, batch = start(CASE)
        outcomes.append(_attempt(store, case, batch, 0))
        barrier.wait(60)
        case2, batch2 = extend(case, 1, trigger=f"by_{name}")
        outcomes.append(_attempt(store, case2, batch2, 1))
        store.close()
    except Exception as e:  # reported to the parent, which fails the test with it
        outcomes.append(f"crashed: {type(e).__name__}: {e}")
    results.put((name, outcomes))


def _attempt(store: SQLStore, case: Any, batch: Any, expected: int) -> str:
    try:
        store.append(case, batch, expected)
    except CsflowError as e:
        return type(e).__name__
    return "won"
