"""Step analysis: process mining on csflow's own log.

For each step (state) of a workflow: how long cases dwell there in business
time, how often they come back (rework), how often work changes hands
between roles, what it costs, and what share of the cases that pass through
it breach a service standard (the step's SLA) or a regulatory deadline. Plus
the most common paths, which show where the designed process and the real
one part.
"""

from __future__ import annotations

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
    """Running totals of one step while the shapes are read."""

    __slots__ = ("breached", "cases", "cost", "decided", "dwell", "handoffs", "rework",
                 "rework_cases")

    def __init__(self) -> None:
        self.dwell: list[float] = []
        self.cases = self.rework = self.rework_cases = self.handoffs = self.cost = 0
        self.decided = self.breached = 0  # cases with an SLA verdict here; with a breach


def step_analysis(log: EventLog, *, top_paths: int = 8) -> StepAnalysis:
    """Per-step statistics in the workflow's state order, and the commonest paths."""
    wf = log.workflow
    acc = {s: _Step() for s in wf.states}
    stays = log.stays
    # Everything but a visit's hours and verdict is its shape's: counted once per
    # shape, times the cases of that shape. A case's visits to a step are numbered
    # from 1, so its first visit counts the case and its second counts it as reworked.
    for shape, n, places in stays.by_shape():
        hours, verdicts = stays.hours[shape.number], stays.verdicts[shape.number]
        at: dict[str, list[int]] = {}  # the shape's visits to each step
        for j, (state, nth, handoffs, cost) in enumerate(zip(
                shape.states, shape.nths, shape.handoffs, shape.costs, strict=True)):
            a = acc[state]
            at.setdefault(state, []).append(j)
            if nth == 1:
                a.cases += n
            else:
                a.rework += n
                if nth == 2:
                    a.rework_cases += n
            a.handoffs += handoffs * n
            a.cost += cost * n
            a.dwell += hours[j] if places is None else map(hours[j].__getitem__, places)
        # A case breached a step's SLA if any of its visits there did.
        for state, js in at.items():
            a = acc[state]
            found = [column if places is None else list(map(column.__getitem__, places))
                     for column in (verdicts[j] for j in js) if column is not None]
            if not found:
                continue
            if len(found) == 1:
                a.decided += n - found[0].count(None)
                a.breached += found[0].count(True)
            else:
                for each in zip(*found, strict=True):
                    if each.count(None) < len(each):
                        a.decided += 1
                        a.breached += True in each
    missed = Counter(s for s in column(log.case_rows, CaseFacts, "deadline_state")
                     if s is not None)
    steps = []
    for name, state_def in wf.states.items():
        a = acc[name]
        xs = sorted(a.dwell)
        n = a.cases
        timed = bool(xs) and not state_def.terminal
        steps.append(StepStats(
            step=name, description=state_def.description,
            sla=str(state_def.sla.target) if state_def.sla else None,
            visits=len(xs), cases=n,
            dwell_mean=(sum(xs) / len(xs)) if timed else None,
            dwell_median=_median(xs) if timed else None,
            dwell_p90=xs[min(len(xs) - 1, int(0.9 * len(xs)))] if timed else None,
            rework=a.rework, rework_cases=a.rework_cases, handoffs=a.handoffs,
            cost=Decimal(a.cost) / 100,
            cost_per_case=(Decimal(a.cost) / 100 / n).quantize(Decimal("0.01")) if n else None,
            breach_share=(a.breached / a.decided) if a.decided else None,
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


def _median(xs: Sequence[float]) -> float:
    """``statistics.median`` of ``xs``, already sorted (it would sort them again)."""
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None
