"""Service standards per business area, and each period judged against them.

Standards are data (``standards.yaml``, or a desk's own file) because they
are policy: each business area sets its own floors and ceilings and changes
them after a review, without a release of csflow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from csflow._yaml import load_yaml, read_definition, validate
from csflow.analytics._kpi import MEASURES, Kpis
from csflow.analytics._log import AnalyticsError
from csflow.errors import DefinitionError, UnknownDefinition

BUNDLED = Path(__file__).parent / "standards.yaml"
MIN_PERIODS = 4


class _Limit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min: Decimal | None = None
    max: Decimal | None = None
    source: str = ""

    @model_validator(mode="after")
    def _one(self) -> _Limit:
        if (self.min is None) == (self.max is None):
            raise ValueError("give exactly one of min (a floor) or max (a ceiling)")
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    standards: dict[str, dict[str, _Limit]]


@dataclass(frozen=True, slots=True)
class Standard:
    """One promise of one business area: ``measure`` at least ``min`` / at most ``max``."""

    area: str
    measure: str
    min: Decimal | None
    max: Decimal | None
    source: str

    def describe(self) -> str:
        return f"{'≥' if self.min is not None else '≤'} {_fmt(self.measure, self.min or self.max)}"


@dataclass(frozen=True, slots=True)
class Failing:
    """A period in which an area missed one of its standards."""

    period: str
    area: str
    measure: str
    actual: float | Decimal
    standard: Standard

    @property
    def message(self) -> str:
        return (f"{self.period} {self.area}: {self.measure} {_fmt(self.measure, self.actual)} "
                f"against a standard of {self.standard.describe()} ({self.standard.source})")


def load_standards(path: str | Path = BUNDLED) -> tuple[Standard, ...]:
    """Read a standards file; errors point at file:line with what to fix."""
    doc = load_yaml(read_definition(path, "standards"), str(path))
    model = validate(_File, doc)
    problems = [doc.problem(("standards", area, measure),
                            f"unknown measure {measure!r}; use one of {', '.join(MEASURES)}")
                for area, limits in model.standards.items() for measure in limits
                if measure not in MEASURES]
    if problems:
        raise DefinitionError(problems)
    return tuple(Standard(area, m, lim.min, lim.max, lim.source)
                 for area, limits in model.standards.items() for m, lim in limits.items())


def compare(rows: Sequence[Kpis], standards: Sequence[Standard], *,
            min_periods: int = MIN_PERIODS) -> list[Failing]:
    """Every (period, area, measure) that missed its standard.

    ``rows`` are per-period KPIs grouped by business area. Standards are
    judged over at least ``min_periods`` consecutive service periods, so a
    single bad day is seen against its neighbours; fewer is an error saying
    to widen the range or shorten the period.
    """
    periods = list(dict.fromkeys(r.period for r in rows))
    if len(periods) < min_periods:
        raise AnalyticsError(
            f"standards are judged over at least {min_periods} consecutive service periods; "
            f"the data covers {len(periods)} ({', '.join(periods) or 'none'}); "
            "choose shorter periods (e.g. day) or a longer range")
    by_area: dict[str, list[Standard]] = {}
    for s in standards:
        by_area.setdefault(s.area, []).append(s)
    out: list[Failing] = []
    for r in rows:
        if r.group is None or r.volume == 0:
            continue
        for s in by_area.get(r.group, ()):
            value: Any = getattr(r, s.measure)
            if value is None:
                continue
            if (s.min is not None and Decimal(str(value)) < s.min) or (
                    s.max is not None and Decimal(str(value)) > s.max):
                out.append(Failing(r.period, r.group, s.measure, value, s))
    return out


def standards_for(standards: Sequence[Standard], area: str) -> list[Standard]:
    known = sorted({s.area for s in standards})
    if area not in known:
        raise UnknownDefinition("business area", area, known)
    return [s for s in standards if s.area == area]


def _fmt(measure: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if measure.endswith("_hours"):
        return f"{float(value):.1f} business h"
    if measure == "cost_per_case":
        return f"£{Decimal(str(value)):.2f}"
    if measure == "csat_mean":
        return f"{float(value):.2f}"
    return f"{float(value):.0%}"


def fmt_measure(measure: str, value: Any) -> str:
    """A KPI value as a manager reads it (percent, business hours, £)."""
    return _fmt(measure, value)
