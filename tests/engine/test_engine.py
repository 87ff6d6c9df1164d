"""The engine against the in-memory store: paths, refusals that write nothing,
idempotency, optimistic concurrency, personal data kept out of the hash."""

from __future__ import annotations

import textwrap
from decimal import Decimal

import pytest

from csflow import (
    Actor,
    CaseNotFound,
    ConcurrencyConflict,
    Engine,
    IdempotencyKeyReused,
    InvalidData,
    NotAllowedInState,
    RoleNotPermitted,
    UnknownDefinition,
    UnknownTrigger,
    parse_workflow,
    replay,
)
from csflow._canonical import event_to_dict
from csflow.testing import assert_chain_valid, memory_engine

TICKET = parse_workflow(
    textwrap.dedent("""\
    workflow: ticket
    version: 1
    initial: open
    roles: [agent, lead]
    pii: [customer.name]
    start:
      requires:
        customer: {type: object, fields: {id: str, name: str}}
        amount: money?
      set: {opened_by: $actor.id}
    states:
      open: {}
      working: {}
      done: {terminal: true}
    transitions:
      - trigger: take
        source: open
        dest: working
        roles: [agent]
        requires: {note: str, hours: {type: int, min: 0, max: 40}}
        set: {taken_at: $now, "work.by": $actor.role}
      - trigger: finish
        source: working
        dest: done
        roles: [lead]
      - trigger: comment
        source: "*"
        dest: "="
        requires: {text: str}
"""),
    "ticket.yaml",
)

AGENT, LEAD = Actor("u1", "agent"), Actor("u2", "lead")
START = {"customer": {"id": "c1", "name": "Zoë Ångström"}, "amount": "12.50"}


@pytest.fixture()
def engine_clock():  # type: ignore[no-untyped-def]
    return memory_engine(workflows=[TICKET])


def dump(engine: Engine) -> list[dict[str, object]]:
    return [event_to_dict(e) for e in engine.store.iter_events()] + [
        {"case": repr(engine.store.load_case(c))} for c in engine.store.case_ids()
    ]


def test_happy_path_records_who_when_and_data(engine_clock) -> None:  # type: ignore[no-untyped-def]
    engine, clock = engine_clock
    case = engine.start("ticket", START, actor=AGENT)
    assert (case.state, case.version, case.data["opened_by"]) == ("open", 1, "u1")
    assert case.data["amount"] == "12.50"  # money is kept as exact text
    clock.advance(hours=1)
    case = engine.fire(
        case.id, "take", actor=AGENT, data={"note": "on it", "hours": 2}, expected_version=1
    )
    assert case.state == "working"
    assert case.data["work"] == {"by": "agent"}
    assert case.data["taken_at"] == clock.now().isoformat().replace("+00:00", "Z")
    case = engine.fire(case.id, "comment", actor=LEAD, data={"text": "ok"})
    assert case.state == "working" and case.version == 3
    case = engine.fire(case.id, "finish", actor=LEAD)
    assert case.terminal and case.state == "done"
    events = engine.history(case.id)
    assert [(e.trigger, e.source, e.dest, e.actor) for e in events] == [
        ("start", None, "open", AGENT),
        ("take", "open", "working", AGENT),
        ("comment", "working", "working", LEAD),
        ("finish", "working", "done", LEAD),
    ]
    assert_chain_valid(events)
    assert replay(TICKET, events) == case


def test_personal_data_is_outside_the_hashed_payload(engine_clock) -> None:  # type: ignore[no-untyped-def]
    engine, _ = engine_clock
    case = engine.start("ticket", START, actor=AGENT)
    first = engine.history(case.id)[0]
    assert "name" not in first.data["customer"]
    assert first.pii["customer.name"]["value"] == "Zoë Ångström"
    assert set(first.pii_digests) == {"customer.name"}
    assert case.data["customer"]["name"] == "Zoë Ångström"


@pytest.mark.parametrize(
    ("trigger", "actor", "data", "error"),
    [
        ("fly", AGENT, None, UnknownTrigger),
        ("finish", LEAD, None, NotAllowedInState),
        ("take", LEAD, {"note": "x", "hours": 1}, RoleNotPermitted),
        ("take", AGENT, {"note": "x"}, InvalidData),
        ("take", AGENT, {"note": "x", "hours": 41}, InvalidData),
        ("take", AGENT, {"note": "x", "hours": True}, InvalidData),
        ("take", AGENT, {"note": "x", "hours": 1, "typo": 1}, InvalidData),
    ],
)
def test_refusals_name_the_problem_and_write_nothing(  # type: ignore[no-untyped-def]
    engine_clock,
    trigger,
    actor,
    data,
    error,
) -> None:
    engine, _ = engine_clock
    case = engine.start("ticket", START, actor=AGENT)
    before = dump(engine)
    with pytest.raises(error) as info:
        engine.fire(case.id, trigger, actor=actor, data=data)
    assert info.value.case_id == case.id and info.value.trigger == trigger
    assert info.value.state == "open"
    assert dump(engine) == before


