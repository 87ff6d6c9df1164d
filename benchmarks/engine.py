"""Engine speed against its floors, measured in one run, printed as ratios.

    python -m benchmarks.engine [--quick] [--postgres URL]

* in-memory ``fire`` (role check, data validation, event, hash, append) vs a
  raw ``transitions`` trigger on a machine with the same states and
  transitions (target: >= 1/3);
* SQLite ``fire`` vs raw ``sqlite3`` writing the same event and snapshot rows to
  csflow's own tables in the same database, one transaction each (target: >= 1/2;
  the same against bare tables with fewer keys is printed for reference);
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
from typing import Any

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


def paired(fns: list[Callable[[], None]], n: int) -> list[float]:
    """Calls per second of each of ``fns``, each the median of ROUNDS rounds of ``n``
    calls taken in turn, so that all run under the same load when the machine is busy
    (a best-of-three of each, one after the other, swung the ratio by half)."""
    rates: list[list[float]] = [[] for _ in fns]
    for _ in range(ROUNDS):
        for fn, taken in zip(fns, rates, strict=True):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            taken.append(n / (time.perf_counter() - t0))
    return [statistics.median(taken) for taken in rates]


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


#: The floor's own columns, in csflow's names, so one statement writes to either.
EVENT_INSERT = (
    'insert into {events} (case_id, seq, type, "trigger", occurred_at, recorded_at, '
    "idempotency_key, hash, payload, pii) values ({marks})"
)
CASE_INSERT = (
    "insert into {cases} (id, workflow, workflow_version, state, data, version, created_at, "
    "updated_at, last_hash, terminal) values ({marks})"
)
CASE_UPDATE = (
    "update {cases} set state={m}, data={m}, version={m}, updated_at={m}, last_hash={m} "
    "where id={m} and version={m}"
)
#: Tables with only the keys a hand-written store needs (no foreign key, no index on
#: type or time): the floor the SQL ratios were first measured against, still printed.
BARE_TABLES = (
    "create table {events} (position integer primary key, case_id text, seq integer, "
    'type text, "trigger" text, occurred_at {time}, recorded_at {time}, '
    "idempotency_key text unique, hash text, payload text, pii text, unique(case_id, seq))",
    "create table {cases} (id text primary key, workflow text, workflow_version int, "
    "state text, data text, version int, created_at {time}, updated_at {time}, "
    "last_hash text, terminal boolean)",
)
FLOOR_TIME = "2026-01-01 00:00:00.000000"


class RawFloor:
    """The driver alone writing the rows csflow writes for one fire of ``case``: one event
    insert and one snapshot update per transaction, the same payload bytes.

    ``tables`` are csflow's own (``csflow_events``, ``csflow_cases``, in the database the
    engine writes to, under a case id of the floor's own) or bare ones made here.
    """

    def __init__(self, con: Any, mark: str, begin: str, case: Case, events: list[Event],
                 tables: tuple[str, str]) -> None:
        self.con, self.begin = con, begin
        self.case_id = f"floor-{case.id}"
        names = {"events": tables[0], "cases": tables[1]}
        self.insert_event = EVENT_INSERT.format(marks=", ".join([mark] * 10), **names)
        self.update_case = CASE_UPDATE.format(m=mark, **names)
        self.snapshot = orjson.dumps(dict(case.data)).decode()
        self.payloads = [orjson.dumps(event_to_dict(e)).decode() for e in events]
        self.seq = iter(range(1, 10**12))
        self._run(CASE_INSERT.format(marks=", ".join([mark] * 10), **names),
                  (self.case_id, case.workflow, 1, case.state, self.snapshot, 0,
                   FLOOR_TIME, FLOOR_TIME, "h" * 64, False))

    def _run(self, sql: str, params: tuple[Any, ...]) -> None:
        cur = self.con.cursor()
        cur.execute(self.begin)
        cur.execute(sql, params)
        cur.execute("commit")

    def fire(self) -> None:
        s = next(self.seq)
        cur = self.con.cursor()
        cur.execute(self.begin)
        cur.execute(self.insert_event, (
            self.case_id, s, "transition", "t", FLOOR_TIME, FLOOR_TIME, None, "h" * 64,
            self.payloads[s % len(self.payloads)], "{}"))
        cur.execute(self.update_case, (
            "s", self.snapshot, s, FLOOR_TIME, "h" * 64, self.case_id, s - 1))
        cur.execute("commit")


def sqlite_floors(path: Path, case: Case, events: list[Event]) -> tuple[RawFloor, RawFloor]:
    """Raw ``sqlite3`` floors on the database at ``path``: into csflow's tables, and into
    bare ones; with the pragmas csflow sets (WAL, synchronous=NORMAL, foreign keys)."""
    con = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=wal", "synchronous=normal", "foreign_keys=on"):
        con.execute(f"pragma {pragma}")
    for ddl in BARE_TABLES:
        con.execute(ddl.format(events="bare_events", cases="bare_cases", time="text"))
    return (RawFloor(con, "?", "begin immediate", case, events, ("csflow_events", "csflow_cases")),
            RawFloor(con, "?", "begin immediate", case, events, ("bare_events", "bare_cases")))


def psycopg_floors(url: str, case: Case, events: list[Event]) -> tuple[RawFloor, RawFloor]:
    """As :func:`sqlite_floors`, with psycopg on the schema ``url``'s search path names."""
    import psycopg

    con = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                          autocommit=True)
    for ddl in BARE_TABLES:
        con.execute(ddl.format(events="bare_events", cases="bare_cases", time="timestamptz")
                    .replace("integer primary key", "bigserial primary key"))
    # autocommit with explicit begin/commit: the same statements as on SQLite
    return (RawFloor(con, "%s", "begin", case, events, ("csflow_events", "csflow_cases")),
            RawFloor(con, "%s", "begin", case, events, ("bare_events", "bare_cases")))


