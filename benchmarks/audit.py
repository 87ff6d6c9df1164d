"""Audit throughput against reading and hashing the same rows, in one run, as ratios.

    python -m benchmarks.audit [--quick] [--events N]

A fresh SQLite file gets N events (default 1,000,000; ``--quick`` 50,000) in
cases of ten, written in bulk as rows with valid chains and snapshots (not
through the engine, which would take minutes). Then, on the same file:

* floor: ``sqlite3`` reads every payload row in order and hashes
  ``prev_hash || payload`` with hashlib: the least any verifier must do;
* verify: :func:`csflow.audit.verify_store`: every chain, seq, personal-data
  digest, and every snapshot against the events (a full state/data fold);
* replay: every case rebuilt with :func:`csflow.replay` from decoded
  :class:`~csflow.model.Event` values (what ``csflow audit replay`` does per
  case), reading the events once in recorded order.

Target: verify and replay >= 1/3 of the floor. Runs on a busy machine vary by
about 10%: compare ratios, not events/s.
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from csflow._canonical import GENESIS, canonical_json, chain_hash, seal_pii
from csflow._replay import replay
from csflow.audit import verify_store
from csflow.audit._fold import fold
from csflow.model import Event
from csflow.stores import SQLStore
from csflow.workflows import bundled_workflows

T0 = datetime(2024, 1, 1, 9, tzinfo=UTC)
PER_CASE = 10
STEPS = ["start", "start_investigation", "inform_customer", "record_findings",
         "complete_analysis", "propose_solutions", "approve_solution", "complete_action",
         "confirm_resolved", "inform_customer"]
STATES = ["recorded", "investigating", "investigating", "analysing", "reviewing_solutions",
          "reviewing_solutions", "actioning", "confirming", "closed", "closed"]
DECISION = {"name": "escalation", "title": "Whether and where to escalate",
            "ruleset_version": "ab" * 32,
            "inputs": {"severity": "low", "vulnerable": False, "regulated": False,
                       "repeat": False, "amount_over_authority": False, "sla_breached": False,
                       "level": "agent"},
            "outputs": {"escalate": False, "to_level": None, "priority": "normal",
                        "reason": "No escalation needed"},
            "matched": ["stay-low"]}


def _case_rows(n: int) -> tuple[list[tuple[Any, ...]], tuple[Any, ...]]:
    """Event rows and the snapshot row of case ``n``, chained as the engine chains them."""
    case_id = f"case-{n:07d}"
    prev, data, rows = GENESIS, {}, []
    at = T0 + timedelta(minutes=n)
    for i in range(PER_CASE):
        seq = i + 1
        delta: dict[str, Any] = {"step": seq, "note": f"step {seq} of {case_id}"}
        pii, digests = seal_pii({"customer.name": "Ann Smith",
                                 "customer.email": "ann@example.com"} if seq == 1 else {})
        when = at + timedelta(hours=seq)
        payload = {
            "case_id": case_id, "seq": seq, "type": "start" if seq == 1 else "transition",
            "workflow": "complaint", "workflow_version": 1, "trigger": STEPS[i],
            "source": None if seq == 1 else STATES[i - 1], "dest": STATES[i],
            "actor": {"id": f"agent-{n % 12}", "role": "agent"}, "data": delta,
            "decisions": [DECISION] if i == 1 else [], "occurred_at": when,
            "recorded_at": when, "idempotency_key": None, "prev_hash": prev,
            "pii_digests": digests,
        }
        h = chain_hash(prev, canonical_json(payload))
        payload["hash"] = h
        rows.append((case_id, seq, payload["type"], STEPS[i], when.isoformat(),
                     when.isoformat(), h, canonical_json(payload).decode(),
                     canonical_json(pii).decode() if pii else None))
        data = fold(data, delta, pii)
        prev = h
    snapshot = (case_id, "complaint", 1, STATES[-1], canonical_json(data).decode(), PER_CASE,
                at.isoformat(), (at + timedelta(hours=PER_CASE)).isoformat(), prev, True)
    return rows, snapshot


def generate(path: Path, events: int) -> None:
    SQLStore(f"sqlite:///{path}").close()  # the real tables, by the real migrations
    conn = sqlite3.connect(path)
    for start in range(0, events // PER_CASE, 1000):
        cases, rows = [], []
        for n in range(start, min(start + 1000, events // PER_CASE)):
            r, snap = _case_rows(n)
            rows += r
            cases.append(snap)
        conn.executemany(
            "INSERT INTO csflow_cases (id, workflow, workflow_version, state, data, version, "
            "created_at, updated_at, last_hash, terminal) VALUES (?,?,?,?,?,?,?,?,?,?)", cases)
        conn.executemany(
            "INSERT INTO csflow_events (case_id, seq, type, trigger, occurred_at, recorded_at, "
            "hash, payload, pii) VALUES (?,?,?,?,?,?,?,?,?)", rows)
        conn.commit()
    conn.close()


# Each measure opens its connection first and returns (events, seconds): opening
# a store runs its migration check, a fixed cost that is not throughput.

def floor(path: Path) -> tuple[int, float]:
    conn = sqlite3.connect(path)
    t0 = time.perf_counter()
    n, prev = 0, GENESIS.encode()
    for (payload,) in conn.execute("SELECT payload FROM csflow_events ORDER BY position"):
        prev = hashlib.sha256(prev + payload.encode()).hexdigest().encode()
        n += 1
    took = time.perf_counter() - t0
    conn.close()
    return n, took


def verify(path: Path) -> tuple[int, float]:
    with SQLStore(f"sqlite:///{path}") as store:
        t0 = time.perf_counter()
        report = verify_store(store)
        took = time.perf_counter() - t0
    assert report.ok, report.damage[:3]
    return report.events, took


def _by_case(events: Iterator[Event]) -> Iterator[list[Event]]:
    batch: list[Event] = []
    for e in events:
        if batch and e.case_id != batch[0].case_id:
            yield batch
            batch = []
        batch.append(e)
    if batch:
        yield batch


def replay_all(path: Path) -> tuple[int, float]:
    wf = next(w for w in bundled_workflows() if w.name == "complaint")
    n = 0
    with SQLStore(f"sqlite:///{path}") as store:
        t0 = time.perf_counter()
        for history in _by_case(store.iter_events()):
            replay(wf, history)
            n += len(history)
        took = time.perf_counter() - t0
    return n, took


def timed(label: str, fn: Any, path: Path) -> float:
    n, took = fn(path)
    rate = n / took
    print(f"  {label:<8} {rate:>11,.0f} events/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="50,000 events")
    parser.add_argument("--events", type=int, default=None)
    args = parser.parse_args()
    events = args.events or (50_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.db"
        t0 = time.perf_counter()
        generate(path, events)
        print(f"{events:,} events in {events // PER_CASE:,} cases written in "
              f"{time.perf_counter() - t0:.1f} s (SQLite, bulk, valid chains)")
        base = timed("floor", floor, path)
        v = timed("verify", verify, path)
        r = timed("replay", replay_all, path)
    print(f"verify / floor = {v / base:.2f}  (target >= 0.33)")
    print(f"replay / floor = {r / base:.2f}  (target >= 0.33)")


if __name__ == "__main__":
    main()