def test_invalid_data_lists_field_errors(engine_clock) -> None:  # type: ignore[no-untyped-def]
    engine, _ = engine_clock
    case = engine.start("ticket", START, actor=AGENT)
    with pytest.raises(InvalidData) as info:
        engine.fire(case.id, "take", actor=AGENT, data={"hours": -1, "extra": 1})
    assert info.value.field_errors == {
        "note": "Field required",
        "hours": "Input should be greater than or equal to 0",
        "extra": "unknown field; check its spelling",
    }


def test_integers_that_could_not_be_stored_are_refused_by_name() -> None:
    """Hashing needs 64-bit integers; an unbounded ``int`` field is bounded to them."""
    wf = parse_workflow(
        "workflow: tally\nversion: 1\ninitial: open\n"
        "start: {requires: {count: int, nested: {type: object, fields: {n: 'int?'}}}}\n"
        "states: {open: {}, done: {terminal: true}}\n"
        "transitions: [{trigger: close, source: open, dest: done}]\n",
        "tally.yaml",
    )
    engine, _ = memory_engine(workflows=[wf])
    engine.start("tally", {"count": 2**63 - 1, "nested": {"n": -(2**63)}}, actor=AGENT)
    for data, field in [({"count": 2**63, "nested": {}}, "count"),
                        ({"count": 1, "nested": {"n": -(2**63) - 1}}, "nested.n")]:
        with pytest.raises(InvalidData) as info:
            engine.start("tally", data, actor=AGENT)
        assert set(info.value.field_errors) == {field}
    assert len(list(engine.store.case_ids())) == 1


def test_start_refusals(engine_clock) -> None:  # type: ignore[no-untyped-def]
    engine, _ = engine_clock
    with pytest.raises(UnknownDefinition, match="known: ticket"):
        engine.start("tickets", START, actor=AGENT)
    with pytest.raises(RoleNotPermitted):
        engine.start("ticket", START, actor=Actor("x", "visitor"))
    with pytest.raises(InvalidData) as info:
        engine.start("ticket", {"customer": {"id": "c"}, "amount": "NaN"}, actor=AGENT)
    assert set(info.value.field_errors) == {"customer.name", "amount"}
    with pytest.raises(CaseNotFound):
        engine.fire("nope", "take", actor=AGENT)
    assert list(engine.store.iter_events()) == []


def test_idempotency_key_returns_first_result_and_appends_nothing(engine_clock) -> None:  # type: ignore[no-untyped-def]
    engine, clock = engine_clock
    first = engine.start("ticket", START, actor=AGENT, idempotency_key="web-1")
    again = engine.start("ticket", START, actor=AGENT, idempotency_key="web-1")
    assert again == first
    took = engine.fire(
        first.id, "take", actor=AGENT, data={"note": "a", "hours": 1}, idempotency_key="web-2"
    )
    engine.fire(first.id, "comment", actor=AGENT, data={"text": "later"})
    clock.advance(minutes=5)
    retry = engine.fire(
        first.id, "take", actor=AGENT, data={"note": "a", "hours": 1}, idempotency_key="web-2"
    )
    assert retry == took  # the result as it was then, not the case now
    assert len(engine.history(first.id)) == 3
    with pytest.raises(IdempotencyKeyReused):
        engine.fire(first.id, "comment", actor=AGENT, data={"text": "x"}, idempotency_key="web-2")


def test_stale_expected_version_is_a_conflict(engine_clock) -> None:  # type: ignore[no-untyped-def]
    engine, _ = engine_clock
    case = engine.start("ticket", START, actor=AGENT)
    engine.fire(case.id, "comment", actor=AGENT, data={"text": "a"}, expected_version=1)
    with pytest.raises(ConcurrencyConflict) as info:
        engine.fire(case.id, "comment", actor=AGENT, data={"text": "b"}, expected_version=1)
    assert (info.value.expected, info.value.actual) == (1, 2)
    assert len(engine.history(case.id)) == 2


def test_allowed_explains_the_rest(engine_clock) -> None:  # type: ignore[no-untyped-def]
    engine, _ = engine_clock
    case = engine.start("ticket", START, actor=AGENT)
    allowed = engine.allowed(case.id, AGENT)
    assert allowed.triggers == ("comment", "take")
    assert "take" in allowed and "finish" not in allowed
    assert allowed.refused["finish"] == "it can only fire from working"
    assert (
        "role 'lead' is not permitted; ask one of: agent"
        in engine.allowed(case.id, LEAD).refused["take"]
    )


def test_replay_as_of(engine_clock) -> None:  # type: ignore[no-untyped-def]
    engine, clock = engine_clock
    case = engine.start("ticket", START, actor=AGENT)
    t1 = clock.now()
    clock.advance(hours=3)
    engine.fire(case.id, "take", actor=AGENT, data={"note": "n", "hours": 1})
    events = engine.history(case.id)
    assert replay(TICKET, events, as_of=t1).state == "open"
    assert replay(TICKET, events).state == "working"
    assert Decimal(replay(TICKET, events).data["amount"]) == Decimal("12.50")
