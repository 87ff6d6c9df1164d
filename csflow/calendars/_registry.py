"""Named calendars from YAML, and the functions rule expressions call.

Workflows and rules refer to calendars by name (``uk-england-wales``), so
the registry is the one place names are resolved. It is an immutable mapping:
adding an organisation's file gives a new registry, and the bundled one can
be cached and shared safely.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from csflow._yaml import Located, load_yaml, read_definition, validate
from csflow.calendars._calendar import (
    DEFAULT_YEARS,
    BusinessCalendar,
    WeekHours,
    holiday_coverage,
    weekly_hours,
)
from csflow.errors import CalendarError, DefinitionError, UnknownDefinition

_T = TypeVar("_T")


class _Holidays(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str
    subdivision: str | None = None
    categories: tuple[str, ...] = ("public",)


class _Closure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    on: date | None = Field(None, alias="date")
    start: date | None = Field(None, alias="from")
    end: date | None = Field(None, alias="to")
    reason: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> _Closure:
        if (self.on is None) == (self.start is None and self.end is None):
            raise ValueError("give either 'date', or 'from' and 'to'")
        if self.on is None and (self.start is None or self.end is None):
            raise ValueError("a closure range needs both 'from' and 'to'")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("'to' is before 'from'")
        return self

    def days(self) -> Iterator[date]:
        if self.on is not None:
            yield self.on
            return
        assert self.start is not None and self.end is not None  # checked by _one_form
        for i in range((self.end - self.start).days + 1):
            yield self.start + timedelta(days=i)


class _Years(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    first: int
    last: int


class _CalendarFile(BaseModel):
    """One calendar; with ``extends`` only the fields given replace the base's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    calendar: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str | None = None
    extends: str | None = None
    timezone: str | None = None
    holidays: _Holidays | Literal["none"] | None = None
    hours: WeekHours | None = None
    closures: tuple[_Closure, ...] = ()
    years: _Years | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(
                    f"unknown timezone {value!r}; use an IANA name such as Europe/London"
                ) from None
        return value

    @field_validator("hours", mode="before")
    @classmethod
    def _read_hours(cls, value: object) -> object:
        if isinstance(value, Mapping):
            return weekly_hours(value)
        raise ValueError("hours must map weekdays to spans, e.g. {mon-fri: '09:00-17:30'}")


def _calendar_from(doc: Located, known: Mapping[str, BusinessCalendar]) -> BusinessCalendar:
    spec = validate(_CalendarFile, doc)
    base: BusinessCalendar | None = None
    if spec.extends is not None:
        if spec.extends not in known:
            raise DefinitionError([doc.problem(
                ("extends",),
                f"extends unknown calendar {spec.extends!r}; known: {', '.join(sorted(known))}",
            )])
        base = known[spec.extends]
    elif spec.calendar in known:
        raise DefinitionError([doc.problem(
            ("calendar",),
            f"calendar {spec.calendar!r} already exists; choose another name, or add "
            f"'extends: {spec.calendar}' to change it",
        )])
    missing = [
        key for key in ("timezone", "hours", "holidays")
        if base is None and getattr(spec, key) is None
    ]
    if missing:
        raise DefinitionError([
            doc.problem((), f"{key}: required for a calendar that extends no other")
            for key in missing
        ])
    tz = ZoneInfo(spec.timezone) if spec.timezone else _given(base).tz
    hours = spec.hours if spec.hours is not None else _given(base).hours
    country, subdivision, categories = (
        (spec.holidays.country, spec.holidays.subdivision, spec.holidays.categories)
        if isinstance(spec.holidays, _Holidays)
        else (None, None, ("public",)) if spec.holidays == "none"
        else (_given(base).country, _given(base).subdivision, _given(base).holiday_categories)
    )
    years = (
        (spec.years.first, spec.years.last) if spec.years
        else base.years if base else DEFAULT_YEARS
    )
    closures = frozenset(day for closure in spec.closures for day in closure.days())
    if country is not None:
        try:
            lo, hi = holiday_coverage(spec.calendar, country, subdivision, categories)
        except CalendarError as exc:
            raise DefinitionError([doc.problem(("holidays",), str(exc))]) from None
        if years[0] < lo or years[1] > hi:
            raise DefinitionError([doc.problem(
                ("years",),
                f"years {years[0]} to {years[1]} go beyond what the holidays package "
                f"computes for {country} ({lo} to {hi}); choose years within them",
            )])
    return BusinessCalendar(
        name=spec.calendar, tz=tz, hours=hours, country=country, subdivision=subdivision,
        holiday_categories=categories,
        closures=closures | (base.closures if base else frozenset()), years=years,
    )


