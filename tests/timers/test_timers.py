"""SLA and deadline timers through the engine, on every store: start, warn, breach,
pause, resume, stop, late milestones, breach actions, exactly-once firing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csflow import Actor, Engine, InvalidData, replay
from csflow._canonical import first_break
from csflow._timers import Timer, plan_transition
from csflow.calendars import CalendarRegistry
from csflow.clock import FixedClock
from csflow.model import Case, Event

from .conftest import DESK

AGENT = Actor("u1", "agent")


def t(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in the week of Monday 2026-01-05 (UTC = London time in January)."""
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def timeline(engine: Engine, case_id: str) -> list[tuple[str, str]]:
    return [(e.type, e.trigger) for e in engine.history(case_id)]


def check_history(engine: Engine, case_id: str) -> list[Event]:
    """The chain verifies and replaying it gives exactly the stored snapshot."""
    history = engine.history(case_id)
    assert first_break(history) is None
    wf = engine.workflow(history[-1].workflow, history[-1].workflow_version)
    assert replay(wf, history) == engine.get(case_id)
    return history


def due(engine: Engine, case_id: str) -> dict[str, datetime | None]:
    return {x.id.split(":", 1)[1]: x.due_at for x in engine.timers(case_id)}


def test_sla_starts_with_the_state_warns_and_breaches_once(desk: tuple[Engine, FixedClock]) -> None:
    engine, clock = desk
    case = engine.start("desk", {}, actor=AGENT)
    assert due(engine, case.id) == {
        "sla:open:1:warning": t(5, 10), "sla:open:1:breach": t(5, 11)}

    clock.set(t(5, 9, 59))
    assert engine.run_due().claimed == 0
    clock.set(t(5, 10, 30))
    assert engine.run_due().fired == 1
    clock.set(t(5, 12))
    report = engine.run_due()
    assert (report.claimed, report.fired) == (1, 1)
    assert engine.run_due().claimed == 0
    assert engine.timers(case.id) == []

    assert timeline(engine, case.id) == [
        ("start", "start"), ("timer", "sla_warning"), ("timer", "sla_breached")]
    history = check_history(engine, case.id)
    breach = history[-1]
    assert (breach.source, breach.dest, breach.actor) == ("open", "open", Actor("system", "system"))
    assert breach.occurred_at == t(5, 12)  # recorded when fired, due time kept in the data
    assert engine.get(case.id).data["sla"]["open"] == {
        "warning_at": "2026-01-05T10:00:00Z", "outcome": "breached",
        "due_at": "2026-01-05T11:00:00Z"}
    messages = [m.message for m in engine.store.outbox_messages(case.id)]
    assert messages == ["acknowledge", "sla_warning", "sla_breached"]


def test_leaving_in_time_records_met_and_cancels(desk: tuple[Engine, FixedClock]) -> None:
    engine, clock = desk
    case = engine.start("desk", {}, actor=AGENT)
    clock.set(t(5, 10, 30))  # after the warning time, before anyone fired it
    case = engine.fire(case.id, "take", actor=AGENT)
    # the warning that passed unfired is recorded, the clock is met, then the transition
    assert timeline(engine, case.id)[1:] == [
        ("timer", "sla_warning"), ("timer", "sla_met"), ("transition", "take")]
    assert set(due(engine, case.id)) == {"sla:working:4:warning", "sla:working:4:breach"}
    assert case.data["sla"]["open"]["outcome"] == "met"
    clock.set(t(5, 12))
    assert engine.run_due().claimed == 0  # the open clock's timers are gone
    check_history(engine, case.id)


def test_a_breach_nobody_fired_is_recorded_by_the_transition_that_stops_it(
    desk: tuple[Engine, FixedClock],
) -> None:
    engine, clock = desk
    case = engine.start("desk", {}, actor=AGENT)
    clock.set(t(6, 9))  # workers were down all day
    engine.fire(case.id, "take", actor=AGENT)
    assert timeline(engine, case.id)[1:] == [
        ("timer", "sla_warning"), ("timer", "sla_breached"), ("transition", "take")]
    assert engine.get(case.id).data["sla"]["open"]["outcome"] == "breached"
    check_history(engine, case.id)


