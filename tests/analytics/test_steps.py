"""Step analysis: business-time dwell, rework, hand-offs, paths."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csflow.analytics import read_log, step_analysis
from csflow.model import Actor, Event
from csflow.testing import memory_engine

AGENT, LEADER, CUSTOMER = Actor("a", "agent"), Actor("t", "team_leader"), Actor("c", "customer")
CLASS = {"type": "delivery", "severity": "low", "vulnerable": False, "regulated": False,
         "repeat": False}
INTAKE = {"customer": {"id": "c", "name": "Bo"}, "channel": "web", "business_area": "delivery",
          "product": "parcel", "description": "Late", "desired_outcome": "refund"}


def _reopened_case() -> list[Event]:
    """Friday 16:00 recorded; Monday 10:00 investigated (2.5 business hours later: the
    weekend does not count); findings, then confirming, reopened, back to investigating."""
    engine, clock = memory_engine(start=datetime(2026, 1, 9, 16, 0, tzinfo=UTC))
    case = engine.start("complaint", INTAKE, actor=AGENT)
    clock.set(datetime(2026, 1, 12, 10, 0, tzinfo=UTC))
    engine.fire(case.id, "start_investigation", actor=AGENT, data={"classification": CLASS})
    clock.advance(hours=3)
    engine.fire(case.id, "record_findings", actor=AGENT, data={"findings": "x"})
    engine.fire(case.id, "complete_analysis", actor=AGENT,
                data={"root_cause": "third_party", "responsibility": "third_party"})
    engine.fire(case.id, "approve_solution", actor=AGENT, data={"agreed_solution": {
        "option": "refund", "category": "refund", "amount": "20"}})
    engine.fire(case.id, "complete_action", actor=AGENT, data={"action_taken": "Refunded"})
    clock.advance(hours=1)
    engine.fire(case.id, "reopen", actor=CUSTOMER, data={"reopen_reason": "Still late"})
    clock.advance(hours=2)
    engine.fire(case.id, "record_findings", actor=LEADER, data={"findings": "y"})
    return list(engine.store.iter_events())


def test_dwell_rework_handoffs_and_cost_per_step() -> None:
    log = read_log(_reopened_case())
    steps = {s.step: s for s in step_analysis(log).steps}
    assert steps["recorded"].dwell_mean == pytest.approx(2.5)  # Fri 16:00-17:30, Mon 9-10
    inv = steps["investigating"]
    assert (inv.visits, inv.cases, inv.rework, inv.rework_cases) == (2, 1, 1, 1)
    assert inv.dwell_median == pytest.approx(2.5)  # 3 h, then 2 h
    assert inv.handoffs == 1  # customer reopened, team leader took it on
    assert inv.cost == pytest.approx(6 + 9)  # agent's findings, then the team leader's
    assert steps["closed"].visits == 0 and steps["closed"].dwell_mean is None
    assert log.cases[0].remedy == 2000


def test_paths_and_the_prefill_for_a_review() -> None:
    analysis = step_analysis(read_log(_reopened_case()))
    assert analysis.paths[0].path == (
        "recorded", "investigating", "analysing", "reviewing_solutions", "actioning",
        "confirming", "investigating", "analysing")
    assert analysis.paths[0].share == 1.0
    rows = analysis.review_steps()
    assert [r["step"] for r in rows][:3] == ["recorded", "investigating", "awaiting_customer"]
    assert rows[1]["rework"] == 1 and "dwell_hours" in rows[1]
    assert ("agent", "customer", 1) in analysis.handoffs


def test_demo_week_every_step_is_accounted_for(demo_events: list[Event]) -> None:
    log = read_log(demo_events)
    analysis = step_analysis(log)
    assert sum(s.visits for s in analysis.steps) == len(log.visits)
    assert all(s.breach_share is None or 0 <= s.breach_share <= 1 for s in analysis.steps)
    assert sum(p.cases for p in analysis.paths) <= len(log.cases)
