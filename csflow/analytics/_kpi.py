"""Service periods and the KPIs of each, overall or per business area, channel, category.

A rate with nothing to divide by is ``None`` ("no cases"), never NaN or 0:
a manager must be able to tell "no complaints on Sunday" from "every Sunday
complaint was late".
"""

from __future__ import annotations

import bisect
import itertools
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from csflow.analytics._log import AnalyticsError, CaseFacts, EventLog
from csflow.errors import UnknownDefinition

PERIOD_KINDS = ("day", "week", "month", "custom")
GROUPS = ("business_area", "channel", "category")


@dataclass(frozen=True, slots=True)
class Period:
    """A service period: local dates ``start`` up to but excluding ``end``."""

    label: str
    start: date
    end: date

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end


def service_periods(
    kind: str, first: date, last: date, *, boundaries: Sequence[date] = ()
) -> tuple[Period, ...]:
    """Consecutive periods covering ``first``..``last`` (days, Monday weeks, months).

    ``custom`` takes ``boundaries``: each consecutive pair of dates is one
    period (e.g. a retailer's 4-4-5 trading months).
    """
    if kind not in PERIOD_KINDS:
        raise AnalyticsError(
            f"unknown service period {kind!r}; use one of {', '.join(PERIOD_KINDS)}")
    if kind == "custom":
        cuts = sorted(set(boundaries))
        if len(cuts) < 2:
            raise AnalyticsError("custom service periods need at least two boundary dates")
        return tuple(Period(f"{a.isoformat()}..{(b - timedelta(days=1)).isoformat()}", a, b)
                     for a, b in itertools.pairwise(cuts))
    if last < first:
        raise AnalyticsError(f"period end {last} is before its start {first}")
    out: list[Period] = []
    if kind == "day":
        day = first
        while day <= last:
            out.append(Period(day.isoformat(), day, day + timedelta(days=1)))
            day += timedelta(days=1)
    elif kind == "week":
        day = first - timedelta(days=first.weekday())
        while day <= last:
            iso = day.isocalendar()
            out.append(Period(f"{iso.year}-W{iso.week:02d}", day, day + timedelta(days=7)))
            day += timedelta(days=7)
    else:
        day = first.replace(day=1)
        while day <= last:
            nxt = (day + timedelta(days=32)).replace(day=1)
            out.append(Period(day.strftime("%Y-%m"), day, nxt))
            day = nxt
    return tuple(out)


def periods_for(log: EventLog, kind: str = "auto", *, boundaries: Sequence[date] = ()
                ) -> tuple[Period, ...]:
    """Periods spanning the log; ``auto`` picks the longest of month/week/day
    that still gives at least four periods (standards are judged over four)."""
    first = min(c.opened_on for c in log.cases)
    last = max(c.opened_on for c in log.cases)
    if kind != "auto":
        return service_periods(kind, first, last, boundaries=boundaries)
    for candidate in ("month", "week"):
        found = service_periods(candidate, first, last)
        if len(found) >= 4:
            return found
    return service_periods("day", first, last)


@dataclass(frozen=True, slots=True)
class Kpis:
    """The measures of one group of cases (one period, and optionally one area/channel/category).

    Times are business hours (means); rates are shares 0..1; ``None`` when
    no case qualifies. CSAT is the share of 4s and 5s among answers.
    """

    period: str
    group: str | None
    volume: int
    closed: int
    first_contact_rate: float | None
    ack_hours: float | None
    respond_hours: float | None
    resolve_hours: float | None
    resolve_hours_median: float | None
    sla_attainment: float | None
    escalation_rate: float | None
    reopen_rate: float | None
    confirmation_rate: float | None
    csat: float | None
    csat_mean: float | None
    cost_per_case: Decimal | None
    regulated: int
    regulatory_compliance: float | None