def test_pause_stops_the_clock_and_resume_moves_the_due_time(
    desk: tuple[Engine, FixedClock],
) -> None:
    engine, clock = desk
    case = engine.start("desk", {}, actor=AGENT)
    case = engine.fire(case.id, "take", actor=AGENT)  # Mon 09:00, 1 business day
    breach = f"sla:working:{case.version}:breach"
    assert due(engine, case.id)[breach] == t(6, 17, 30)

    clock.set(t(5, 11))
    case = engine.fire(case.id, "ask", actor=AGENT)
    assert set(due(engine, case.id).values()) == {None}
    clock.set(t(8, 11))  # three days later
    assert engine.run_due().claimed == 0  # paused clocks never come due
    case = engine.fire(case.id, "answer", actor=AGENT)
    assert due(engine, case.id)[breach] == t(9, 17, 30)  # + the 3 business days paused
    assert case.data.get("sla", {}).get("working") is None  # nothing recorded yet

    clock.set(t(9, 18))
    assert engine.run_due().fired == 2  # warning, then breach
    assert timeline(engine, case.id)[-2:] == [("timer", "sla_warning"), ("timer", "sla_breached")]
    assert engine.get(case.id).data["escalated"] is True  # on_breach: escalate
    assert [m.message for m in engine.store.outbox_messages(case.id)][-1] == "sla_escalated"
    check_history(engine, case.id)


def test_a_state_entered_again_gets_a_fresh_clock(desk: tuple[Engine, FixedClock]) -> None:
    engine, clock = desk
    case = engine.start("desk", {}, actor=AGENT)
    case = engine.fire(case.id, "take", actor=AGENT)
    case = engine.fire(case.id, "submit", actor=AGENT)
    clock.advance(minutes=10)
    case = engine.fire(case.id, "finish", actor=AGENT)
    assert engine.timers(case.id) == []
    met = [e for e in engine.history(case.id) if e.trigger == "sla_met"]
    assert [e.source for e in met] == ["open", "working", "review"]


def test_breach_action_fires_its_trigger_in_the_same_append(
    desk: tuple[Engine, FixedClock],
) -> None:
    engine, clock = desk
    case = engine.start("desk", {}, actor=AGENT)
    case = engine.fire(case.id, "take", actor=AGENT)
    case = engine.fire(case.id, "submit", actor=AGENT)
    clock.advance(hours=1)
    assert engine.run_due().fired == 1
    case = engine.get(case.id)
    assert (case.state, case.terminal) == ("expired", True)
    tail = engine.history(case.id)[-2:]
    assert [(e.trigger, e.idempotency_key) for e in tail] == [
        ("sla_breached", f"timer:{case.id}:sla:review:5:breach"),
        ("expire", f"timer:{case.id}:sla:review:5:breach:expire"),
    ]
    assert engine.timers(case.id) == []
    check_history(engine, case.id)


def test_deadline_from_a_data_field_follows_the_field(desk: tuple[Engine, FixedClock]) -> None:
    engine, clock = desk
    case = engine.start("desk", {"respond_by": "2026-01-07T12:00:00Z"}, actor=AGENT)
    assert due(engine, case.id)["deadline:respond_by:1:breach"] == t(7, 12)
    case = engine.fire(case.id, "note", actor=AGENT, data={"respond_by": "2026-01-08T12:00:00Z"})
    assert due(engine, case.id)["deadline:respond_by:2:breach"] == t(8, 12)
    assert "deadline:respond_by:1:breach" not in due(engine, case.id)

    clock.set(t(8, 13))
    engine.run_due()
    case = engine.get(case.id)
    assert case.data["deadlines"]["respond_by"] == {
        "outcome": "breached", "due_at": "2026-01-08T12:00:00Z"}
    # a later transition does not re-arm a deadline already breached
    engine.fire(case.id, "take", actor=AGENT)
    assert not any(k.startswith("deadline") for k in due(engine, case.id))
    check_history(engine, case.id)


