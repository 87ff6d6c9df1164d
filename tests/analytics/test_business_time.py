"""The log's business times are the calendar's, though read from offsets.

``read_log`` takes each instant's business offset once and subtracts; these
checks recompute every figure of a simulated week with the calendar's
checked methods (``business_time_between``, ``due_at``) instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csflow.analytics import Visit, read_log
from csflow.model import Actor, Event


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


@pytest.mark.parametrize("days_later", [0, 30])
def test_paused_sla_verdicts_match_due_at_with_the_pauses(demo_events: list[Event],
                                                           days_later: int) -> None:
    """A stay in an SLA state, out to a pausing state and back, is one episode
    whose due time skips the pause; every stay of it gets the episode's verdict."""
    log = read_log(demo_events, as_of=max(e.occurred_at for e in demo_events)
                   + timedelta(days=days_later))
    states = log.workflow.states
    by_case: dict[str, list[Visit]] = {}
    for v in log.visits:
        by_case.setdefault(v.case_id, []).append(v)
    paused = 0
    for visits in by_case.values():
        i = 0
        while i < len(visits):
            sla = states[visits[i].state].sla
            if sla is None:
                i += 1
                continue
            members, pauses, j = [visits[i]], [], i
            while (j + 2 < len(visits) and states[visits[j + 1].state].pauses_sla
                   and visits[j + 2].state == visits[i].state):
                pauses.append((visits[j + 1].entered_at, visits[j + 2].entered_at))
                members.append(visits[j + 2])
                j += 2
            stop = members[-1].left_at  # a pause that never came back: as it began
            due = log.calendar.due_at(visits[i].entered_at, sla.target, pauses)
            expected = (stop > due) if stop is not None else (True if log.as_of > due else None)
            assert [m.sla_breached for m in members] == [expected] * len(members)
            paused += bool(pauses)
            i = j + 1
    assert paused > 3


def _event(seq: int, when: datetime, dest: str, trigger: str = "move") -> Event:
    return Event(case_id="c1", seq=seq, type="start" if seq == 1 else "transition",
                 workflow="complaint", workflow_version=1, trigger=trigger, source=None,
                 dest=dest, actor=Actor("a1", "agent"), data={}, decisions=(),
                 occurred_at=when, recorded_at=when, idempotency_key=None, prev_hash="",
                 hash="")


def test_a_fortnight_waiting_for_the_customer_does_not_count_against_the_sla() -> None:
    # Investigating (5 business days) Monday 5 January 10:00 to Tuesday, then
    # awaiting the customer for two weeks, then investigating to Friday 23rd.
    monday = datetime(2026, 1, 5, 10, tzinfo=UTC)
    events = [_event(1, monday - timedelta(hours=1), "recorded"),
              _event(2, monday, "investigating"),
              _event(3, monday + timedelta(days=1), "awaiting_customer"),
              _event(4, monday + timedelta(days=15), "investigating"),
              _event(5, monday + timedelta(days=18), "analysing")]
    log = read_log(events)
    investigating = [v for v in log.visits if v.state == "investigating"]
    assert [v.sla_breached for v in investigating] == [False, False]
    due = log.calendar.due_at(monday, "5 business days",
                              [(events[2].occurred_at, events[3].occurred_at)])
    assert due > events[4].occurred_at > log.calendar.due_at(monday, "5 business days")
