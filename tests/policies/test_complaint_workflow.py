"""The complaint workflow stores what the policy packs compute, through the Engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from csflow import Actor
from csflow.errors import CalendarError, CaseNotFound, GuardFailed, InvalidFacts
from csflow.testing import assert_decision, memory_engine

AGENT = Actor("a1", "agent")
TEAM_LEADER = Actor("t1", "team_leader")
# Thursday 17 April 2025, 14:00 BST: Good Friday and Easter Monday follow.
THURSDAY = datetime(2025, 4, 17, 13, 0, tzinfo=UTC)


def _complaint(**extra: Any) -> dict[str, Any]:
    return {
        "customer": {"id": "c1", "name": "Ann Smith"},
        "channel": "email",
        "business_area": "retail",
        "product": "kettle",
        "description": "It stopped working",
        "desired_outcome": "a refund",
        **extra,
    }


def _to_review(engine: Any, case_id: str) -> Any:
    classification = {"type": "product_fault", "severity": "low", "vulnerable": False,
                      "regulated": False, "repeat": False}
    engine.fire(case_id, "start_investigation", actor=AGENT,
                data={"classification": classification})
    engine.fire(case_id, "record_findings", actor=AGENT, data={"findings": "Element failed"})
    return engine.fire(case_id, "complete_analysis", actor=AGENT,
                       data={"root_cause": "product_defect", "responsibility": "business"})


def test_recording_stores_service_standard_due_times() -> None:
    engine, _ = memory_engine(start=THURSDAY)
    case = engine.start("complaint", _complaint(), actor=AGENT)
    # Retail written complaints: acknowledge in 4, respond in 17, resolve in 42.5
    # working hours; 3.5 of them on Thursday, then nothing until Tuesday.
    assert case.data["due"] == {
        "acknowledge_by": "2025-04-22T08:30:00Z",
        "respond_by": "2025-04-23T13:00:00Z",
        "resolve_by": "2025-04-28T13:00:00Z",
    }
    assert "src_deadline" not in case.data["due"]
    assert_decision(engine.history(case.id), "service_standards", matched=["retail-written"])


def test_a_regulated_complaint_gets_the_fca_deadlines_of_its_region() -> None:
    engine, _ = memory_engine(start=THURSDAY)
    regulated = {"region": "scotland", "kind": "payment_services", "received_on": "2025-04-17"}
    case = engine.start("complaint", _complaint(business_area="subscriptions",
                                                regulated=regulated), actor=AGENT)
    due = case.data["due"]
    assert due["src_deadline"] == "2025-04-23"  # Easter Monday is worked in Scotland
    assert due["final_response_due"] == "2025-05-12"
    assert due["extended_final_response_due"] == "2025-06-10"
    assert_decision(engine.history(case.id), "fca_complaint_deadlines",
                    matched=["payment-services-scotland"])


def test_a_date_the_calendars_do_not_cover_refuses_the_complaint_and_writes_nothing() -> None:
    engine, _ = memory_engine(start=THURSDAY)
    regulated = {"region": "england_wales", "kind": "standard", "received_on": "1999-12-31"}
    with pytest.raises(CalendarError, match="received_on=1999-12-31"):
        engine.start("complaint", _complaint(regulated=regulated), actor=AGENT, case_id="x")
    with pytest.raises(CaseNotFound):
        engine.get("x")


def test_solution_review_proposes_the_legal_remedy_and_authority_decides_the_approval() -> None:
    engine, _ = memory_engine(start=THURSDAY)
    purchase = {"delivered_on": "2025-04-01", "reported_on": "2025-04-17", "price": "450.00"}
    case = engine.start("complaint", _complaint(purchase=purchase), actor=AGENT)
    case = _to_review(engine, case.id)
    assert case.state == "reviewing_solutions"
    assert case.data["legal_remedy"] == {
        "remedy": "full_refund", "short_term_reject_until": "2025-05-01",
        "refund_due_within_days": 14, "deduction_for_use_allowed": False,
        "burden_on_trader": True,
    }
    refund = {"agreed_solution": {"option": "refund", "category": "refund", "amount": "450.00"}}
    with pytest.raises(GuardFailed) as refused:
        engine.fire(case.id, "approve_solution", actor=AGENT, data=refund)
    assert refused.value.decision.outputs["escalate_to"] == "team_leader"
    case = engine.fire(case.id, "approve_solution", actor=TEAM_LEADER, data=refund)
    assert case.state == "actioning"
    assert_decision(engine.history(case.id), "compensation_authority",
                    outputs={"approve": True}, matched=["team_leader-refund"])


def test_a_paused_repair_is_taken_into_account() -> None:
    engine, _ = memory_engine(start=THURSDAY)
    purchase = {"delivered_on": "2025-03-01", "repair_requested_on": "2025-03-11",
                "goods_returned_on": "2025-03-20", "reported_on": "2025-04-11",
                "failed_repairs_or_replacements": 1}
    case = engine.start("complaint", _complaint(purchase=purchase), actor=AGENT)
    case = _to_review(engine, case.id)
    assert case.data["legal_remedy"]["remedy"] == "price_reduction_or_final_rejection"
    assert case.data["legal_remedy"]["short_term_reject_until"] == "2025-04-10"


def test_without_purchase_facts_no_remedy_is_proposed() -> None:
    engine, _ = memory_engine(start=THURSDAY)
    case = engine.start("complaint", _complaint(), actor=AGENT)
    case = _to_review(engine, case.id)
    assert "legal_remedy" not in case.data
    names = {d.name for e in engine.history(case.id) for d in e.decisions}
    assert "uk_goods_remedy" not in names


def test_impossible_purchase_facts_refuse_the_step_naming_the_fact() -> None:
    engine, _ = memory_engine(start=THURSDAY)
    purchase = {"delivered_on": "2025-03-01", "repair_requested_on": "2025-03-11",
                "goods_returned_on": "2025-03-10", "reported_on": "2025-04-11"}
    case = engine.start("complaint", _complaint(purchase=purchase), actor=AGENT)
    with pytest.raises(InvalidFacts) as err:
        _to_review(engine, case.id)
    assert err.value.input == "goods_returned_on"
    assert engine.get(case.id).state == "analysing"
