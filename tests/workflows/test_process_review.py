"""The process re-engineering review, end to end, with its guards."""

from __future__ import annotations

from typing import Any

import pytest

from csflow.analytics import build_report, read_log, render_html, step_analysis
from csflow.demo import run_demo
from csflow.engine import Engine
from csflow.errors import GuardFailed, InvalidData, RoleNotPermitted
from csflow.model import Actor
from csflow.testing import memory_engine

REVIEWER = Actor("rev-1", "reviewer")
BOSS = Actor("dir-1", "decision_maker")
COMPLIANCE = Actor("co-1", "compliance_officer")
COLLEAGUE = Actor("agent-7", "colleague")


def _to_assessment(engine: Engine, steps: list[dict[str, Any]]) -> str:
    case = engine.start("process_review", {"title": "Complaint handling 2026",
                                           "workflow_reviewed": "complaint",
                                           "sponsor": "Head of Service"}, actor=REVIEWER)
    fire = engine.fire
    fire(case.id, "identify_features", actor=REVIEWER, data={"service_features": [
        {"feature": "Speed of first reply", "affects": "both", "evidence": "CSAT comments"}]})
    fire(case.id, "plan_review", actor=REVIEWER, data={
        "criteria": [{"measure": "sla_attainment", "target": ">= 90%"}],
        "methods": ["step analysis", "interviews"], "service_periods": "week"})
    with pytest.raises(RoleNotPermitted):
        fire(case.id, "agree_boundaries", actor=REVIEWER, data={
            "boundaries": {"starts_at": "recorded", "ends_at": "closed"}})
    fire(case.id, "agree_boundaries", actor=BOSS, data={
        "boundaries": {"starts_at": "recorded", "ends_at": "closed"}})
    fire(case.id, "set_parameters", actor=BOSS, data={"change_parameters": {
        "budget": "20000", "may_change": ["policy", "process", "training"]}})
    fire(case.id, "communicate_aims", actor=REVIEWER, data={
        "aims": "Faster, fairer complaint handling", "audience": ["agents", "team leaders"],
        "via": "briefing"})
    fire(case.id, "identify_steps", actor=REVIEWER, data={"steps": steps})
    return case.id


def _assess(steps: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"step": s["step"], "satisfaction": "neutral", "cost": "low",
             "compliance": "compliant"} for s in steps]


