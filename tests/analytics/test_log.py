"""What ``read_log`` keeps, and the rules for reading interleaved cases."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from typing import Any

from csflow.analytics import read_log, step_analysis
from csflow.model import Actor, Event

MONDAY = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _event(case: str, seq: int, minutes: int, dest: str, role: str = "agent",
           data: dict[str, Any] | None = None) -> Event:
    when = MONDAY + timedelta(minutes=minutes)
    return Event(case_id=case, seq=seq, type="start" if seq == 1 else "transition",
                 workflow="complaint", workflow_version=1, trigger="move", source=None,
                 dest=dest, actor=Actor(role, role), data=data or {}, decisions=(),
                 occurred_at=when, recorded_at=when, idempotency_key=None, prev_hash="",
                 hash="")


def test_rows_are_the_named_tuples_and_the_collector_stops_tracking_them(
        demo_events: list[Event]) -> None:
    log = read_log(demo_events)
    assert log.case_rows == tuple(tuple(c) for c in log.cases)
    assert log.visit_rows == tuple(tuple(v) for v in log.visits)
    assert log.cases[0].id == log.case_rows[0][0]
    gc.collect()
    assert not any(map(gc.is_tracked, log.visit_rows))
    assert not any(map(gc.is_tracked, log.case_rows))


def test_a_field_cleared_later_keeps_the_last_value_that_was_set() -> None:
    events = [
        _event("c", 1, 0, "recorded", data={"business_area": "retail", "channel": "web"}),
        _event("c", 2, 30, "investigating", data={
            "classification": {"type": "billing", "regulated": True}}),
        _event("c", 3, 60, "analysing", data={
            "business_area": None, "classification": {"severity": "high"}}),
        _event("c", 4, 90, "reviewing_solutions", data={"channel": "email"}),
    ]
    case = read_log(events).cases[0]
    assert (case.area, case.channel, case.category) == ("retail", "email", "billing")
    assert case.regulated  # from the classification before the one without it


def test_equally_common_handoffs_are_listed_in_the_order_the_log_shows_them() -> None:
    # Case a is opened first, but its hand-off (agent to team leader) comes after
    # case b's (agent to customer) in the log.
    events = [
        _event("a", 1, 0, "recorded"),
        _event("b", 1, 10, "recorded"),
        _event("b", 2, 20, "investigating", role="customer"),
        _event("a", 2, 30, "investigating", role="team_leader"),
    ]
    log = read_log(events)
    assert list(log.handoffs) == [("agent", "customer"), ("agent", "team_leader")]
    assert step_analysis(log).handoffs == (("agent", "customer", 1),
                                           ("agent", "team_leader", 1))