def test_deadline_met_by_reaching_its_state(desk: tuple[Engine, FixedClock]) -> None:
    engine, _ = desk
    case = engine.start("desk", {"respond_by": "2026-01-07T12:00:00Z"}, actor=AGENT)
    engine.fire(case.id, "take", actor=AGENT)
    case = engine.fire(case.id, "submit", actor=AGENT)
    assert case.data["deadlines"]["respond_by"]["outcome"] == "met"
    assert not any(k.startswith("deadline") for k in due(engine, case.id))


def test_deadline_field_that_is_no_time_is_refused_and_nothing_written(
    desk: tuple[Engine, FixedClock],
) -> None:
    engine, _ = desk
    wf = engine.workflow("desk")
    bad = wf.deadlines[0]
    from csflow._timers import deadline_due

    with pytest.raises(ValueError, match="respond_by: 'soon' is not an ISO date"):
        deadline_due("soon", bad, engine.calendars)
    assert deadline_due("2026-01-07", bad, engine.calendars) == t(8, 0)  # end of that day


def test_refused_transition_leaves_timers_and_outbox_alone(desk: tuple[Engine, FixedClock]) -> None:
    engine, _ = desk
    case = engine.start("desk", {}, actor=AGENT)
    before = engine.timers(case.id)
    with pytest.raises(InvalidData):
        engine.fire(case.id, "take", actor=AGENT, data={"oops": 1})
    assert engine.timers(case.id) == before
    assert len(engine.store.outbox_messages(case.id)) == 1


def test_a_timer_fires_once_however_often_it_is_fired(desk: tuple[Engine, FixedClock]) -> None:
    engine, clock = desk
    case = engine.start("desk", {}, actor=AGENT)
    clock.set(t(5, 10, 30))
    [warning] = engine.store.claim_timers(
        clock.now(), limit=10, lease_until=clock.now() + timedelta(minutes=5), worker="w1")
    assert engine.fire_timer(warning) is not None
    assert engine.fire_timer(warning) is None  # already recorded: nothing new
    assert timeline(engine, case.id).count(("timer", "sla_warning")) == 1


def test_a_dead_workers_claim_is_free_again_after_its_lease(
    desk: tuple[Engine, FixedClock],
) -> None:
    engine, clock = desk
    case = engine.start("desk", {}, actor=AGENT)
    clock.set(t(5, 10, 30))
    lease = timedelta(minutes=5)
    first = engine.store.claim_timers(clock.now(), limit=10, lease_until=clock.now() + lease,
                                      worker="dies")
    assert len(first) == 1  # then the worker is killed before firing
    assert engine.run_due(lease=lease).claimed == 0  # still leased
    clock.advance(minutes=6)
    report = engine.run_due(lease=lease)
    assert (report.claimed, report.fired) == (1, 1)
    [again] = [x for x in engine.store.iter_timers() if x.id == first[0].id] or [None]
    assert again is None
    assert timeline(engine, case.id).count(("timer", "sla_warning")) == 1


def test_concurrent_claims_are_disjoint(desk: tuple[Engine, FixedClock]) -> None:
    engine, clock = desk
    for _ in range(6):
        engine.start("desk", {}, actor=AGENT)
    clock.set(t(5, 12))
    until = clock.now() + timedelta(minutes=1)
    a = engine.store.claim_timers(clock.now(), limit=5, lease_until=until, worker="a")
    b = engine.store.claim_timers(clock.now(), limit=20, lease_until=until, worker="b")
    assert len(a) == 5 and len(b) == 7
    assert not {x.id for x in a} & {x.id for x in b}
    assert all(x.attempts == 1 for x in a + b)
    assert [x.due_at for x in a] == sorted(x.due_at for x in a)