def test_review_runs_end_to_end_on_the_step_analysis_of_a_simulated_week() -> None:
    engine, clock = memory_engine()
    run_demo(engine, clock, cases=40, seed=5)
    steps = step_analysis(read_log(engine.store.iter_events())).review_steps()
    assert [s["step"] for s in steps][:2] == ["recorded", "investigating"]
    rid = _to_assessment(engine, steps)
    fire = engine.fire

    fire(rid, "raise_question", actor=REVIEWER, data={"question": {
        "step": "investigating", "text": "Why do a third of cases come back here?",
        "raised_with": "team leaders"}})
    fire(rid, "answer_question", actor=COLLEAGUE, data={"answer": {
        "step": "investigating", "text": "Customers reopen when the remedy is not explained"}})

    # cannot leave the assessment with a step missing, nor with a judgement missing
    with pytest.raises(GuardFailed, match="steps-missing"):
        fire(rid, "complete_assessment", actor=REVIEWER,
             data={"assessments": _assess(steps)[:-1]})
    doubled = _assess(steps)
    doubled[-1] = dict(doubled[0])  # a repeated row in place of the last step
    with pytest.raises(GuardFailed, match="steps-missing"):
        fire(rid, "complete_assessment", actor=REVIEWER, data={"assessments": doubled})
    partial = _assess(steps)
    del partial[0]["compliance"]
    with pytest.raises(InvalidData, match="compliance"):
        fire(rid, "complete_assessment", actor=REVIEWER, data={"assessments": partial})
    fire(rid, "complete_assessment", actor=REVIEWER, data={"assessments": _assess(steps)})

    fire(rid, "analyse_patterns", actor=REVIEWER, data={
        "findings": ["Reopens follow unexplained remedies"], "report": "report-2026-W02.html"})
    # the methods proved ineffective once: loop back to planning, then round again
    fire(rid, "adapt_approach", actor=REVIEWER, data={
        "why_ineffective": "Interviews did not reach night staff",
        "change_of_approach": "Add a survey"})
    assert engine.get(rid).state == "planning"
    fire(rid, "plan_review", actor=REVIEWER, data={
        "criteria": [{"measure": "reopen_rate", "target": "<= 5%"}],
        "methods": ["step analysis", "survey"], "service_periods": "week"})
    fire(rid, "agree_boundaries", actor=BOSS, data={
        "boundaries": {"starts_at": "recorded", "ends_at": "closed"}})
    fire(rid, "set_parameters", actor=BOSS, data={"change_parameters": {
        "budget": "20000", "may_change": ["policy", "training"]}})
    fire(rid, "communicate_aims", actor=REVIEWER, data={
        "aims": "Fewer reopened complaints", "audience": ["agents"], "via": "email"})
    fire(rid, "identify_steps", actor=REVIEWER, data={"steps": steps})
    fire(rid, "complete_assessment", actor=REVIEWER, data={"assessments": _assess(steps)})
    fire(rid, "analyse_patterns", actor=REVIEWER, data={"findings": ["Same pattern in survey"]})
    fire(rid, "criteria_met", actor=REVIEWER, data={"conclusions": "Explain remedies in writing"})
    fire(rid, "evaluate_options", actor=REVIEWER, data={"options": [{
        "option": "Written remedy summary", "satisfaction_effect": "better",
        "cost_effect": "1500", "compliance_effect": "same",
        "policy_change": "compensation_authority: agents may add 10 goodwill"}]})

    # results need the legal and ethical check, which only compliance can record
    with pytest.raises(GuardFailed, match="not-checked"):
        fire(rid, "communicate_results", actor=REVIEWER, data={
            "summary": "Adopt the written summary", "recipients": ["director"]})
    with pytest.raises(RoleNotPermitted):
        fire(rid, "check_legal_ethical", actor=REVIEWER, data={
            "legal_notes": "ok", "ethical_notes": "ok"})
    fire(rid, "check_legal_ethical", actor=COMPLIANCE, data={
        "legal_notes": "Consumer Rights Act remedies unchanged",
        "ethical_notes": "No customer group disadvantaged"})
    fire(rid, "communicate_results", actor=REVIEWER, data={
        "summary": "Adopt the written summary", "recipients": ["director"]})
    fire(rid, "agree_changes", actor=BOSS, data={"agreed_changes": [
        {"change": "Written remedy summary", "owner": "ops lead"}]})
    fire(rid, "implement_changes", actor=REVIEWER, data={"implementation": {
        "plan": "Template live in the desk", "effective_from": "2026-02-02"}})
    fire(rid, "record_monitoring", actor=REVIEWER, data={"monitoring": {
        "period": "2026-W06", "effect": "reopen rate 6%"}})
    done = fire(rid, "close_review", actor=BOSS, data={"outcome": "Adopted", "periods_monitored": [
        {"period": "2026-W06", "effect": "reopen rate 6%"},
        {"period": "2026-W07", "effect": "reopen rate 4%"}]})
    assert done.state == "closed" and done.terminal
    assert done.data["legal_ethical"]["checked"] is True
    assert done.data["approach_adapted"] is True

    report = build_report(engine.store.iter_events())
    assert [r["state"] for r in report.reviews] == ["closed"]
    assert "Complaint handling 2026" in render_html(report)


def test_an_empty_assessment_is_refused_and_nothing_moves() -> None:
    engine, _ = memory_engine()
    rid = _to_assessment(engine, [{"step": "recorded", "visits": 1}])
    with pytest.raises(InvalidData, match="assessments"):
        engine.fire(rid, "complete_assessment", actor=REVIEWER, data={"assessments": []})
    assert engine.get(rid).state == "assessing_steps"
