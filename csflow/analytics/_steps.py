"""Step analysis: process mining on csflow's own log.

For each step (state) of a workflow: how long cases dwell there in business
time, how often they come back (rework), how often work changes hands
between roles, what it costs, and what share of the cases that pass through
it breach a service standard (the step's SLA) or a regulatory deadline. Plus
the most common paths, which show where the designed process and the real
one part.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from csflow.analytics._log import CaseFacts, EventLog, column


@dataclass(frozen=True, slots=True)
class StepStats:
    """One step of the workflow as the log shows it."""

    step: str
    description: str
    sla: str | None
    visits: int
    cases: int
    dwell_mean: float | None  # business hours per visit
    dwell_median: float | None
    dwell_p90: float | None
    rework: int  # visits beyond a case's first to this step
    rework_cases: int
    handoffs: int
    cost: Decimal  # staff cost of actions taken in the step
    cost_per_case: Decimal | None
    breach_share: float | None  # of the cases whose SLA here is decided
    regulatory_breach_share: float | None  # of cases here, missed a deadline while here


@dataclass(frozen=True, slots=True)
class PathStats:
    path: tuple[str, ...]
    cases: int
    share: float
    mean_hours: float | None  # mean business hours to resolution of those cases


@dataclass(frozen=True)
class StepAnalysis:
    workflow: str
    steps: tuple[StepStats, ...]
    paths: tuple[PathStats, ...]
    handoffs: tuple[tuple[str, str, int], ...]  # from role, to role, count; most first

    def review_steps(self) -> list[dict[str, Any]]:
        """The steps as the ``identify_steps`` trigger of a process review takes them."""
        out: list[dict[str, Any]] = []
        for s in self.steps:
            row: dict[str, Any] = {"step": s.step, "visits": s.visits, "rework": s.rework}
            for key, value in (("dwell_hours", s.dwell_mean), ("breach_share", s.breach_share),
                               ("regulatory_breach_share", s.regulatory_breach_share)):
                if value is not None:
                    row[key] = str(round(Decimal(str(value)), 3))
            if s.cost_per_case is not None:
                row["cost_per_case"] = str(s.cost_per_case)
            out.append(row)
        return out


class _Step:
    """Running totals of one step while the visits are read."""

    __slots__ = ("cases", "cost", "decided", "dwell", "handoffs", "rework", "rework_cases")

    def __init__(self) -> None:
        self.dwell: list[float] = []
        self.cases = self.rework = self.rework_cases = self.handoffs = self.cost = 0
        self.decided: dict[str, bool] = {}  # case -> breached this step's SLA at least once


def step_analysis(log: EventLog, *, top_paths: int = 8) -> StepAnalysis:
    """Per-step statistics in the workflow's state order, and the commonest paths."""
    wf = log.workflow
    acc = {s: _Step() for s in wf.states}
    # A case's visits to a step are numbered from 1, so its first visit counts
    # the case and its second counts it as reworked: no set of case ids needed.
    # Fields by position rather than unpacking the row: unpacking would touch
    # its two datetimes too, which are scattered across memory at a million visits.
    for v in log.visit_rows:  # case_id, state, nth, _, _, hours, _, handoffs, cost, breached
        a = acc[v[1]]
        a.dwell.append(v[5])
        nth = v[2]
        if nth == 1:
            a.cases += 1
        else:
            a.rework += 1
            if nth == 2:
                a.rework_cases += 1
        a.handoffs += v[7]
        a.cost += v[8]
        breached = v[9]
        if breached is not None:
            a.decided[v[0]] = a.decided.get(v[0], False) or breached
    missed = Counter(s for s in column(log.case_rows, CaseFacts, "deadline_state")
                     if s is not None)
    steps = []
    for name, state in wf.states.items():
        a = acc[name]
        xs = sorted(a.dwell)
        n = a.cases
        verdicts = a.decided
        timed = bool(xs) and not state.terminal
        steps.append(StepStats(
            step=name, description=state.description,
            sla=str(state.sla.target) if state.sla else None,
            visits=len(xs), cases=n,
            dwell_mean=(sum(xs) / len(xs)) if timed else None,
            dwell_median=statistics.median(xs) if timed else None,
            dwell_p90=xs[min(len(xs) - 1, int(0.9 * len(xs)))] if timed else None,
            rework=a.rework, rework_cases=a.rework_cases, handoffs=a.handoffs,
            cost=Decimal(a.cost) / 100,
            cost_per_case=(Decimal(a.cost) / 100 / n).quantize(Decimal("0.01")) if n else None,
            breach_share=(sum(verdicts.values()) / len(verdicts)) if verdicts else None,
            regulatory_breach_share=(missed[name] / n) if n else None,
        ))
    return StepAnalysis(wf.name, tuple(steps), _paths(log, top_paths),
                        tuple((a, b, k) for (a, b), k in sorted(
                            log.handoffs.items(), key=lambda kv: -kv[1])))


def _paths(log: EventLog, top: int) -> tuple[PathStats, ...]:
    paths = column(log.case_rows, CaseFacts, "path")
    counts = Counter(paths)
    common = counts.most_common(top)
    wanted = {p for p, _ in common}
    hours: dict[tuple[str, ...], list[float]] = {}
    for path, resolved in zip(paths, column(log.case_rows, CaseFacts, "resolve_hours"),
                              strict=True):
        if resolved is not None and path in wanted:
            hours.setdefault(path, []).append(resolved)
    total = len(paths)
    return tuple(PathStats(p, n, n / total, _mean(hours.get(p, ()))) for p, n in common)


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None
