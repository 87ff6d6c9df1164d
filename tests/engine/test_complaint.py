"""The bundled complaint workflow on the bundled rules: guards, recorded decisions."""

from __future__ import annotations

from typing import Any

import pytest

from csflow import Actor, Engine, GuardFailed, replay
from csflow._canonical import event_to_dict
from csflow.testing import assert_chain_valid, assert_decision, memory_engine

AGENT, LEADER, MANAGER = Actor("a1", "agent"), Actor("t1", "team_leader"), Actor("m1", "manager")
START: dict[str, Any] = {
    "customer": {"id": "c-19", "name": "Ann Smith", "email": "ann@example.com"},
    "channel": "email",
    "business_area": "retail",
    "product": "kettle",
    "description": "It leaks",
    "desired_outcome": "a refund",
    "amount_claimed": "60",
}


def classification(**over: Any) -> dict[str, Any]:
    base = {
        "type": "product_fault",
        "severity": "low",
        "vulnerable": False,
        "regulated": False,
        "repeat": False,
    }
    return {"classification": {**base, **over}}


def to_solution_review(engine: Engine, **over: Any) -> str:
    case = engine.start("complaint", START, actor=AGENT)
    engine.fire(case.id, "start_investigation", actor=AGENT, data=classification(**over))
    engine.fire(case.id, "record_findings", actor=AGENT, data={"findings": "Seal failed"})
    engine.fire(
        case.id,
        "complete_analysis",
        actor=AGENT,
        data={"root_cause": "product_defect", "responsibility": "business"},
    )
    return case.id


def approve(amount: str, category: str = "refund") -> dict[str, Any]:
    return {"agreed_solution": {"option": "refund", "category": category, "amount": amount}}


@pytest.fixture()
def engine() -> Engine:
    return memory_engine()[0]


def test_classification_records_the_escalation_decision(engine: Engine) -> None:
    case = engine.start("complaint", START, actor=AGENT)
    case = engine.fire(
        case.id,
        "start_investigation",
        actor=AGENT,
        data=classification(severity="critical", vulnerable=True),
    )
    decision = assert_decision(engine.history(case.id), "escalation")
    assert decision.inputs["severity"] == "critical"
    assert engine.rules is not None and decision.ruleset_version == engine.rules.version
    assert case.data["priority"] == decision.outputs["priority"]
    assert case.data["recommended_level"] == decision.outputs["to_level"]
    assert decision.outputs["escalate"] is True


def test_approval_within_authority_is_recorded(engine: Engine) -> None:
    case_id = to_solution_review(engine)
    case = engine.fire(case_id, "approve_solution", actor=AGENT, data=approve("40"))
    assert case.state == "actioning" and case.data["approved_by"] == "a1"
    assert_decision(engine.history(case_id), "compensation_authority", outputs={"approve": True})


def test_approval_over_authority_is_refused_with_trace_and_writes_nothing(engine: Engine) -> None:
    case_id = to_solution_review(engine)
    before = [event_to_dict(e) for e in engine.store.iter_events()]
    with pytest.raises(GuardFailed) as info:
        engine.fire(case_id, "approve_solution", actor=AGENT, data=approve("5000"))
    refused = info.value
    assert refused.case_id == case_id and refused.state == "reviewing_solutions"
    assert refused.decision.outputs["approve"] is False
    assert refused.decision.outputs["escalate_to"] in ("manager", "director")
    assert refused.decision.trace, "the refusal carries the why-not trace"
    assert any(row.matched for row in refused.decision.trace)
    assert [event_to_dict(e) for e in engine.store.iter_events()] == before
    # Escalate to the level the table named; that level may approve.
    to = refused.decision.outputs["escalate_to"]
    engine.fire(
        case_id,
        "escalate",
        actor=AGENT,
        data={"escalation_reason": "over my authority", "to_level": to},
    )
    case = engine.fire(case_id, "approve_solution", actor=Actor("x", to), data=approve("5000"))
    assert case.state == "actioning" and case.data["handling_level"] == to
    assert_chain_valid(engine.history(case_id))


def test_allowed_defers_guards_that_need_fire_data(engine: Engine) -> None:
    case_id = to_solution_review(engine)
    allowed = engine.allowed(case_id, AGENT)
    assert "approve_solution" in allowed
    assert "compensation_authority" in allowed.notes["approve_solution"]
    assert "withdraw" in allowed.triggers and "confirm_resolved" not in allowed.triggers


def test_replay_needs_no_rules(engine: Engine) -> None:
    """Decision outputs are in the events, so replay reproduces the case without the rules."""
    case_id = to_solution_review(engine)
    engine.fire(case_id, "approve_solution", actor=MANAGER, data=approve("300"))
    wf = engine.workflow("complaint")
    assert replay(wf, engine.history(case_id)) == engine.get(case_id)


def test_full_path_to_closed_and_reopen(engine: Engine) -> None:
    case_id = to_solution_review(engine)
    engine.fire(
        case_id,
        "propose_solutions",
        actor=AGENT,
        data={"solutions": [{"option": "refund", "cost": "40", "customer_impact": "high"}]},
    )
    engine.fire(case_id, "approve_solution", actor=AGENT, data=approve("40"))
    engine.fire(case_id, "complete_action", actor=AGENT, data={"action_taken": "Refunded"})
    case = engine.fire(
        case_id,
        "reopen",
        actor=Actor("c-19", "customer"),
        data={"reopen_reason": "Still leaking", "csat": 2},
    )
    assert case.state == "investigating" and case.data["satisfied"] is False
    engine.fire(case_id, "withdraw", actor=LEADER, data={"withdrawal_reason": "Bought new"})
    case = engine.get(case_id)
    assert case.terminal and case.state == "withdrawn"
