"""Engine speed against its floors, measured in one run, printed as ratios.

    python -m benchmarks.engine [--quick] [--postgres URL]

* in-memory ``fire`` (role check, data validation, event, hash, append) vs a
  raw ``transitions`` trigger on a machine with the same states and
  transitions (target: >= 1/3);
* SQLite ``fire`` vs raw ``sqlite3`` writing the same event and snapshot rows,
  one transaction each (target: >= 1/2);
* PostgreSQL ``fire`` vs raw psycopg doing the same (target: >= 1/2);
* memory the engine holds per idle case (target: none beyond the store).

Two loops on the complaint workflow, each against the same triggers on a raw
machine: everyday steps that keep the state (``inform_customer``, ``refer``,
each carrying data), and state changes that pause and resume the
investigation SLA (``request_information`` / ``information_received``) on
cases that are replaced every 10 cycles, as real cases pause a few times.
Cases are opened before timing; opening one is printed as its own rate.
(An SLA resume re-reads every earlier pause of the case, so a case paused
thousands of times would pay more per resume.)
"""

from __future__ import annotations

import argparse
import gc
import os
import sqlite3
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import orjson
from transitions import Machine

from csflow import Actor, Engine, MemoryStore, SQLStore
from csflow._canonical import event_to_dict
from csflow.clock import FixedClock
from csflow.model import Case, Event
from csflow.testing import DEFAULT_START
from csflow.workflows import DEFINITIONS, STAY, load_workflow

AGENT = Actor("bench", "agent")
EVERYDAY = (
    ("inform_customer", {"message": "We are looking into it", "via": "email"}),
    ("refer", {"referral_reason": "Needs a specialist", "referred_to": "technical"}),
)
PAUSING = (
    ("request_information", {"question": "photo?"}),
    ("information_received", {"response": "sent"}),
)
CYCLES_PER_CASE = 10
START = {
    "customer": {"id": "c1", "name": "Ann Smith", "email": "ann@example.com"},
    "channel": "email",
    "business_area": "retail",
    "product": "kettle",
    "description": "It leaks",
    "desired_outcome": "a refund",
}
CLASSIFY = {
    "classification": {
        "type": "product_fault",
        "severity": "low",
        "vulnerable": False,
        "regulated": False,
        "repeat": False,
    }
}


