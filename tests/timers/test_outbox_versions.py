"""The outbox (emit, dispatch, retries, senders), workflow versions in flight and their
migration, the new workflow keys' errors, and the ``csflow worker`` command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from csflow import Actor, DefinitionError, Engine, NotAllowedInState, replay
from csflow._canonical import first_break
from csflow._outbox import Backoff, Dispatcher, JsonlSender, OutboxMessage
from csflow.cli.worker import outbox_app, worker_command
from csflow.clock import FixedClock
from csflow.stores import MemoryStore
from csflow.testing import DEFAULT_START
from csflow.workflows import parse_workflow

from .conftest import DESK_YAML

AGENT = Actor("u1", "agent")


class Flaky:
    """Fails the first ``failures`` sends, then records what it delivers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[str] = []

    def send(self, message: OutboxMessage) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("smtp down")
        self.sent.append(message.id)


def test_emit_writes_messages_with_the_event(desk: tuple[Engine, FixedClock]) -> None:
    engine, _ = desk
    case = engine.start("desk", {"note": "parcel lost"}, actor=AGENT)
    case = engine.fire(case.id, "note", actor=AGENT, data={"text": "called"})
    [ack, noted] = engine.store.outbox_messages(case.id)
    assert (ack.id, ack.seq, ack.message, ack.to) == (
        f"{case.id}:1:0", 1, "acknowledge", "customer")
    assert ack.payload == {"message": "acknowledge", "to": "customer", "case_id": case.id,
                           "workflow": "desk", "trigger": "start", "state": "open",
                           "data": {"note": "parcel lost"}}
    assert (noted.seq, noted.status, noted.attempts) == (case.version, "pending", 0)


def test_dispatcher_retries_with_backoff_then_delivers_once(
    desk: tuple[Engine, FixedClock],
) -> None:
    engine, clock = desk
    engine.start("desk", {}, actor=AGENT)
    sender = Flaky(failures=2)
    d = Dispatcher(engine.store, sender, clock=clock,
                   backoff=Backoff(first=timedelta(seconds=10), factor=3))
    assert d.run_once().retried == 1
    [m] = engine.store.outbox_messages()
    assert (m.attempts, m.next_attempt_at, m.last_error) == (
        1, clock.now() + timedelta(seconds=10), "ConnectionError: smtp down")
    assert d.run_once().claimed == 0  # not due again yet
    clock.advance(seconds=10)
    assert d.run_once().retried == 1
    clock.advance(seconds=29)
    assert d.run_once().claimed == 0  # 30 s after the second failure
    clock.advance(seconds=1)
    assert d.run_once().delivered == 1
    assert d.run_once().claimed == 0
    [m] = engine.store.outbox_messages()
    assert (m.status, m.attempts, m.delivered_at, sender.sent) == (
        "delivered", 3, clock.now(), [m.id])


def test_dispatcher_gives_up_after_max_attempts(desk: tuple[Engine, FixedClock]) -> None:
    engine, clock = desk
    engine.start("desk", {}, actor=AGENT)
    d = Dispatcher(engine.store, Flaky(failures=99), clock=clock, max_attempts=2,
                   backoff=Backoff(first=timedelta(seconds=1)))
    d.run_once()
    clock.advance(seconds=5)
    assert d.run_once().failed == 1
    clock.advance(days=1)
    assert d.run_once().claimed == 0
    assert engine.store.outbox_messages()[0].status == "failed"


def test_a_dispatcher_killed_after_sending_resends_the_same_id(tmp_path: Path) -> None:
    clock = FixedClock(DEFAULT_START)
    store = MemoryStore()
    engine = Engine(store, workflows=[parse_workflow(DESK_YAML)], clock=clock)
    engine.start("desk", {}, actor=AGENT)
    out = tmp_path / "out.jsonl"
    sender = JsonlSender(out)
    [m] = store.claim_outbox(clock.now(), limit=10, lease_until=clock.now() + timedelta(minutes=2))
    sender.send(m)  # ... and the dispatcher dies before marking it delivered
    clock.advance(minutes=3)
    assert Dispatcher(store, sender, clock=clock).run_once().delivered == 1
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert [x["id"] for x in lines] == [m.id, m.id]  # at least once; the id tells duplicates
    assert len({x["id"] for x in lines}) == 1


# -- workflow versions --------------------------------------------------------------

V2 = DESK_YAML.replace("version: 1", "version: 2").replace(
    "  waiting: {pauses_sla: true}", "  on_hold: {pauses_sla: true}").replace(
    "dest: waiting", "dest: on_hold").replace("source: waiting", "source: on_hold") + (
    "migrations:\n  - {from: 1, states: {waiting: on_hold}}\n")


