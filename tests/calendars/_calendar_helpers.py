"""Helpers for the calendar tests (a uniquely named module: tests/ has no packages)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from csflow.calendars import BusinessCalendar

LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
UTC = ZoneInfo("UTC")


def weekdays_closed(calendar: BusinessCalendar, year: int) -> list[date]:
    """Monday-to-Friday dates of ``year`` the calendar does not count as business days."""
    days = (date(year, 1, 1) + timedelta(days=i) for i in range(366))
    return [
        d for d in days
        if d.year == year and d.weekday() < 5 and not calendar.is_business_day(d)
    ]


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


def sydney(*args: int) -> datetime:
    return datetime(*args, tzinfo=SYDNEY)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