#: KPI fields a service standard may set a floor (min) or ceiling (max) on.
MEASURES = (
    "first_contact_rate", "ack_hours", "respond_hours", "resolve_hours", "resolve_hours_median",
    "sla_attainment", "escalation_rate", "reopen_rate", "confirmation_rate", "csat",
    "csat_mean", "cost_per_case", "regulatory_compliance",
)


def _share(cases: Sequence[CaseFacts], test: Callable[[CaseFacts], bool | None]) -> float | None:
    verdicts = [v for v in (test(c) for c in cases) if v is not None]
    return sum(verdicts) / len(verdicts) if verdicts else None


def _mean(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def measure(cases: Sequence[CaseFacts], period: str = "all", group: str | None = None) -> Kpis:
    """The KPIs of ``cases`` (already selected for one period / group)."""
    resolved = [c.resolve_hours for c in cases if c.resolve_hours is not None]
    answers = [c.csat for c in cases if c.csat is not None]
    closed = [c for c in cases if c.terminal]
    regulated = [c for c in cases if c.regulated]
    return Kpis(
        period=period, group=group, volume=len(cases), closed=len(closed),
        first_contact_rate=(sum(c.first_contact for c in cases) / len(cases)) if cases else None,
        ack_hours=_mean(c.ack_hours for c in cases),
        respond_hours=_mean(c.respond_hours for c in cases),
        resolve_hours=_mean(resolved),
        resolve_hours_median=statistics.median(resolved) if resolved else None,
        sla_attainment=_share(cases, lambda c: c.sla_met),
        escalation_rate=_share(cases, lambda c: c.escalations > 0),
        reopen_rate=_share(cases, lambda c: c.reopens > 0),
        confirmation_rate=_share(closed, lambda c: c.confirmed),
        csat=(sum(a >= 4 for a in answers) / len(answers)) if answers else None,
        csat_mean=(sum(answers) / len(answers)) if answers else None,
        cost_per_case=(Decimal(sum(c.cost for c in cases)) / 100 / len(cases)).quantize(
            Decimal("0.01")) if cases else None,
        regulated=len(regulated),
        regulatory_compliance=_share(regulated, lambda c: c.deadline_met),
    )


def group_of(case: CaseFacts, by: str) -> str | None:
    if by == "business_area":
        return case.area
    if by == "channel":
        return case.channel
    return case.category


def kpi_table(
    log: EventLog,
    periods: Sequence[Period],
    *,
    by: str | None = None,
    groups: Sequence[str] | None = None,
) -> list[Kpis]:
    """One :class:`Kpis` per period (and per group when ``by`` is given).

    A period (or group) with no cases still gets a row with ``volume == 0``
    and ``None`` rates, so charts show the gap instead of skipping it.
    ``groups`` limits the rows to those groups; an unknown one is an error
    naming the known ones.
    """
    if by is not None and by not in GROUPS:
        raise AnalyticsError(f"cannot group by {by!r}; use one of {', '.join(GROUPS)}")
    if not periods:
        raise AnalyticsError("no service periods given")
    buckets: dict[tuple[int, str | None], list[CaseFacts]] = {}
    index = _period_index(periods)
    for c in log.cases:
        i = index(c.opened_on)
        if i is not None:
            buckets.setdefault((i, group_of(c, by) if by else None), []).append(c)
    names: list[str | None] = [None]
    if by is not None:
        known = sorted({g for c in log.cases if (g := group_of(c, by)) is not None})
        for g in groups or ():
            if g not in known:
                raise UnknownDefinition(by.replace("_", " "), g, known)
        names = list(groups or known)
    return [measure(buckets.get((i, g), []), p.label, g)
            for i, p in enumerate(periods) for g in names]


def _period_index(periods: Sequence[Period]) -> Callable[[date], int | None]:
    starts = [p.start for p in periods]

    def find(day: date) -> int | None:
        i = bisect.bisect_right(starts, day) - 1
        return i if i >= 0 and day in periods[i] else None

    return find
