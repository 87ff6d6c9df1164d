"""What the fault tests' child processes run: writers firing transitions, timer workers.

Every process builds its own engine on a :class:`ScaledClock` shared by value,
so all agree on "now" while a few real seconds cover several minutes of SLA
time. Children report through a queue; anything that is not a csflow error
is reported as a crash, which fails the test.
"""

from __future__ import annotations

import os
import random
import textwrap
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from csflow import Actor, Engine
from csflow.errors import CsflowError
from csflow.stores import SQLStore
from csflow.workflows import WorkflowDef, parse_workflow

SCALE = float(os.environ.get("CSFLOW_SCALE", "1"))
"""Shrinks the fault tests for quick local runs (0.1 = a tenth of the cases and time)."""

BASE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

# Calendar-time targets ("2 minutes"), so the clock's speed, not business
# hours, decides when timers fall due during a run of a few seconds.
OPS_YAML = textwrap.dedent("""\
    workflow: ops
    version: 1
    initial: a
    roles: [agent, system]
    start:
      requires: {n: int}
    states:
      a: {sla: {target: 2 minutes, calendar: uk-england-wales, warn_at: 50%, on_breach: notify}}
      b: {sla: {target: 3 minutes, calendar: uk-england-wales, warn_at: 50%, on_breach: escalate}}
      held: {pauses_sla: true}
      done: {terminal: true}
    transitions:
      - {trigger: flip, source: a, dest: b}
      - {trigger: flop, source: b, dest: a}
      - {trigger: hold, source: [a, b], dest: held}
      - {trigger: release_a, source: held, dest: a}
      - trigger: note
        source: "*"
        dest: "="
        requires: {text: str}
        emit:
          - {message: noted, to: team, data: {text: $data.text}}
      - {trigger: finish, source: "*", dest: done}
""")
OPS: WorkflowDef = parse_workflow(OPS_YAML, "ops.yaml")
AGENT = Actor("w", "agent")
NEXT = {"a": ["flip", "hold", "note", "note"], "b": ["flop", "hold", "note", "note"],
        "held": ["release_a", "note"]}


@dataclass(frozen=True)
class ScaledClock:
    """``base`` at real time ``real0``, running ``speed`` times faster than the wall clock."""

    real0: float
    speed: float
    base: datetime = BASE

    def now(self) -> datetime:
        return self.base + timedelta(seconds=(time.time() - self.real0) * self.speed)


def engine(url: str, clock: Any) -> Engine:
    return Engine(SQLStore(url, create=False), workflows=[OPS], clock=clock)


def writer(url: str, name: str, clock: ScaledClock, case_ids: list[str], until: float,
           results: Any) -> None:
    """Fire random allowed triggers on shared cases until ``until``; report every outcome."""
    accepted: list[str] = []
    refused: Counter[str] = Counter()
    crashes: list[str] = []
    rng = random.Random(name)
    try:
        e = engine(url, clock)
        n = 0
        while time.time() < until:
            n += 1
            key = f"{name}-{n}"
            cid = rng.choice(case_ids)
            try:
                case = e.get(cid)
                if case.terminal:
                    continue
                trigger = rng.choice(NEXT[case.state])
                data = {"text": key} if trigger == "note" else None
                e.fire(cid, trigger, actor=AGENT, data=data, expected_version=case.version,
                       idempotency_key=key)
                accepted.append(key)
            except CsflowError as exc:
                refused[type(exc).__name__] += 1
        e.store.close()
    except Exception as exc:  # reported to the parent, which fails the test with it
        crashes.append(f"{type(exc).__name__}: {exc}")
    results.put(("writer", name, accepted, dict(refused), crashes))


def worker(url: str, name: str, clock: ScaledClock, until: float, results: Any) -> None:
    """Run ``run_due`` until ``until``; report timers fired and any failure."""
    fired, failed, crashes = 0, [], []
    try:
        e = engine(url, clock)
        while time.time() < until:
            report = e.run_due(limit=50, lease=timedelta(minutes=10), worker=name)
            fired += report.fired
            failed.extend(report.failed)
            if report.claimed == 0:
                time.sleep(0.02)
        e.store.close()
    except Exception as exc:
        crashes.append(f"{type(exc).__name__}: {exc}")
    results.put(("worker", name, fired, failed, crashes))


def hang_in_commit(url: str, clock: Any, action: str, arg: Any, inside: Any) -> None:
    """Do ``action``, but stop dead inside the commit of its append (the parent SIGKILLs us).

    ``fire``: arg = (case_id, trigger, data, key). ``timer``: arg = timer id; the
    claim commits first, then the firing append hangs.
    """
    import sqlalchemy as sa

    e = engine(url, clock)
    sql_engine = e.store._engine  # type: ignore[attr-defined]

    def stall(_conn: Any) -> None:
        inside.set()
        time.sleep(60)

    if action == "fire":
        sa.event.listen(sql_engine, "commit", stall)
        cid, trigger, data, key = arg
        e.fire(cid, trigger, actor=AGENT, data=data, idempotency_key=key)
    else:
        now = clock.now()
        claimed = e.store.claim_timers(now, limit=1000, lease_until=now + timedelta(minutes=5),
                                       worker="doomed")
        [timer] = [t for t in claimed if t.id == arg]
        sa.event.listen(sql_engine, "commit", stall)
        e.fire_timer(timer)
