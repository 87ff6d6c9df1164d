"""Many processes on one database: fires, timers, and long histories, as ratios.

    python -m benchmarks.scale [--quick] [--postgres URL]

* ``fire/s``: 1, 4 and 8 writer processes each firing ``touch`` on cases of their
  own through ``Engine.fire``, against the same number of processes writing the
  same rows (snapshot UPDATE + event INSERT, one transaction each) with the raw
  driver (psycopg on PostgreSQL, sqlite3 otherwise), in the same run;
* ``timers/s``: due timers fired by 1 and 2 ``run_due`` workers, beside the
  single-writer fire rate (a timer fire is a claim plus a fire);
* ``load``: a case with 10,000 events read from its snapshot row (what every
  fire does) against rebuilding it from its events, and a fire on that case
  against a fire on a one-event case.

PostgreSQL when ``--postgres`` or ``CSFLOW_TEST_POSTGRES_URL`` gives a URL (each
run in a fresh schema, dropped afterwards), else SQLite files.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.store import pg_schemas, raw_psycopg, raw_sqlite
from csflow import Actor, Engine, replay
from csflow.clock import FixedClock
from csflow.model import Case, Event
from csflow.stores import MemoryStore, SQLStore, upgrade
from csflow.workflows import parse_workflow

BASE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
AGENT = Actor("bench", "agent")
WORKFLOW = parse_workflow(textwrap.dedent("""\
    workflow: bench
    version: 1
    initial: open
    states:
      open: {sla: {target: 2 business hours, calendar: uk-england-wales, warn_at: 50%}}
      done: {terminal: true}
    transitions:
      - {trigger: touch, source: open, dest: "=", requires: {n: int}}
      - {trigger: close, source: open, dest: done}
