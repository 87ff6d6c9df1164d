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

from datetime import UTC, date, datetime, time, timedelta

from csflow.calendars import BusinessCalendar
from csflow.errors import CalendarError

US = timedelta(microseconds=1)
DAY = timedelta(days=1)
DAY_US = 86_400_000_000


#: The shape of one day (of :attr:`BusinessClock.origin`'s days), in microseconds
#: into it: ``(rise, worked, base, midnight, before, after)``. The offset of an
#: instant ``x`` microseconds into the day is ``base`` plus ``x - rise`` clamped
#: to ``0..worked``. Its business-day number is ``before`` up to ``midnight`` and
#: ``after`` from it (``None``: ask the calendar). A plain tuple, not a named
#: one: ``read_log`` unpacks one per visit, and only an exact tuple unpacks
#: without an iterator.
Day = tuple[int, int, int, int, int | None, int | None]

#: The local dates of one day of the clock, as ``(cut, before, after)``: an instant
#: ``x`` microseconds into the day is on date ``before`` up to ``cut``, ``after`` from it.
Dates = tuple[int, date, date]


class BusinessClock:
    """:meth:`offset` and :meth:`day_number` of a calendar, answered from per-day shapes.

    Days are counted from :attr:`origin`, the local midnight starting the
    calendar's years (in UTC, so that subtracting it from a UTC instant does
    not consult the zone), so that a day of the clock is a local day give or
    take daylight saving time and its working hours are one span. The hot loop of
    ``read_log`` looks up :attr:`days` itself (a method call per instant would
    cost as much as the lookup) and asks :meth:`day` for a day not shaped yet.
    :attr:`days` is a plain dict: looking up a key in a dict subclass costs
    three times as much, even one that only adds ``__missing__``.
    """

    def __init__(self, calendar: BusinessCalendar) -> None:
        self.calendar = calendar
        self.origin = datetime.combine(calendar.first_day, time(), tzinfo=calendar.tz
                                       ).astimezone(UTC)
        self.days: dict[int, Day | None] = {}  # the days shaped so far
        self.dates: dict[int, Dates | None] = {}  # their local dates, as found so far

    def offset(self, moment: datetime) -> int:
        """``calendar.business_offset(moment)``."""
        try:
            d = moment - self.origin
        except TypeError:  # naive: the calendar says why it refuses
            return self.calendar.business_offset(moment)
        day = self.day(d.days)
        if day is None:
            return self.calendar.business_offset(moment)
        rise, worked, base, _, _, _ = day
        x = d.seconds * 1_000_000 + d.microseconds - rise
        return base if x <= 0 else base + (x if x < worked else worked)

    def day_number(self, moment: datetime) -> int:
        """``calendar.business_day_number(moment)``."""
        try:
            d = moment - self.origin
        except TypeError:
            return self.calendar.business_day_number(moment)
        day = self.day(d.days)
        number = None
        if day is not None:
            _, _, _, midnight, before, after = day
            number = before if d.seconds * 1_000_000 + d.microseconds < midnight else after
        return self.calendar.business_day_number(moment) if number is None else number

    def local_date(self, moment: datetime) -> date:
        """``moment.astimezone(calendar.tz).date()``."""
        d = moment - self.origin
        dates = self.day_dates(d.days)
        if dates is None:
            return moment.astimezone(self.calendar.tz).date()
        cut, before, after = dates
        return before if d.seconds * 1_000_000 + d.microseconds < cut else after

    def day_dates(self, n: int) -> Dates | None:
        """Day ``n``'s local dates (``None``: ask the zone), found the first time asked for."""
        try:
            return self.dates[n]
        except KeyError:
            dates = self.dates[n] = self._dates(n)
            return dates

    def _dates(self, n: int) -> Dates | None:
        """Ask the zone for day ``n``'s local dates (``None``: its UTC offset changes)."""
        tz = self.calendar.tz
        start = self.origin + n * DAY
        first, middle, last = (t.astimezone(tz) for t in (start, start + DAY / 2, start + DAY - US))
        if not first.utcoffset() == middle.utcoffset() == last.utcoffset():
            return None
        if first.date() == last.date():
            return DAY_US, first.date(), first.date()
        # At one UTC offset all day, the date changes once: at the local midnight.
        cut = (datetime.combine(last.date(), time(), tzinfo=tz) - start) // US
        if (0 < cut < DAY_US and (start + (cut - 1) * US).astimezone(tz).date() == first.date()
                and (start + cut * US).astimezone(tz).date() == last.date()):
            return cut, first.date(), last.date()
        return None

    def day(self, n: int) -> Day | None:
        """Day ``n``'s shape (``None``: ask the calendar), shaped the first time it is asked for."""
        try:
            return self.days[n]
        except KeyError:
            day = self.days[n] = self._shape(n)
            return day

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
        return rise, worked, low, midnight, before, after

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