def test_timer_changes_commit_with_the_event_or_not_at_all(
    desk: tuple[Engine, FixedClock],
) -> None:
    engine, _ = desk
    case = engine.start("desk", {}, actor=AGENT)
    stale: Case = case
    engine.fire(case.id, "note", actor=AGENT, data={"text": "hi"})
    batch_engine = engine
    # build the "take" append on the stale snapshot: the store must refuse it whole
    from csflow.engine import _Batch

    b = _Batch(stale, batch_engine.clock.now())
    wf = engine.workflow("desk")
    compiled = batch_engine._compiled_for(wf.name, wf.version)
    batch_engine._step(b, compiled, wf.transitions[0], AGENT, None, None, "working")
    assert b.timer_changes() and b.outbox == []
    from csflow.errors import ConcurrencyConflict

    with pytest.raises(ConcurrencyConflict):
        batch_engine._write(b)
    assert set(due(engine, case.id)) == {"sla:open:1:warning", "sla:open:1:breach"}
    assert engine.get(case.id).state == "open"


def test_regulatory_deadlines_from_the_policy_pack_become_timers() -> None:
    from csflow.testing import memory_engine

    engine, clock = memory_engine()
    case = engine.start("complaint", {
        "customer": {"id": "c1", "name": "Zoë"}, "channel": "email", "business_area": "retail",
        "product": "current account", "description": "charged twice", "desired_outcome": "refund",
        "regulated": {"received_on": "2026-01-05", "region": "england_wales", "kind": "standard"},
    }, actor=AGENT)
    assert case.data["due"]["src_deadline"] == "2026-01-08"
    deadlines = {k: v for k, v in due(engine, case.id).items() if k.startswith("deadline")}
    assert deadlines == {  # the end of the due date in London
        "deadline:due.src_deadline:1:breach": t(9, 0),
        "deadline:due.final_response_due:1:breach": datetime(2026, 3, 3, tzinfo=UTC)}
    clock.set(t(9, 1))
    engine.run_due()
    case = engine.get(case.id)
    assert case.data["deadlines"]["due"]["src_deadline"]["outcome"] == "breached"
    assert "deadline_breached" in [m.message for m in engine.store.outbox_messages(case.id)]
    check_history(engine, case.id)


@settings(max_examples=50, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(0, 300), st.integers(0, 3000)), min_size=1, max_size=6))
def test_each_resume_puts_every_milestone_where_all_the_pauses_say(
    steps: list[tuple[int, int]],
) -> None:
    """Whatever pauses came before, a resumed warning and breach are due where the
    calendar puts their share of the target over every pause so far."""
    calendars = CalendarRegistry.bundled()
    timers: dict[str, Timer] = {}
    now, seq, pauses = t(5, 9), 1, []

    def move(state: str, dest: str) -> None:
        nonlocal seq
        plan = plan_transition(
            DESK, calendars, case_id="c", state=state, dest=dest, data_after={},
            timers=list(timers.values()), now=now, next_seq=seq,
        )
        for timer_id in plan.changes.drop:
            del timers[timer_id]
        timers.update((x.id, x) for x in plan.changes.put)
        seq += 1 + len(plan.record)

    move("open", "working")  # 1 business day, warning at 75%
    started = now
    for run, paused in steps:
        now += timedelta(minutes=run)
        move("working", "waiting")
        fresh = not timers  # all came due before the pause: coming back starts a new clock
        since, now = now, now + timedelta(minutes=paused)
        move("waiting", "working")
        if fresh:
            started, pauses = now, []
        else:
            pauses.append((since, now))
        for x in timers.values():
            share = Decimal("0.75") if x.milestone == "warning" else Decimal(1)
            assert x.pauses == tuple(pauses) and x.paused_since is None
            assert x.due_at == calendars["uk-england-wales"].due_at(
                started, "1 business days", pauses, fraction=share
            )
