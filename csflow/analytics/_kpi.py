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
from typing import Any

from csflow.analytics._log import AnalyticsError, CaseFacts, EventLog, column
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
    days = column(log.case_rows, CaseFacts, "opened_on")
    first, last = min(days), max(days)
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


def _share(values: Iterable[bool | None]) -> float | None:
    verdicts = [v for v in values if v is not None]
    return sum(verdicts) / len(verdicts) if verdicts else None


def _mean(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


def measure(cases: Sequence[tuple[Any, ...]], period: str = "all", group: str | None = None
            ) -> Kpis:
    """The KPIs of ``cases`` (already selected for one period / group).

    ``cases`` are :class:`CaseFacts`, or the plain rows of an :class:`EventLog`.
    """
    n = len(cases)
    if not n:
        return Kpis(period, group, 0, 0, None, None, None, None, None, None, None, None, None,
                    None, None, None, 0, None)

    # Each measure is a pass in C over one field of the cases, not a loop over them;
    # the fields are laid out as columns in one pass.
    of = dict(zip(CaseFacts._fields, zip(*cases, strict=True), strict=True)).__getitem__

    resolved = [h for h in of("resolve_hours") if h is not None]
    answers = [a for a in of("csat") if a is not None]
    closed = list(itertools.compress(of("confirmed"), of("terminal")))  # confirmed, of closed
    regulated = list(itertools.compress(of("deadline_met"), of("regulated")))
    return Kpis(
        period=period, group=group, volume=n, closed=len(closed),
        first_contact_rate=sum(of("first_contact")) / n,
        ack_hours=_mean(of("ack_hours")),
        respond_hours=_mean(of("respond_hours")),
        resolve_hours=_mean(resolved),
        resolve_hours_median=statistics.median(resolved) if resolved else None,
        sla_attainment=_share(of("sla_met")),
        escalation_rate=(n - of("escalations").count(0)) / n,  # counts: not 0 is above 0
        reopen_rate=(n - of("reopens").count(0)) / n,
        confirmation_rate=_share(closed),
        csat=(sum(a >= 4 for a in answers) / len(answers)) if answers else None,
        csat_mean=(sum(answers) / len(answers)) if answers else None,
        cost_per_case=(Decimal(sum(of("cost"))) / 100 / n).quantize(Decimal("0.01")),
        regulated=len(regulated),
        regulatory_compliance=_share(regulated),
    )


_GROUP_FIELD = {"business_area": "area", "channel": "channel", "category": "category"}


def group_of(case: CaseFacts, by: str) -> str | None:
    if by == "business_area":
        return case.area
    if by == "channel":
        return case.channel
    return case.category


def groups_of(cases: Sequence[tuple[Any, ...]], by: str) -> list[str | None]:
    """Each case's business area, channel or category (``by`` as in :data:`GROUPS`)."""
    return column(cases, CaseFacts, _GROUP_FIELD.get(by, "category"))


def period_positions(cases: Sequence[tuple[Any, ...]], find: Callable[[date], int | None]
                     ) -> list[int | None]:
    """``find(case.opened_on)`` of each case, asking once per day."""
    days = column(cases, CaseFacts, "opened_on")
    table = {day: find(day) for day in set(days)}
    return list(map(table.__getitem__, days))


def first_period(periods: Sequence[Period]) -> Callable[[date], int | None]:
    """Position of the first of ``periods`` holding a day, if any."""
    return lambda day: next((i for i, p in enumerate(periods) if day in p), None)


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
    cases = log.case_rows
    of_case: Sequence[str | None] = groups_of(cases, by) if by else [None] * len(cases)
    buckets: dict[tuple[int, str | None], list[tuple[Any, ...]]] = {}
    for i, g, c in zip(period_positions(cases, _period_index(periods)), of_case, cases,
                       strict=True):
        if i is not None:
            bucket = buckets.get((i, g))
            if bucket is None:
                buckets[i, g] = [c]
            else:
                bucket.append(c)
    names: list[str | None] = [None]
    if by is not None:
        known = sorted({g for g in of_case if g is not None})
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
