"""SQLStore.append against the raw driver writing the same rows, in one run, as ratios.

    python -m benchmarks.store [--quick] [--postgres URL]

Both sides write identical rows (encoded by the same functions, into the same
tables created by the same migration, same SQLite pragmas) in one transaction
per append: the snapshot INSERT or version-checked UPDATE, then the events.
So the ratio is what SQLAlchemy Core and the store's bookkeeping cost on top
of the driver; the target is >= 1/2. Two shapes:

* ``1 event``: a new case, then single-event appends (what ``fire`` does);
* ``10 events``: appends of ten events each (imports, replays into a new store).

PostgreSQL runs when ``--postgres`` or ``CSFLOW_TEST_POSTGRES_URL`` gives a URL;
each side gets a fresh schema, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from csflow.model import Case, Event
from csflow.stores import SQLStore, upgrade
from csflow.stores._dialect import BUSY_TIMEOUT_MS, utc
from csflow.stores.sql import _case_row, _event_row
from tests.stores._chain import extend, start

Batch = tuple[Case, list[Event], int]
Append = Callable[[Case, Sequence[Event], int], None]
Raw = tuple[Append, Callable[[], None]]  # append, close


def workload(cases: int, appends: int, size: int) -> list[Batch]:
    """Per case: a first batch of ``size`` events, then ``appends`` more, interleaved."""
    heads = [start(f"case-{i}", size) for i in range(cases)]
    out: list[Batch] = [(c, b, 0) for c, b in heads]
    current = [c for c, _ in heads]
    for _ in range(appends):
        for i, case in enumerate(current):
            nxt, batch = extend(case, size, trigger="note")
            out.append((nxt, batch, case.version))
            current[i] = nxt
    return out


def rate(append: Append, batches: list[Batch]) -> float:
    events = sum(len(b) for _, b, _ in batches)
    t0 = time.perf_counter()
    for snapshot, batch, expected in batches:
        append(snapshot, batch, expected)
    return events / (time.perf_counter() - t0)


_CASE_COLS = ("id", "workflow", "workflow_version", "state", "data", "version", "created_at",
              "updated_at", "last_hash", "terminal")
_EVENT_COLS = ("case_id", "seq", "type", "trigger", "occurred_at", "recorded_at",
               "idempotency_key", "hash", "payload", "pii")


def _sql(ph: str) -> tuple[str, str, str]:
    """INSERT case, UPDATE case, INSERT events with the driver's placeholder ``ph``."""
    def cols(names: Sequence[str]) -> str:
        return ", ".join(f'"{c}"' for c in names)  # "trigger" is a keyword in SQLite

    def marks(names: Sequence[str]) -> str:
        return ", ".join([ph] * len(names))

    sets = ", ".join(f'"{c}" = {ph}' for c in _CASE_COLS[1:])
    return (
        f"INSERT INTO csflow_cases ({cols(_CASE_COLS)}) VALUES ({marks(_CASE_COLS)})",
        f"UPDATE csflow_cases SET {sets} WHERE id = {ph} AND version = {ph}",
        f"INSERT INTO csflow_events ({cols(_EVENT_COLS)}) VALUES ({marks(_EVENT_COLS)})",
    )


def _sqlite_time(row: dict[str, Any]) -> dict[str, Any]:
    """Times as SQLAlchemy writes them to SQLite: UTC text without an offset."""
    return {k: (utc(v).replace(tzinfo=None).isoformat(" ") if k.endswith("_at") else v)
            for k, v in row.items()}


def raw_sqlite(path: Path) -> Raw:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("PRAGMA synchronous=NORMAL")
    insert_case, update_case, insert_events = _sql("?")

    def append(snapshot: Case, batch: Sequence[Event], expected: int) -> None:
        case = _sqlite_time(_case_row(snapshot))
        rows = [tuple(_sqlite_time(_event_row(e)).values()) for e in batch]
        con.execute("BEGIN IMMEDIATE")
        try:
            if expected == 0:
                con.execute(insert_case, tuple(case.values()))
            else:
                values = [case[c] for c in _CASE_COLS[1:]]
                if con.execute(update_case, (*values, snapshot.id, expected)).rowcount != 1:
                    raise RuntimeError("conflict")
            con.executemany(insert_events, rows)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    return append, con.close


def raw_psycopg(url: str) -> Raw:
    import psycopg

    u = sa.make_url(url)
    options = u.query.get("options")
    con = psycopg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database,
        options=options if isinstance(options, str) else None,
    )
    insert_case, update_case, insert_events = _sql("%s")

    def append(snapshot: Case, batch: Sequence[Event], expected: int) -> None:
        case = _case_row(snapshot)
        rows = [tuple(_event_row(e).values()) for e in batch]
        with con.transaction(), con.cursor() as cur:
            if expected == 0:
                cur.execute(insert_case, tuple(case.values()))
            else:
                values = [case[c] for c in _CASE_COLS[1:]]
                cur.execute(update_case, (*values, snapshot.id, expected))
                if cur.rowcount != 1:
                    raise RuntimeError("conflict")
            cur.executemany(insert_events, rows)

    return append, con.close


@contextmanager
def pg_schemas(url: str) -> Iterator[Callable[[], str]]:
    admin = sa.create_engine(url)
    made: list[str] = []

    def new() -> str:
        name = f"csflow_bench_{uuid.uuid4().hex[:10]}"
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
        made.append(name)
        return sa.make_url(url).update_query_dict(
            {"options": f"-csearch_path={name}"}).render_as_string(hide_password=False)

    try:
        yield new
    finally:
        with admin.begin() as conn:
            for name in made:
                conn.exec_driver_sql(f"DROP SCHEMA {name} CASCADE")
        admin.dispose()


def compare(label: str, new_url: Callable[[], str], raw: Callable[[str], Raw],
            batches: list[Batch]) -> None:
    """Best of three alternating runs per side, each on a fresh database."""
    ours = floor = 0.0
    for _ in range(3):
        url = new_url()
        upgrade(url)
        append, close = raw(url)
        floor = max(floor, rate(append, batches))
        close()
        with SQLStore(new_url()) as store:
            ours = max(ours, rate(store.append, batches))
    print(f"{label:<28} {ours:>9,.0f} ev/s   raw driver {floor:>9,.0f} ev/s   "
          f"ratio {ours / floor:.2f}  (target >= 0.50)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--postgres", default=os.environ.get("CSFLOW_TEST_POSTGRES_URL"))
    args = parser.parse_args(argv)
    cases, appends = (100, 4) if args.quick else (300, 6)
    shapes = {1: workload(cases, appends, 1), 10: workload(cases // 5, appends, 10)}

    with tempfile.TemporaryDirectory() as tmp:
        count = iter(range(10**6))

        def sqlite_url() -> str:
            return f"sqlite:///{Path(tmp) / f'bench{next(count)}.db'}"

        for size, batches in shapes.items():
            compare(f"SQLite, {size} event(s)/append", sqlite_url,
                    lambda url: raw_sqlite(Path(sa.make_url(url).database or "")), batches)
    if not args.postgres:
        print("PostgreSQL skipped: pass --postgres URL or set CSFLOW_TEST_POSTGRES_URL")
        return
    with pg_schemas(args.postgres) as new_pg_url:
        for size, batches in shapes.items():
            compare(f"PostgreSQL, {size} event(s)/append", new_pg_url, raw_psycopg, batches)


if __name__ == "__main__":
    main()