def rate(fn: Callable[[], None], n: int) -> float:
    """Calls per second of ``fn`` over ``n`` calls (best of three rounds)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


ROUNDS = 5


def paired(ours: Callable[[], None], floor: Callable[[], None], n: int) -> tuple[float, float]:
    """Calls per second of ``ours`` and ``floor``, each the median of ROUNDS rounds of ``n``
    calls taken in turn, so that both run under the same load when the machine is busy
    (a best-of-three of each, one after the other, swung the ratio by half)."""
    ours_rates, floor_rates = [], []
    for _ in range(ROUNDS):
        for fn, rates in ((floor, floor_rates), (ours, ours_rates)):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            rates.append(n / (time.perf_counter() - t0))
    return statistics.median(ours_rates), statistics.median(floor_rates)


def raw_transitions_fire(loop: tuple[tuple[str, dict[str, str]], ...]) -> Callable[[], None]:
    wf = load_workflow(DEFINITIONS / "complaint.yaml")
    model = type("Model", (), {})()
    Machine(model=model, states=list(wf.states), initial="investigating", auto_transitions=False,
            transitions=[{"trigger": t.trigger, "source": list(t.sources),
                          "dest": None if t.dest == STAY else t.dest} for t in wf.transitions])
    step = iter(range(10**12))

    def fire() -> None:
        getattr(model, loop[next(step) % 2][0])()
    return fire


def engine_loop(
    engine: Engine, clock: FixedClock, loop: tuple[tuple[str, dict[str, str]], ...], calls: int
) -> Callable[[], None]:
    """A callable that fires the next step of ``loop`` on a case in 'investigating',
    moving to a fresh case every CYCLES_PER_CASE cycles. The cases for ``calls``
    calls are opened here, before timing: opening a case is :meth:`Engine.start`
    (measured on its own by :func:`start_rate`), not the ``fire`` measured here."""
    cases = []
    for _ in range(calls // (2 * CYCLES_PER_CASE) + 1):
        case = engine.start("complaint", START, actor=AGENT)
        case = engine.fire(case.id, "start_investigation", actor=AGENT, data=CLASSIFY)
        cases.append([case.id, case.version])
    step = iter(range(calls))
    second = timedelta(seconds=1)  # built once: timedelta(**kw) is not the engine's cost

    def fire() -> None:
        n = next(step)
        current = cases[n // (2 * CYCLES_PER_CASE)]
        trigger, data = loop[n % 2]
        clock.advance(second)
        current[1] = engine.fire(
            current[0], trigger, actor=AGENT, data=data, expected_version=current[1]
        ).version
    return fire


def start_rate(engine: Engine, n: int) -> float:
    """Complaints opened per second (validation, service-standard and escalation
    decisions, SLA timers, event, hash, append)."""
    return rate(lambda: engine.start("complaint", START, actor=AGENT), n)


def raw_sqlite_rate(path: Path, case: Case, events: list[Event], n: int) -> float:
    """sqlite3 writing the same rows csflow writes: one event insert and one
    snapshot update per transaction, WAL, same payload bytes."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("pragma journal_mode=wal")
    con.execute("pragma synchronous=normal")
    con.execute(
        "create table ev (position integer primary key, case_id text, seq integer, "
        "type text, trig text, occurred_at text, recorded_at text, idem text unique, "
        "hash text, payload text, pii text, unique(case_id, seq))"
    )
    con.execute(
        "create table cs (id text primary key, workflow text, workflow_version int, "
        "state text, data text, version int, created_at text, updated_at text, "
        "last_hash text, terminal int)"
    )
    snap = orjson.dumps(dict(case.data)).decode()
    con.execute(
        "insert into cs values (?,?,?,?,?,?,?,?,?,?)",
        (case.id, case.workflow, 1, case.state, snap, 0, "t", "t", "h", 0),
    )
    rows = [orjson.dumps(event_to_dict(e)).decode() for e in events]
    seq = iter(range(1, 10**12))

    def fire() -> None:
        s = next(seq)
        con.execute("begin immediate")
        con.execute(
            "insert into ev (case_id, seq, type, trig, occurred_at, recorded_at, idem, "
            "hash, payload, pii) values (?,?,?,?,?,?,?,?,?,?)",
            (
                case.id,
                s,
                "transition",
                "t",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00Z",
                None,
                "h" * 64,
                rows[s % len(rows)],
                "{}",
            ),
        )
        con.execute(
            "update cs set state=?, data=?, version=?, updated_at=?, last_hash=? "
            "where id=? and version=?",
            ("s", snap, s, "t", "h" * 64, case.id, s - 1),
        )
        con.execute("commit")

    result = rate(fire, n)
    con.close()
    return result


def raw_psycopg_rate(url: str, case: Case, events: list[Event], n: int) -> float:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("drop table if exists bench_ev; drop table if exists bench_cs")
        con.execute(
            "create table bench_ev (position bigserial primary key, case_id text, "
            "seq int, type text, trig text, occurred_at timestamptz, recorded_at "
            "timestamptz, idem text unique, hash text, payload text, pii text, "
            "unique(case_id, seq))"
        )
        con.execute(
            "create table bench_cs (id text primary key, workflow text, workflow_version "
            "int, state text, data text, version int, updated_at timestamptz, "
            "last_hash text)"
        )
        snap = orjson.dumps(dict(case.data)).decode()
        con.execute(
            "insert into bench_cs values (%s,%s,1,%s,%s,0,now(),'h')",
            (case.id, case.workflow, case.state, snap),
        )
        rows = [orjson.dumps(event_to_dict(e)).decode() for e in events]
        seq = iter(range(1, 10**12))
        con.autocommit = False

        def fire() -> None:
            s = next(seq)
            with con.cursor() as cur:
                cur.execute(
                    "insert into bench_ev (case_id, seq, type, trig, occurred_at, "
                    "recorded_at, idem, hash, payload, pii) values "
                    "(%s,%s,'transition','t',now(),now(),null,%s,%s,'{}')",
                    (case.id, s, "h" * 64, rows[s % len(rows)]),
                )
                cur.execute(
                    "update bench_cs set state=%s, data=%s, version=%s, updated_at=now(),"
                    " last_hash=%s where id=%s and version=%s",
                    ("s", snap, s, "h" * 64, case.id, s - 1),
                )
            con.commit()

        result = rate(fire, n)
        con.autocommit = True
        con.execute("drop table bench_ev; drop table bench_cs")
    return result