def sql_rows(label: str, driver: str, ours: Callable[[], None],
             floors: tuple[RawFloor, RawFloor], n: int) -> None:
    """csflow against the driver writing to csflow's tables (the target) and, for
    reference, to bare tables; all three in alternating rounds."""
    mine, own, bare = paired([ours, floors[0].fire, floors[1].fire], n)
    row(f"{label} fire", mine, own, f"raw {driver}, csflow's tables", 1 / 2)
    row("  (reference)", mine, bare, f"raw {driver}, bare tables", 1 / 2)


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
        mine, raw = paired([ours, raw_transitions_fire(loop)], n_mem)
        row(label, mine, raw, "raw transitions trigger", 1 / 3)
    print(f"{'in-memory start':<28} {start_rate(memory, n_mem // 4):>10,.0f}/s   "
          "(opening a complaint: decisions and SLA timers; no floor)")

    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(DEFAULT_START)
        sql = Engine(SQLStore(f"sqlite:///{tmp}/bench.db"), clock=clock)
        fire = engine_loop(sql, clock, EVERYDAY, (1 + ROUNDS) * n_sql)
        rate(fire, n_sql // 3)  # warm up: the store's statement caches and pool
        case_id = next(iter(sql.store.case_ids()))
        floors = sqlite_floors(Path(tmp) / "bench.db", sql.get(case_id),
                               sql.store.load_events(case_id))
        sql_rows("SQLite", "sqlite3", fire, floors, n_sql)
        floors[0].con.close()
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
            fire = engine_loop(pg, clock, EVERYDAY, (1 + ROUNDS) * n_sql)
            rate(fire, n_sql // 3)  # warm up
            case_id = next(iter(pg.store.case_ids()))
            floors = psycopg_floors(args.postgres + f"?options=-csearch_path%3D{schema}",
                                    pg.get(case_id), pg.store.load_events(case_id))
            sql_rows("PostgreSQL", "psycopg", fire, floors, n_sql)
            floors[0].con.close()
            pg.store.close()
        finally:
            with admin.begin() as con:
                con.execute(text(f"drop schema {schema} cascade"))
    else:
        print("PostgreSQL: skipped (give --postgres URL or set CSFLOW_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
