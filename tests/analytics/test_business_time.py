"""The log's business times are the calendar's, though read from offsets.

``read_log`` takes each instant's business offset once and subtracts; these
checks recompute every figure of a simulated week with the calendar's
checked methods (``business_time_between``, ``due_at``) instead.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from csflow.analytics import Visit, read_log
from csflow.model import Event


def _hours(elapsed: timedelta) -> float:
    return elapsed.total_seconds() / 3600  # as the measures were always reported


@pytest.mark.parametrize("days_later", [None, 2, 60])
def test_dwell_and_case_times_match_business_time_between(
    demo_events: list[Event], days_later: int | None
) -> None:
    last = max(e.occurred_at for e in demo_events)
    as_of = None if days_later is None else last + timedelta(days=days_later)
    log = read_log(demo_events, as_of=as_of)
    cal, terminal = log.calendar, log.workflow.terminal_states
    for v in log.visits:
        stop = v.left_at or (v.entered_at if v.state in terminal else log.as_of)
        assert v.hours == _hours(
            cal.business_time_between(v.entered_at, max(stop, v.entered_at)))
    opened = {c.id: c.opened_at for c in log.cases}
    for c in log.cases:
        visits = [v for v in log.visits if v.case_id == c.id]
        ack = visits[1].entered_at if len(visits) > 1 else None
        assert c.ack_hours == (None if ack is None else
                               _hours(cal.business_time_between(opened[c.id], ack)))
        done = next((v.entered_at for v in visits[1:] if v.state in log.spec.resolved_states),
                    None)
        assert c.resolve_hours == (None if done is None else
                                   _hours(cal.business_time_between(opened[c.id], done)))


def test_unpaused_sla_verdicts_match_due_at(demo_events: list[Event]) -> None:
    log = read_log(demo_events, as_of=max(e.occurred_at for e in demo_events)
                   + timedelta(days=3))
    slas = {n: s.sla.target for n, s in log.workflow.states.items() if s.sla is not None}
    pausing = {n for n, s in log.workflow.states.items() if s.pauses_sla}
    checked = 0
    by_case: dict[str, list[Visit]] = {}
    for v in log.visits:
        by_case.setdefault(v.case_id, []).append(v)
    for visits in by_case.values():
        for i, v in enumerate(visits):
            after = visits[i + 1].state if i + 1 < len(visits) else None
            if v.state not in slas or after in pausing or (
                    i and visits[i - 1].state in pausing):
                continue  # paused episodes span several visits; unpaused ones are one
            due = log.calendar.due_at(v.entered_at, slas[v.state])
            expected: bool | None = (v.left_at > due if v.left_at is not None
                                     else (True if log.as_of > due else None))
            assert v.sla_breached == expected
            checked += 1
    assert checked > 50
