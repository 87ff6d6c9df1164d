"""Business offsets and business-day numbers of many instants, a few calendar calls per day.

``read_log`` needs the business offset of every instant a case changes step
(a million of them in a million events) and the business-day number of every
SLA start. :class:`BusinessCalendar` answers each in about a microsecond,
more than the rest of the read per event. Within one day an offset is flat,
then rises one for one through the day's working hours, then is flat again;
so the clock asks the calendar for each day's shape once and answers every
instant of the day with integer arithmetic.

Nothing is assumed about the calendar beyond what its methods promise:
offsets never fall and never rise faster than time, day numbers never fall.
A day's shape is checked against those (two equal values mean flat in
between; a rise as long as the time it took means one for one). A day that
fails the checks (two working spans, a lunch break) and a day at the edge of
the calendar's years are answered by the calendar itself, instant by instant,
so results and errors are the calendar's own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple

from csflow.calendars import BusinessCalendar
from csflow.errors import CalendarError

US = timedelta(microseconds=1)
DAY = timedelta(days=1)
DAY_US = 86_400_000_000


class Day(NamedTuple):
    """The shape of one day (of :attr:`BusinessClock.origin`'s days), in microseconds into it.

    The offset of an instant ``x`` microseconds into the day is ``base`` plus
    ``x - rise`` clamped to ``0..worked``. Its business-day number is
    ``before`` up to ``midnight`` and ``after`` from it (``None``: ask the
    calendar).
    """

    rise: int
    worked: int
    base: int
    midnight: int
    before: int | None
    after: int | None


class BusinessClock:
    """:meth:`offset` and :meth:`day_number` of a calendar, answered from per-day shapes.

    Days are counted from :attr:`origin`, the local midnight starting the
    calendar's years (in UTC, so that subtracting it from a UTC instant does
    not consult the zone), so that a day of the clock is a local day give or
    take daylight saving time and its working hours are one span. The hot loop of
    ``read_log`` looks up :attr:`days` itself (a method call per instant would
    cost as much as the lookup); a day not looked up before is shaped then.
    """

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self.origin = datetime.combine(calendar.first_day, time(), tzinfo=calendar.tz
                                       ).astimezone(UTC)
        self.days = _Days(self._shape)

    def offset(self, moment: datetime) -> int:
        """``calendar.business_offset(moment)``."""
        try:
            d = moment - self.origin
        except TypeError:  # naive: the calendar says why it refuses
            return self.calendar.business_offset(moment)
        day = self.days[d.days]
        if day is None:
            return self.calendar.business_offset(moment)
        x = d.seconds * 1_000_000 + d.microseconds - day.rise
        return day.base if x <= 0 else day.base + (x if x < day.worked else day.worked)

    def day_number(self, moment: datetime) -> int:
        """``calendar.business_day_number(moment)``."""
        try:
            d = moment - self.origin
        except TypeError:
            return self.calendar.business_day_number(moment)
        day = self.days[d.days]
        number = None
        if day is not None:
            x = d.seconds * 1_000_000 + d.microseconds
            number = day.before if x < day.midnight else day.after
        return self.calendar.business_day_number(moment) if number is None else number

    def _shape(self, n: int) -> Day | None:
        """Ask the calendar for day ``n``'s shape (``None``: not one span)."""
        cal = self.calendar
        start = self.origin + n * DAY
        end = start + DAY
        try:
            low, high = cal.business_offsets((start, end))
            worked = high - low
            rise = 0
            if worked:
                # Just before the first business microsecond, and the first instant
                # at the day's final offset: one span iff they are `worked` apart.
                first = cal.moment_at_offset(low + 1) - US
                last = cal.moment_at_offset(high)
                if (last - first) // US != worked:
                    return None
                rise = (first - start) // US
            before, after, midnight = self._numbers(start, end)
        except CalendarError:  # the edge of the calendar's years
            return None
        return Day(rise, worked, low, midnight, before, after)

    def _numbers(self, start: datetime, end: datetime) -> tuple[int | None, int | None, int]:
        """Day numbers before and from the local midnight within [start, end), and where it is."""
        cal = self.calendar
        first, last = cal.business_day_number(start), cal.business_day_number(end - US)
        if first == last:
            return first, first, DAY_US
        # The number changes at a local midnight: the zone says when, the calendar confirms.
        local = (end - US).astimezone(cal.tz).date()
        midnight = datetime.combine(local, time(), tzinfo=cal.tz)
        if (start < midnight < end and cal.business_day_number(midnight - US) == first
                and cal.business_day_number(midnight) == last):
            return first, last, (midnight - start) // US
        return None, None, 0


class _Days(dict[int, Day | None]):
    """Day shapes by day number, each asked for the first time it is looked up."""

    def __init__(self, shape: Callable[[int], Day | None]) -> None:
        super().__init__()
        self.shape = shape

    def __missing__(self, n: int) -> Day | None:
        day = self[n] = self.shape(n)
        return day
