"""Several processes on one database, and processes or connections dying mid-transaction.

Real SQLite files and the machine's PostgreSQL (one schema per test). Runs are
bounded in time; ``CSFLOW_SCALE=0.1`` shrinks them for a quick local check.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from csflow import Engine, Event, replay
from csflow._canonical import first_break
from csflow.clock import FixedClock
from csflow.errors import StoreError
from csflow.stores import SQLStore, Store

from ._load import AGENT, BASE, OPS, SCALE, ScaledClock, engine, hang_in_commit, worker, writer

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
# fork: children start in milliseconds with csflow already imported; each
# opens its own store, and the parent holds no connection while forking.
CTX = multiprocessing.get_context("fork")


@pytest.fixture
def url(request: pytest.FixtureRequest, new_db_url: Callable[[str], str]) -> Iterator[str]:
    u = new_db_url(request.param)
    SQLStore(u).close()  # tables created once, before any child starts
    yield u


def check_store(store: Store, end: datetime) -> dict[str, int]:
    """Every chain verifies, every snapshot is its replay, every key and timer recorded once,
    every outbox message belongs to an event, no timer due by ``end`` is left unfired."""
    keys: Counter[str] = Counter()
    triggers: Counter[str] = Counter()
    events = 0
    for cid in store.case_ids():
        history = store.load_events(cid)
        assert first_break(history) is None, cid
        assert replay(OPS, history) == store.load_case(cid)
        events += len(history)
        for e in history:
            triggers[e.trigger] += 1
            if e.idempotency_key:
                keys[e.idempotency_key] += 1
            if e.trigger.endswith("_breached"):
                info = e.data["sla"][e.source]
                assert e.occurred_at >= datetime.fromisoformat(info["due_at"])  # never early
        seqs = {e.seq for e in history}
        assert {m.seq for m in store.outbox_messages(cid)} <= seqs
    assert [k for k, n in keys.items() if n > 1] == []
    left = [t.id for t in store.iter_timers() if t.due_at is not None and t.due_at <= end]
    assert left == []
    return {"events": events, **triggers}


def drain(url: str, at: datetime) -> int:
    e = engine(url, FixedClock(at))
    fired = 0
    while (report := e.run_due(limit=500, lease=timedelta(minutes=10))).claimed:
        assert report.failed == ()
        fired += report.fired
    e.store.close()
    return fired


@pytest.mark.slow
@pytest.mark.parametrize("url", BACKENDS, indirect=True)
def test_writers_and_workers_share_cases(url: str) -> None:
    n_cases, seconds = max(int(1000 * SCALE), 20), max(4.0 * SCALE, 1.0)
    e = engine(url, FixedClock(BASE))
    ids = [e.start("ops", {"n": i}, actor=AGENT, case_id=f"c{i}").id for i in range(n_cases)]
    e.store.close()

    # The run covers four minutes of SLA time: warnings (1-1.5 min) and breaches
    # (2-3 min) come due while writers are still moving the cases.
    clock = ScaledClock(time.time(), speed=240.0 / seconds)
    until = time.time() + seconds
    results = CTX.Queue()
    # Every tenth case is left to the timers alone, so workers always have
    # timers to fire however fast the writers move the shared cases on.
    shared = [cid for i, cid in enumerate(ids) if i % 10]
    procs = [CTX.Process(target=writer, args=(url, f"w{i}", clock, shared, until, results))
             for i in range(8)]
    # Workers run a second past the writers: SQLite's write lock is not fair,
    # and eight writers in tight loops can keep two workers waiting all run.
    procs += [CTX.Process(target=worker, args=(url, f"t{i}", clock, until + 1.0, results))
              for i in range(2)]
    for p in procs:
        p.start()
    reports = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    end = clock.now()

    accepted = [k for r in reports if r[0] == "writer" for k in r[2]]
    refused: Counter[str] = Counter()
    for r in reports:
        assert r[-1] == [], r  # no crash: every refusal was a csflow error
        if r[0] == "writer":
            refused.update(r[3])
        else:
            assert r[3] == [], r  # no timer failed
    assert set(refused) <= {"ConcurrencyConflict", "NotAllowedInState"}, refused
    assert accepted, "no writer got a fire through"
    fired_by_workers = sum(r[2] for r in reports if r[0] == "worker")
    assert fired_by_workers > 0

    drain(url, end)
    with SQLStore(url, create=False) as store:
        counts = check_store(store, end)
        recorded = {e.idempotency_key for e in store.iter_events()
                    if e.idempotency_key and e.idempotency_key.startswith("w")}
    assert recorded == set(accepted)  # every accepted fire once, nothing else
    assert counts["sla_warning"] + counts["sla_breached"] >= fired_by_workers


@pytest.mark.parametrize("url", BACKENDS, indirect=True)
def test_writer_killed_inside_its_commit_leaves_nothing(url: str) -> None:
    clock = FixedClock(BASE)
    e = engine(url, clock)
    case = e.start("ops", {"n": 1}, actor=AGENT, case_id="k1")
    before = (e.store.load_timers(case.id), e.store.outbox_messages(case.id))
    e.store.close()

    # "hold" pauses the SLA and "note" emits a message: kill each inside its commit
    for trigger, data in (("hold", None), ("note", {"text": "hi"})):
        inside = CTX.Event()
        args = (case.id, trigger, data, f"req-{trigger}")
        child = CTX.Process(target=hang_in_commit, args=(url, clock, "fire", args, inside))
        child.start()
        assert inside.wait(30), "the child never reached its commit"
        os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
        child.join(10)

        with SQLStore(url, create=False) as store:
            assert store.load_case(case.id) == case
            assert len(store.load_events(case.id)) == 1
            assert store.find_idempotency_key(f"req-{trigger}") is None
            assert (store.load_timers(case.id), store.outbox_messages(case.id)) == before

    # on restart the same requests go through, once
    e = engine(url, clock)
    e.fire(case.id, "note", actor=AGENT, data={"text": "hi"}, idempotency_key="req-note")
    e.fire(case.id, "hold", actor=AGENT, idempotency_key="req-hold")
    e.fire(case.id, "hold", actor=AGENT, idempotency_key="req-hold")  # a retry: no new event
    assert [x.trigger for x in e.history(case.id)] == ["start", "note", "hold"]
    assert len(e.store.outbox_messages(case.id)) == 1
    assert all(t.due_at is None for t in e.store.load_timers(case.id))
    check_store(e.store, BASE)
    e.store.close()


@pytest.mark.parametrize("url", BACKENDS, indirect=True)
def test_worker_killed_mid_fire_leaves_the_timer_to_the_next_after_its_lease(url: str) -> None:
    clock = FixedClock(BASE)
    e = engine(url, clock)
    case = e.start("ops", {"n": 1}, actor=AGENT, case_id="t1")
    [warning] = [t for t in e.store.load_timers(case.id) if t.milestone == "warning"]
    e.store.close()
    clock.advance(minutes=1, seconds=30)  # the warning (1 min) is due, the breach (2) not

    inside = CTX.Event()
    child = CTX.Process(target=hang_in_commit,
                        args=(url, clock, "timer", warning.id, inside))
    child.start()
    assert inside.wait(30), "the worker never reached its commit"
    os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
    child.join(10)

    e = engine(url, clock)
    assert len(e.history(case.id)) == 1  # nothing of the fire is kept
    assert e.run_due().claimed == 0  # the dead worker's lease still holds it
    clock.advance(minutes=5)
    report = e.run_due(lease=timedelta(minutes=5))
    assert (report.fired, report.failed) == (2, ())  # the warning, and the breach now due
    assert [x.trigger for x in e.history(case.id)] == ["start", "sla_warning", "sla_breached"]
    check_store(e.store, clock.now())
    e.store.close()


def _settled(e: Engine, case_id: str) -> list[Event]:
    """Run the due timers and read the history once connections stop being killed.

    The last kill may have hit a pooled connection after the last call: like
    any kill, that costs one StoreError, and the retry works.
    """
    for _attempt in range(3):
        try:
            e.run_due()
            return e.history(case_id)
        except StoreError:
            continue
    pytest.fail("the store did not recover after the connections stopped being killed")


@pytest.mark.postgres
def test_postgres_connections_killed_mid_run(new_db_url: Callable[[str], str]) -> None:
    app = f"csflow_fault_{os.getpid()}"
    base = sa.make_url(new_db_url("postgresql"))
    url = base.update_query_dict({"application_name": app}).render_as_string(False)
    admin = sa.create_engine(base)
    kill = sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                   "WHERE application_name = :app AND pid <> pg_backend_pid()")

    def terminate() -> int:
        with admin.begin() as conn:
            return int(conn.execute(kill, {"app": app}).scalar() or 0)

    SQLStore(url).close()
    clock = FixedClock(BASE)
    e = engine(url, clock)
    case = e.start("ops", {"n": 1}, actor=AGENT, case_id="pg1")

    # An idle pooled connection killed: the next call fails with StoreError, the one after works.
    assert terminate() >= 1
    with pytest.raises(StoreError, match="could not"):
        e.fire(case.id, "note", actor=AGENT, data={"text": "0"}, idempotency_key="n-0")
    e.fire(case.id, "note", actor=AGENT, data={"text": "0"}, idempotency_key="n-0")

    # Connections killed at random moments while fires and timers run.
    stop = threading.Event()
    killed: list[int] = []

    def chaos() -> None:
        while not stop.wait(0.03):
            killed.append(terminate())

    chaos_thread = threading.Thread(target=chaos)
    chaos_thread.start()
    failures, deadline = 0, time.time() + max(3.0 * SCALE, 1.0)
    n = 1
    try:
        while time.time() < deadline:
            clock.advance(seconds=20)
            for _attempt in range(50):  # the same request, retried until it lands once
                try:
                    e.fire(case.id, "note", actor=AGENT, data={"text": str(n)},
                           idempotency_key=f"n-{n}")
                    e.run_due()
                    break
                except StoreError:
                    failures += 1
            else:
                pytest.fail(f"request n-{n} never succeeded")
            n += 1
    finally:
        stop.set()
        chaos_thread.join()
    assert sum(killed) > 0 and failures > 0  # the faults really happened

    clock.advance(minutes=10)  # past the leases of timers whose firing was cut off
    keys = [x.idempotency_key for x in _settled(e, case.id) if x.trigger == "note"]
    assert keys == [f"n-{i}" for i in range(n)]  # every request exactly once, in order
    check_store(e.store, clock.now())
    e.store.close()
    admin.dispose()