def test_cases_stay_on_their_version_until_migrated() -> None:
    clock = FixedClock(DEFAULT_START)
    v1, v2 = parse_workflow(DESK_YAML), parse_workflow(V2)
    engine = Engine(MemoryStore(), workflows=[v1], clock=clock)
    old = engine.start("desk", {}, actor=AGENT)
    engine.fire(old.id, "take", actor=AGENT)
    engine.fire(old.id, "ask", actor=AGENT)

    engine = Engine(engine.store, workflows=[v1, v2], clock=clock)  # a deploy adds v2
    new = engine.start("desk", {}, actor=AGENT)
    assert (engine.get(old.id).workflow_version, new.workflow_version) == (1, 2)
    engine.fire(old.id, "answer", actor=AGENT)  # still runs under v1
    engine.fire(old.id, "ask", actor=AGENT)

    clock.advance(hours=1)
    case = engine.migrate(old.id, actor=Actor("ops", "agent"), idempotency_key="mig-1")
    assert (case.workflow_version, case.state) == (2, "on_hold")
    last = engine.history(old.id)[-1]
    assert (last.type, last.trigger, last.source, last.dest, last.workflow_version) == (
        "migration", "migrate", "waiting", "on_hold", 2)
    assert engine.migrate(old.id, actor=AGENT, idempotency_key="mig-1") == case
    case = engine.fire(old.id, "answer", actor=AGENT)  # v2's trigger from v2's state
    assert case.state == "working"
    assert all(x.due_at is not None for x in engine.timers(case.id))  # the paused clock resumed
    history = engine.history(old.id)
    assert first_break(history) is None
    assert replay(v2, history) == engine.get(old.id)
    with pytest.raises(NotAllowedInState, match="already on version 2"):
        engine.migrate(old.id, actor=AGENT)


def test_migration_needs_a_declared_mapping() -> None:
    v1 = parse_workflow(DESK_YAML)
    v2 = parse_workflow(DESK_YAML.replace("version: 1", "version: 2"))
    engine = Engine(MemoryStore(), workflows=[v1], clock=FixedClock(DEFAULT_START))
    case = engine.start("desk", {}, actor=AGENT)
    engine = Engine(engine.store, workflows=[v1, v2], clock=FixedClock(DEFAULT_START))
    with pytest.raises(NotAllowedInState, match="declares no migration from version 1"):
        engine.migrate(case.id, actor=AGENT)
    assert len(engine.history(case.id)) == 1


def test_a_migration_must_place_every_old_state() -> None:
    v1 = parse_workflow(DESK_YAML)
    v2 = parse_workflow(V2.replace("{waiting: on_hold}", "{}"))
    with pytest.raises(DefinitionError, match="state 'waiting' is not in version 2"):
        Engine(MemoryStore(), workflows=[v1, v2])


# -- the new workflow keys are checked where they are written ------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("on_breach: expire}", "on_breach: finish}",
         "fires 'finish' as role 'system'"),
        ("{trigger: expire, source: review, dest: expired, roles: [system]}",
         "{trigger: expire, source: review, dest: expired, roles: [system], "
         "requires: {why: str}}", "requires why"),
        ("respond_by: {on_breach: notify, met_in: [review]}",
         "respond_by: {on_breach: notify, calendar: mars, met_in: [reveiw]}",
         "unknown calendar 'mars'"),
        ("respond_by: {on_breach: notify, met_in: [review]}",
         "respond_by: {on_breach: expire}", "not from open, waiting, working"),
        ("deadlines:", "migrations: [{from: 3, states: {a: nowhere}}]\ndeadlines:",
         "older version than 1"),
    ],
)
def test_new_keys_have_located_errors(old: str, new: str, message: str) -> None:
    assert old in DESK_YAML
    text = DESK_YAML.replace(old, new)
    if "finish}" in new:
        text = text.replace("{trigger: finish, source: [review, working], dest: done}",
                            "{trigger: finish, source: [review, working], dest: done, "
                            "roles: [agent]}")
    with pytest.raises(DefinitionError, match=message) as info:
        parse_workflow(text, "desk.yaml")
    assert all(p.file == "desk.yaml" and p.line for p in info.value.problems)


# -- the worker command ------------------------------------------------------------


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("worker")(worker_command)
    app.add_typer(outbox_app, name="outbox")
    return app


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_worker_command_fires_due_timers_and_delivers(
    tmp_path: Path, backend: str, new_db_url: Callable[[str], str],
) -> None:
    url = new_db_url(backend)
    engine = Engine(url, clock=FixedClock(DEFAULT_START - timedelta(days=30)))
    case = engine.start("complaint", {
        "customer": {"id": "c1", "name": "Zoë"}, "channel": "email", "business_area": "retail",
        "product": "kettle", "description": "broken", "desired_outcome": "a refund"},
        actor=AGENT)
    out = tmp_path / "out.jsonl"
    runner = CliRunner()
    result = runner.invoke(_cli(), ["worker", "--db", url, "--once", "--outbox", "jsonl",
                                    "--file", str(out)])
    assert result.exit_code == 0, result.output
    assert "fired 2 timer(s)" in result.output
    assert [e.trigger for e in engine.history(case.id)][-2:] == ["sla_warning", "sla_breached"]
    sent = [orjson.loads(x)["message"] for x in out.read_bytes().splitlines()]
    assert sent == ["acknowledge_complaint", "sla_warning", "sla_breached"]
    engine.fire(case.id, "withdraw", actor=AGENT, data={"withdrawal_reason": "sorted"})
    result = runner.invoke(_cli(), ["outbox", "dispatch", "--db", url, "--sender", "log"])
    assert result.exit_code == 0, result.output
    assert "delivered 0 message(s)" in result.output  # a withdrawal emits nothing
    engine.store.close()