"""), "bench.yaml")
CTX = multiprocessing.get_context("fork")
Append = tuple[Case, list[Event], int]


class Recording(MemoryStore):
    """A memory store that keeps every append, to replay the same rows through a raw driver."""

    def __init__(self) -> None:
        super().__init__()
        self.appends: list[Append] = []

    def append(self, snapshot: Case, events: Sequence[Event], expected_version: int,
               **kw: Any) -> None:
        super().append(snapshot, events, expected_version, **kw)
        self.appends.append((snapshot, list(events), expected_version))


def _engine(url: str, at: datetime = BASE) -> Engine:
    return Engine(SQLStore(url, create=False), workflows=[WORKFLOW], clock=FixedClock(at))


def _case_ids(proc: int, cases: int) -> list[str]:
    return [f"p{proc}-c{i}" for i in range(cases)]


def _start_cases(url: str, procs: int, cases: int) -> None:
    e = _engine(url)
    for p in range(procs):
        for cid in _case_ids(p, cases):
            e.start("bench", {}, actor=AGENT, case_id=cid)
    e.store.close()


def _ours(url: str, proc: int, cases: int, fires: int, barrier: Any, out: Any) -> None:
    e = _engine(url)
    ids = _case_ids(proc, cases)
    barrier.wait()
    t0 = time.perf_counter()
    for n in range(fires):
        e.fire(ids[n % cases], "touch", actor=AGENT, data={"n": n})
    out.put(time.perf_counter() - t0)
    e.store.close()


def _raw(url: str, raw: Callable[[str], Any], batches: list[Append], barrier: Any,
         out: Any) -> None:
    append, close = raw(url)
    barrier.wait()
    t0 = time.perf_counter()
    for snapshot, events, expected in batches:
        append(snapshot, events, expected)
    out.put(time.perf_counter() - t0)
    close()


def _run(procs: list[Any], out: Any) -> float:
    for p in procs:
        p.start()
    took = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return max(took)


def fire_rate(new_url: Callable[[], str], raw: Callable[[str], Any], procs: int,
              fires: int) -> tuple[float, float]:
    """(engine fires/s, raw appends/s) with ``procs`` processes on cases of their own."""
    cases = 20
    url = new_url()
    upgrade(url)
    _start_cases(url, procs, cases)
    barrier, out = CTX.Barrier(procs), CTX.Queue()
    ours = _run([CTX.Process(target=_ours, args=(url, p, cases, fires, barrier, out))
                 for p in range(procs)], out)

    # The same workload through a recording memory store gives the very same rows.
    recorded: list[list[Append]] = []
    url = new_url()
    upgrade(url)
    append, close = raw(url)
    for p in range(procs):
        store = Recording()
        e = Engine(store, workflows=[WORKFLOW], clock=FixedClock(BASE))
        ids = _case_ids(p, cases)
        for cid in ids:
            e.start("bench", {}, actor=AGENT, case_id=cid)
        for snapshot, events, expected in store.appends:  # the starts, not timed
            append(snapshot, events, expected)
        store.appends.clear()
        for n in range(fires):
            e.fire(ids[n % cases], "touch", actor=AGENT, data={"n": n})
        recorded.append(store.appends)
    close()
    barrier, out = CTX.Barrier(procs), CTX.Queue()
    floor = _run([CTX.Process(target=_raw, args=(url, raw, recorded[p], barrier, out))
                  for p in range(procs)], out)
    total = procs * fires
    return total / ours, total / floor


def _work_timers(url: str, barrier: Any, out: Any) -> None:
    e = _engine(url, BASE + timedelta(days=2))
    barrier.wait()
    t0, fired = time.perf_counter(), 0
    while (report := e.run_due(limit=100)).claimed:
        fired += report.fired
    out.put((time.perf_counter() - t0, fired))
    e.store.close()


def timer_rate(new_url: Callable[[], str], workers: int, cases: int) -> float:
    url = new_url()
    upgrade(url)
    _start_cases(url, 1, cases)  # two timers each, all due two days later
    barrier, out = CTX.Barrier(workers), CTX.Queue()
    procs = [CTX.Process(target=_work_timers, args=(url, barrier, out)) for _ in range(workers)]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    fired = sum(n for _, n in results)
    assert fired == 2 * cases, (fired, cases)
    return fired / max(t for t, _ in results)


def _median(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def long_history(new_url: Callable[[], str], events: int, reps: int) -> None:
    url = new_url()
    upgrade(url)
    mem = Engine(MemoryStore(), workflows=[WORKFLOW], clock=FixedClock(BASE))
    mem.start("bench", {}, actor=AGENT, case_id="long")
    for n in range(events - 1):
        mem.fire("long", "touch", actor=AGENT, data={"n": n})
    history = mem.history("long")
    e = _engine(url)
    e.store.append(mem.get("long"), history, 0)
    e.start("bench", {}, actor=AGENT, case_id="short")
    assert len(e.history("long")) == events

    snap = _median(lambda: e.get("long"), reps * 20)
    full = _median(lambda: replay(WORKFLOW, e.store.load_events("long")), reps)
    print(f"load a {events:,}-event case   snapshot {snap * 1e3:8.2f} ms   "
          f"from events {full * 1e3:8.2f} ms   ratio {full / snap:,.0f}x faster")
    counter = iter(range(10**9))

    def touch(cid: str) -> Callable[[], Any]:
        return lambda: e.fire(cid, "touch", actor=AGENT, data={"n": next(counter)})

    long_fire = _median(touch("long"), reps * 10)
    short_fire = _median(touch("short"), reps * 10)
    print(f"fire on it                   {long_fire * 1e3:8.2f} ms   "
          f"on a 1-event case {short_fire * 1e3:6.2f} ms   ratio {long_fire / short_fire:.2f}"
          "  (target ~1: nothing on the fire path reads history)")
    e.store.close()


@contextmanager
def sqlite_urls() -> Iterator[Callable[[], str]]:
    with tempfile.TemporaryDirectory() as tmp:
        count = iter(range(10**6))
        yield lambda: f"sqlite:///{Path(tmp) / f'scale{next(count)}.db'}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--postgres", default=os.environ.get("CSFLOW_TEST_POSTGRES_URL"))
    args = parser.parse_args(argv)
    fires, timer_cases, events, reps = (60, 150, 2_000, 3) if args.quick else (
        300, 1000, 10_000, 5)

    if args.postgres:
        label, urls, raw = "PostgreSQL", pg_schemas(args.postgres), raw_psycopg
    else:
        label, urls = "SQLite", sqlite_urls()  # type: ignore[assignment]

        def raw(url: str) -> Any:
            return raw_sqlite(Path(str(sa.make_url(url).database)))

    print(f"{label}, {os.cpu_count()} CPUs{' (quick)' if args.quick else ''}")
    with urls as new_url:
        single = 0.0
        for procs in (1, 4, 8):
            ours, floor = fire_rate(new_url, raw, procs, fires)
            single = single or ours
            print(f"fire/s, {procs} writer(s)          {ours:9,.0f}   raw driver {floor:9,.0f}   "
                  f"ratio {ours / floor:.2f}")
        one = timer_rate(new_url, 1, timer_cases)
        two = timer_rate(new_url, 2, timer_cases)
        print(f"timers/s, 1 worker           {one:9,.0f}   1-writer fire/s {single:9,.0f}   "
              f"ratio {one / single:.2f}")
        print(f"timers/s, 2 workers          {two:9,.0f}   1 worker        {one:9,.0f}   "
              f"ratio {two / one:.2f}")
        long_history(new_url, events, reps)


if __name__ == "__main__":
    main()
