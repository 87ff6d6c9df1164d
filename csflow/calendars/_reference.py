"""The slow, obviously right definitions that the calendar tables must agree with.

Day-by-day and minute-by-minute loops over the same calendar definition, with
their own ``holidays`` lookup. The tests compare :class:`BusinessCalendar`
against these on random inputs, and ``benchmarks.calendars`` uses them as its
floor. Not for production use: cost grows with the length of the answer.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import UTC, date, datetime, timedelta

import holidays as holidays_lib

from csflow.calendars._calendar import BusinessCalendar

_MINUTE = timedelta(minutes=1)


class NaiveCalendar:
    """Answers the questions a :class:`BusinessCalendar` answers, by looping."""

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self._holidays: Container[date] = (
            holidays_lib.country_holidays(
                calendar.country, subdiv=calendar.subdivision,
                categories=calendar.holiday_categories,
            )
            if calendar.country is not None else frozenset()
        )

    def is_business_day(self, day: date) -> bool:
        return (
            bool(self.calendar.hours[day.weekday()])
            and day not in self._holidays
            and day not in self.calendar.closures
        )

    def add_business_days(self, day: date, n: int) -> date:
        step = timedelta(days=1 if n > 0 else -1)
        left = abs(n)
        while left:
            day += step
            left -= self.is_business_day(day)
        return day

    def business_days_between(self, start: date, end: date) -> int:
        if end < start:
            return -self.business_days_between(end, start)
        return sum(
            self.is_business_day(start + timedelta(days=i))
            for i in range(1, (end - start).days + 1)
        )

    def is_working_minute(self, moment: datetime) -> bool:
        """Whether the minute starting at ``moment`` is inside working hours."""
        local = moment.astimezone(self.calendar.tz)
        minute = local.hour * 60 + local.minute
        return self.is_business_day(local.date()) and any(
            start <= minute < end for start, end in self.calendar.hours[local.weekday()]
        )

    def add_business_minutes(self, moment: datetime, minutes: int) -> datetime:
        """Walk forward a minute at a time until ``minutes`` working minutes have passed."""
        moment = moment.astimezone(UTC)
        while minutes:
            minutes -= self.is_working_minute(moment)
            moment += _MINUTE
        return moment

    def business_minutes_between(self, start: datetime, end: datetime) -> int:
        moment, total = start.astimezone(UTC), 0
        while moment < end:
            total += self.is_working_minute(moment)
            moment += _MINUTE
        return total