def _given(value: _T | None) -> _T:
    assert value is not None  # callers only reach here when a base calendar exists
    return value


class CalendarRegistry(Mapping[str, BusinessCalendar]):
    """Immutable name -> :class:`BusinessCalendar` mapping.

    Looking up an unknown name raises :class:`UnknownDefinition` listing the
    known ones (``in`` and ``get`` behave as for any mapping).
    """

    __slots__ = ("_calendars",)

    def __init__(self, calendars: Iterable[BusinessCalendar] = ()) -> None:
        table: dict[str, BusinessCalendar] = {}
        for calendar in calendars:
            if calendar.name in table:
                raise CalendarError(calendar.name, "two calendars have this name")
            table[calendar.name] = calendar
        self._calendars = table

    @classmethod
    def bundled(cls) -> CalendarRegistry:
        """The calendars shipped with csflow (UK nations, Australian states)."""
        return _bundled()

    def with_calendar(self, calendar: BusinessCalendar) -> CalendarRegistry:
        """A new registry with ``calendar`` added, or replacing the one of its name."""
        return CalendarRegistry([*(c for c in self.values() if c.name != calendar.name), calendar])

    def with_text(self, text: str, file: str = "<string>") -> CalendarRegistry:
        """A new registry with the calendar defined by YAML ``text`` added."""
        return self.with_calendar(_calendar_from(load_yaml(text, file), self))

    def with_file(self, path: str | Path) -> CalendarRegistry:
        """A new registry with the calendar in an organisation's YAML file added."""
        return self.with_text(read_definition(path, "calendar"), str(path))

    def __getitem__(self, name: str) -> BusinessCalendar:
        try:
            return self._calendars[name]
        except KeyError:
            raise UnknownDefinition("calendar", name, list(self._calendars)) from None

    @overload
    def get(self, name: str, /) -> BusinessCalendar | None: ...
    @overload
    def get(self, name: str, default: BusinessCalendar | _T, /) -> BusinessCalendar | _T: ...

    def get(self, name: str, default: object = None) -> object:
        return self._calendars.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._calendars

    def __iter__(self) -> Iterator[str]:
        return iter(self._calendars)

    def __len__(self) -> int:
        return len(self._calendars)

    def __repr__(self) -> str:
        return f"CalendarRegistry({sorted(self._calendars)})"


@functools.cache
def _bundled() -> CalendarRegistry:
    registry = CalendarRegistry()
    folder = resources.files("csflow.calendars") / "definitions"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            registry = registry.with_text(
                entry.read_text(encoding="utf-8"), f"csflow/calendars/definitions/{entry.name}"
            )
    return registry


def rule_functions(registry: CalendarRegistry) -> dict[str, Callable[..., Any]]:
    """Calendar functions for rule expressions; the calendar name comes last.

    ``add_business_days(d, n, "uk-england-wales")``,
    ``business_days_between(a, b, cal)``, ``add_business_hours(dt, h, cal)``,
    ``is_business_day(d, cal)``. An unknown calendar name raises
    :class:`UnknownDefinition`.
    """

    def add_business_days(day: date, n: int, calendar: str) -> date:
        return registry[calendar].add_business_days(day, n)

    def business_days_between(start: date, end: date, calendar: str) -> int:
        return registry[calendar].business_days_between(start, end)

    def add_business_hours(moment: datetime, hours: float | Decimal, calendar: str) -> datetime:
        return registry[calendar].add_business_hours(moment, hours)

    def is_business_day(day: date, calendar: str) -> bool:
        return registry[calendar].is_business_day(day)

    return {
        f.__name__: f
        for f in (add_business_days, business_days_between, add_business_hours, is_business_day)
    }