def idle_case_bytes(engine: Engine, clock: FixedClock, cases: int) -> float:
    """Bytes of Python memory still allocated per case after starting cases on
    a SQL store (the store keeps them on disk, so the engine should keep none)."""
    for _ in range(50):  # warm caches (SQLAlchemy statement cache, pydantic)
        engine.start("complaint", START, actor=AGENT)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(cases):
        clock.advance(seconds=1)
        engine.start("complaint", START, actor=AGENT)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return grown / cases


def row(label: str, ours: float, floor: float, floor_label: str, target: float) -> None:
    ratio = ours / floor
    verdict = "ok" if ratio >= target else "BELOW TARGET"
    print(
        f"{label:<28} {ours:>10,.0f}/s   {floor_label:<26} {floor:>10,.0f}/s   "
        f"ratio {ratio:5.2f}  (target >= {target:.2f}) {verdict}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts, a few seconds")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("CSFLOW_TEST_POSTGRES_URL"),
        help="PostgreSQL URL (default: $CSFLOW_TEST_POSTGRES_URL)",
    )
    args = parser.parse_args(argv)
    n_mem, n_sql = (2_000, 300) if args.quick else (20_000, 3_000)

    clock = FixedClock(DEFAULT_START)
    memory = Engine(MemoryStore(), clock=clock)
    for label, loop in (("in-memory fire", EVERYDAY), ("  ... pausing/resuming SLA", PAUSING)):
        ours = engine_loop(memory, clock, loop, ROUNDS * n_mem)
        row(label, *paired(ours, raw_transitions_fire(loop), n_mem),
            "raw transitions trigger", 1 / 3)
    print(f"{'in-memory start':<28} {start_rate(memory, n_mem // 4):>10,.0f}/s   "
          "(opening a complaint: decisions and SLA timers; no floor)")

    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(DEFAULT_START)
        sql = Engine(SQLStore(f"sqlite:///{tmp}/bench.db"), clock=clock)
        fire = engine_loop(sql, clock, EVERYDAY, 3 * n_sql)
        ours = rate(fire, n_sql)
        case_id = next(iter(sql.store.case_ids()))
        events = sql.store.load_events(case_id)
        floor = raw_sqlite_rate(Path(tmp) / "raw.db", sql.get(case_id), events, n_sql)
        row("SQLite fire", ours, floor, "raw sqlite3, same rows", 1 / 2)
        per_case = idle_case_bytes(sql, clock, 200 if args.quick else 2_000)
        print(
            f"{'memory per idle case':<28} {per_case:>10,.0f} B   (engine on SQLite; target: ~0, "
            "nothing kept per case)"
        )
        sql.store.close()

    if args.postgres:
        from sqlalchemy import create_engine, text

        schema = f"bench_{os.getpid()}"
        admin = create_engine(args.postgres)
        with admin.begin() as con:
            con.execute(text(f"create schema {schema}"))
        try:
            db = create_engine(args.postgres, connect_args={"options": f"-csearch_path={schema}"})
            clock = FixedClock(DEFAULT_START)
            pg = Engine(SQLStore(db), clock=clock)
            ours = rate(engine_loop(pg, clock, EVERYDAY, 3 * n_sql), n_sql)
            case_id = next(iter(pg.store.case_ids()))
            floor = raw_psycopg_rate(
                args.postgres + f"?options=-csearch_path%3D{schema}",
                pg.get(case_id),
                pg.store.load_events(case_id),
                n_sql,
            )
            row("PostgreSQL fire", ours, floor, "raw psycopg, same rows", 1 / 2)
            pg.store.close()
        finally:
            with admin.begin() as con:
                con.execute(text(f"drop schema {schema} cascade"))
    else:
        print("PostgreSQL: skipped (give --postgres URL or set CSFLOW_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
