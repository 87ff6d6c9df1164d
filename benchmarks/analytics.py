"""Analytics speed against a floor, measured in one run, printed as ratios.

    python -m benchmarks.analytics [--quick]

* KPIs + step analysis (``read_log`` + ``kpi_table`` per area + ``step_analysis``)
  over 1,000,000 events vs the floor: one plain-Python pass over the same
  events grouping them by case and summing wall-clock time per step
  (target: within 3x), each the median of three rounds (five with --quick)
  taken in turn, as the machine's load changes;
* the full HTML report over the same events (target: under a minute).

Events are generated in bulk as :class:`Event` values (complaint workflow
paths with realistic branching, times on working days), not through the
engine, so a million of them take seconds to make.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from csflow.analytics import (
    build_report,
    kpi_table,
    periods_for,
    read_log,
    render_html,
    step_analysis,
)
from csflow.model import Actor, Event

ACTORS = {r: Actor(f"{r}-1", r) for r in ("agent", "team_leader", "manager", "customer")}
AREAS = ("retail", "subscriptions", "delivery")
CHANNELS = ("phone", "email", "web", "in_person", "social")
TYPES = ("product_fault", "service_failure", "delivery", "billing", "staff_conduct")
CAUSES = ("product_defect", "process_failure", "staff_error", "system_error", "third_party")


def _path(rng: random.Random) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(trigger, source, dest, role, data) steps after the start event."""
    cls = {"classification": {"type": rng.choice(TYPES), "severity": "low", "vulnerable": False,
                              "regulated": rng.random() < 0.1, "repeat": False}}
    if rng.random() < 0.28:
        return [("resolve_on_first_contact", "recorded", "confirming", "agent", cls),
                ("confirm_resolved", "confirming", "closed", "customer",
                 {"csat": rng.choice((5, 4, 4, 3, 2))})]
    steps = [("start_investigation", "recorded", "investigating", "agent", cls)]
    if rng.random() < 0.25:
        steps += [("request_information", "investigating", "awaiting_customer", "agent", {}),
                  ("information_received", "awaiting_customer", "investigating", "customer", {})]
    steps += [("record_findings", "investigating", "analysing", "agent", {}),
              ("complete_analysis", "analysing", "reviewing_solutions", "agent",
               {"root_cause": rng.choice(CAUSES)})]
    if rng.random() < 0.3:
        steps.append(("escalate", "reviewing_solutions", "reviewing_solutions", "agent", {}))
    steps += [("approve_solution", "reviewing_solutions", "actioning", "team_leader",
               {"agreed_solution": {"amount": str(rng.choice((10, 45, 150, 400)))}}),
              ("complete_action", "actioning", "confirming", "agent", {})]
    if rng.random() < 0.12:
        steps += [("reopen", "confirming", "investigating", "customer", {"csat": 2}),
                  ("record_findings", "investigating", "analysing", "team_leader", {}),
                  ("complete_analysis", "analysing", "reviewing_solutions", "team_leader", {}),
                  ("approve_solution", "reviewing_solutions", "actioning", "team_leader", {}),
                  ("complete_action", "actioning", "confirming", "agent", {})]
    steps.append(("confirm_resolved", "confirming", "closed", "customer",
                  {"csat": rng.choice((5, 4, 3))}))
    return steps


def generate(n_events: int, seed: int = 1) -> list[Event]:
    """About ``n_events`` events of complaints opened over 26 weeks, interleaved by time."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    rows: list[tuple[datetime, str, int, str, str | None, str, str, dict[str, Any]]] = []
    n = 0
    while len(rows) < n_events:
        cid = f"case-{n:07d}"
        day = rng.randrange(26 * 7)
        if (start + timedelta(days=day)).weekday() >= 5:
            continue
        n += 1
        t = start + timedelta(days=day, hours=rng.uniform(0, 8))
        area = rng.choice(AREAS)
        rows.append((t, cid, 1, "start", None, "recorded", "agent",
                     {"business_area": area, "channel": rng.choice(CHANNELS)}))
        for seq, (trigger, src, dest, role, data) in enumerate(_path(rng), start=2):
            t += timedelta(hours=rng.choice((0.5, 1, 2, 4, 20, 26)))
            rows.append((t, cid, seq, trigger, src, dest, role, data))
    rows.sort(key=lambda r: r[0])
    return [Event(case_id=cid, seq=seq, type="start" if seq == 1 else "transition",
                  workflow="complaint", workflow_version=1, trigger=trigger, source=src,
                  dest=dest, actor=ACTORS[role], data=data, decisions=(), occurred_at=t,
                  recorded_at=t, idempotency_key=None, prev_hash="", hash="")
            for t, cid, seq, trigger, src, dest, role, data in rows]


def floor(events: list[Event]) -> int:
    """One plain pass: per case, wall time spent in each step, and trigger counts."""
    last: dict[str, tuple[str, datetime]] = {}
    spent: defaultdict[str, float] = defaultdict(float)
    triggers: defaultdict[str, int] = defaultdict(int)
    for e in events:
        triggers[e.trigger] += 1
        prev = last.get(e.case_id)
        if prev is not None and prev[0] != e.dest:
            spent[prev[0]] += (e.occurred_at - prev[1]).total_seconds()
        if prev is None or prev[0] != e.dest:
            last[e.case_id] = (e.dest, e.occurred_at)
    return len(spent) + len(triggers)


def analytics(events: list[Event]) -> int:
    log = read_log(events)
    rows = kpi_table(log, periods_for(log, "week"), by="business_area")
    return len(rows) + len(step_analysis(log).steps)


def _paired(rounds: int, events: list[Event]) -> tuple[float, float]:
    """Median seconds of the floor and of the analytics over ``rounds`` rounds taken in
    turn, so both run under the same load when the machine is busy."""
    floors, ours = [], []
    for _ in range(rounds):
        for fn, took in ((floor, floors), (analytics, ours)):
            t = time.perf_counter()
            fn(events)
            took.append(time.perf_counter() - t)
    return statistics.median(floors), statistics.median(ours)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about 50,000 events")
    args = parser.parse_args()
    n = 50_000 if args.quick else 1_000_000
    t = time.perf_counter()
    events = generate(n)
    print(f"generated {len(events):,} events in {time.perf_counter() - t:.1f} s")
    base, ours = _paired(5 if args.quick else 3, events)
    print(f"floor (one plain pass):          {base:7.2f} s   (medians of rounds taken in turn)")
    print(f"KPIs + step analysis:            {ours:7.2f} s   ratio {ours / base:5.2f}x "
          "(target <= 3x)")
    t = time.perf_counter()
    html = render_html(build_report(events))
    took = time.perf_counter() - t
    print(f"HTML report ({len(html) // 1024} KiB):         {took:7.2f} s   "
          f"{took / 60:5.2f} of the 60 s budget")


if __name__ == "__main__":
    main()
