"""Patterns and trends: control charts with run rules, Pareto, categories over periods.

Control charts separate special causes (something changed: act on it) from
common-cause noise (do not chase it). Limits are the centre ± 3σ of the
chart's own data; the standard run rules then flag points that are unlikely
under noise alone:

1. one point beyond 3σ;
2. two of three consecutive points beyond 2σ on the same side;
3. four of five consecutive points beyond 1σ on the same side;
4. eight consecutive points on the same side of the centre.

Each point is judged in σ units of its own period (``z``), so the same rules
serve c-charts (constant σ) and u/p-charts (σ varies with the period's size).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from csflow.analytics._kpi import Period, first_period, groups_of, period_positions
from csflow.analytics._log import AnalyticsError, CaseFacts, EventLog, column

RULES = {
    1: "one point beyond 3σ",
    2: "2 of 3 points beyond 2σ on one side",
    3: "4 of 5 points beyond 1σ on one side",
    4: "8 points in a row on one side of the centre",
}


@dataclass(frozen=True, slots=True)
class Signal:
    """A special-cause signal: ``rule`` (1-4) fired at point ``index``."""

    index: int
    label: str
    rule: int
    side: str  # "above" or "below"

    @property
    def message(self) -> str:
        return f"{self.label}: {RULES[self.rule]} ({self.side} the centre)"


@dataclass(frozen=True, slots=True)
class ControlChart:
    """A c, u or p chart: one value per period with its own limits.

    ``values[i]`` is None for a period with nothing to measure (a p-chart
    period without cases); such points are drawn as gaps and break runs.
    """

    kind: str
    title: str
    labels: tuple[str, ...]
    values: tuple[float | None, ...]
    center: float
    upper: tuple[float | None, ...]
    lower: tuple[float | None, ...]
    signals: tuple[Signal, ...]


def c_chart(title: str, labels: Sequence[str], counts: Sequence[int]) -> ControlChart:
    """Counts per period (complaints a day): centre c̄, limits c̄ ± 3√c̄ (not below 0)."""
    _check(labels, counts)
    center = sum(counts) / len(counts)
    sigma = math.sqrt(center)
    return _chart("c", title, labels, [float(c) for c in counts], center, [sigma] * len(counts))


def u_chart(title: str, labels: Sequence[str], counts: Sequence[int], units: Sequence[int]
            ) -> ControlChart:
    """Counts per unit of exposure (escalations per case): ū ± 3√(ū/n)."""
    _check(labels, counts, units)
    total = sum(units)
    if total == 0:
        raise AnalyticsError(f"{title}: no units in any period; nothing to chart")
    center = sum(counts) / total
    values = [c / n if n else None for c, n in zip(counts, units, strict=True)]
    sigmas = [math.sqrt(center / n) if n else None for n in units]
    return _chart("u", title, labels, values, center, sigmas)


def p_chart(title: str, labels: Sequence[str], hits: Sequence[int], sizes: Sequence[int]
            ) -> ControlChart:
    """Proportions (share of cases breaching an SLA): p̄ ± 3√(p̄(1-p̄)/n)."""
    _check(labels, hits, sizes)
    if any(h > n for h, n in zip(hits, sizes, strict=True)):
        raise AnalyticsError(f"{title}: a period has more hits than cases")
    total = sum(sizes)
    if total == 0:
        raise AnalyticsError(f"{title}: no cases in any period; nothing to chart")
    center = sum(hits) / total
    values = [h / n if n else None for h, n in zip(hits, sizes, strict=True)]
    sigmas = [math.sqrt(center * (1 - center) / n) if n else None for n in sizes]
    return _chart("p", title, labels, values, center, sigmas, ceiling=1.0)


def _check(labels: Sequence[str], *series: Sequence[int]) -> None:
    if not labels:
        raise AnalyticsError("a control chart needs at least one period")
    if any(len(s) != len(labels) for s in series):
        raise AnalyticsError("a control chart needs one value per period label")
    if any(v < 0 for s in series for v in s):
        raise AnalyticsError("control chart counts cannot be negative")


def _chart(kind: str, title: str, labels: Sequence[str], values: Sequence[float | None],
           center: float, sigmas: Sequence[float | None], ceiling: float | None = None
           ) -> ControlChart:
    upper: list[float | None] = []
    lower: list[float | None] = []
    z: list[float | None] = []
    for v, s in zip(values, sigmas, strict=True):
        if s is None or v is None:
            upper.append(None if s is None else _cap(center + 3 * s, ceiling))
            lower.append(None if s is None else max(0.0, center - 3 * s))
            z.append(None)
            continue
        upper.append(_cap(center + 3 * s, ceiling))
        lower.append(max(0.0, center - 3 * s))
        z.append((v - center) / s if s > 0 else (0.0 if v == center else math.copysign(
            math.inf, v - center)))
    return ControlChart(kind, title, tuple(labels), tuple(values), center, tuple(upper),
                        tuple(lower), run_rules(z, labels))


def _cap(x: float, ceiling: float | None) -> float:
    return x if ceiling is None else min(x, ceiling)


def run_rules(z: Sequence[float | None], labels: Sequence[str]) -> tuple[Signal, ...]:
    """The run-rule signals for points in σ units (None: no point, breaks runs).

    A point is reported once, under the lowest-numbered rule it triggers.
    """
    found: dict[int, Signal] = {}

    def flag(i: int, rule: int, side: int) -> None:
        if i not in found:
            found[i] = Signal(i, labels[i], rule, "above" if side > 0 else "below")

    for i, zi in enumerate(z):
        if zi is not None and abs(zi) > 3:
            flag(i, 1, 1 if zi > 0 else -1)
    for side in (1, -1):
        for rule, window, need, limit in ((2, 3, 2, 2.0), (3, 5, 4, 1.0)):
            for end in range(window - 1, len(z)):
                chunk = z[end - window + 1:end + 1]
                if any(v is None for v in chunk):
                    continue
                beyond = [v is not None and v * side > limit for v in chunk]
                if sum(beyond) >= need and beyond[-1]:
                    flag(end, rule, side)
        run = 0
        for i, zi in enumerate(z):
            run = run + 1 if zi is not None and zi * side > 0 else 0
            if run >= 8:
                flag(i, 4, side)
    return tuple(sorted(found.values(), key=lambda s: (s.index, s.rule)))


@dataclass(frozen=True, slots=True)
class ParetoBar:
    cause: str
    count: int
    share: float
    cumulative: float
    vital: bool  # among the few causes behind ~80% of complaints


def pareto(counts: Mapping[str, int], *, cutoff: float = 0.8) -> tuple[ParetoBar, ...]:
    """Causes by count, largest first, with cumulative share; the "vital few"
    are the bars up to and including the one that crosses ``cutoff``."""
    total = sum(counts.values())
    if total == 0:
        return ()
    out: list[ParetoBar] = []
    running = 0
    for cause, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        before = running / total
        running += n
        out.append(ParetoBar(cause, n, n / total, running / total, before < cutoff))
    return tuple(out)


def causes(log: EventLog, field: str = "cause") -> Counter[str]:
    """Complaints per root cause (or per ``category``) among cases that record one.

    Cases without one (resolved at first contact, withdrawn, still open) are
    left out rather than shown as a cause: "not recorded" is not a cause to
    re-engineer.
    """
    values = (column(log.case_rows, CaseFacts, "cause") if field == "cause"
              else groups_of(log.case_rows, field))
    return Counter(v for v in values if v is not None)


def category_trend(log: EventLog, periods: Sequence[Period], by: str = "category"
                   ) -> dict[str, list[int]]:
    """Complaints per category (or area/channel) per period: category -> counts."""
    out: dict[str, list[int]] = {}
    for i, group in zip(period_positions(log.case_rows, first_period(periods)),
                        groups_of(log.case_rows, by), strict=True):
        if i is not None:
            out.setdefault(group or "(not recorded)", [0] * len(periods))[i] += 1
    return dict(sorted(out.items(), key=lambda kv: -sum(kv[1])))
