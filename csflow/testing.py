"""Helpers for people who embed csflow and want to test their use of it.

Everything here is real csflow (the in-memory store keeps the same contract as
the SQL store); it only removes the wall clock and the database file::

    from csflow.testing import memory_engine, assert_decision, assert_chain_valid

    engine, clock = memory_engine()
    case = engine.start("complaint", {...}, actor=Actor("u1", "agent"))
    clock.advance(hours=2)
    ...
    assert_decision(engine.history(case.id), "escalation", outputs={"priority": "high"})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from csflow._canonical import first_break
from csflow.clock import FixedClock
from csflow.engine import Engine
from csflow.model import Decision, Event
from csflow.stores.memory import MemoryStore
from csflow.workflows import WorkflowDef

#: A Monday morning, so business-day arithmetic in tests starts on a working day.
DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def memory_engine(
    *,
    workflows: Iterable[WorkflowDef | str | Path] | None = None,
    rules: Any = None,
    start: datetime = DEFAULT_START,
) -> tuple[Engine, FixedClock]:
    """An Engine on a fresh MemoryStore with a FixedClock; returns both."""
    clock = FixedClock(start)
    return Engine(MemoryStore(), workflows=workflows, rules=rules, clock=clock), clock


def assert_decision(
    events: Sequence[Event],
    name: str,
    *,
    outputs: Mapping[str, Any] | None = None,
    matched: Sequence[str] | None = None,
) -> Decision:
    """The last recorded decision called ``name``; fails unless it gave ``outputs``
    (a subset check) and matched exactly the rows ``matched``."""
    found = [d for e in events for d in e.decisions if d.name == name]
    if not found:
        taken = sorted({d.name for e in events for d in e.decisions})
        raise AssertionError(f"no decision {name!r} was recorded; recorded: {taken or 'none'}")
    decision = found[-1]
    if outputs is not None:
        wrong = {
            k: (decision.outputs.get(k), v)
            for k, v in outputs.items()
            if decision.outputs.get(k) != v
        }
        if wrong:
            raise AssertionError(
                f"decision {name!r}: "
                + "; ".join(
                    f"{k} was {got!r}, expected {want!r}" for k, (got, want) in wrong.items()
                )
            )
    if matched is not None and tuple(matched) != decision.matched:
        raise AssertionError(
            f"decision {name!r} matched rows {list(decision.matched)}, expected {list(matched)}"
        )
    return decision


def assert_chain_valid(events: Iterable[Event]) -> None:
    """Fails with the first broken link if the events do not verify as one chain."""
    broken = first_break(events)
    if broken is not None:
        raise AssertionError(str(broken))


__all__ = [
    "DEFAULT_START",
    "FixedClock",
    "MemoryStore",
    "assert_chain_valid",
    "assert_decision",
    "memory_engine",
]
