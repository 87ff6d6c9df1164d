"""Business calendars: when is the desk open, and how much business time has passed.

A :class:`BusinessCalendar` answers in O(log n) with no day-by-day loops. On
first use it lays out its supported years as tables:

* ``count[i]`` — business days from the first supported day up to and
  including day ``i``. Business-day arithmetic is then index arithmetic on
  ``count`` and on ``bdays`` (the ordinal of every business day, in order).
* every working interval of every business day as UTC microseconds
  (``starts``/``ends``) with the business time before and after it
  (``before``/``after``). ``W(t)``, the business time from the start of the
  table to instant ``t``, is one bisection; its inverse ("when has this much
  business time passed?") is another. Elapsed time, due times and pauses are
  all differences of ``W``.

Working hours are local wall-clock times; they are converted to real instants
per day, so a DST change is simply a day whose intervals are an hour longer or
shorter in real time. A boundary that falls in a DST gap (a wall time that
never happens) is taken at the instant the clock jumps; one in a repeated hour
is taken at its first occurrence.

The holiday tables only exist for the years the calendar was built for.
Outside them the calendar refuses with :class:`CalendarError`, because the
alternative — every weekday silently counting as a business day — gives a
plausible but wrong due date.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from csflow.calendars._duration import BusinessDuration
from csflow.errors import CalendarError

Interval = tuple[int, int]
"""Working interval as minutes after local midnight, ``[start, end)``; end may be 1440."""
WeekHours = tuple[tuple[Interval, ...], ...]
"""Seven tuples of intervals, Monday first."""
Pause = tuple[datetime, datetime]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_YEARS = (2000, 2060)
"""Years a calendar covers unless told otherwise: wide enough for old complaints
under review and long SLAs, fixed so a calendar never depends on today's date."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)
_DAY = timedelta(days=1)
_DAY_US = 86_400 * 1_000_000
_UNIT_US = {"minutes": 60_000_000, "hours": 3_600_000_000}
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_CLOSURES = frozenset({"_w", "_w_forward", "_day_count"})
"""The cached lookups of a calendar that are functions (see ``__getstate__``)."""


def weekly_hours(spec: Mapping[str, str | Sequence[str]]) -> WeekHours:
    """Read working hours such as ``{"mon-fri": "09:00-17:30", "sat": ["10:00-13:00"]}``.

    Keys are a weekday or a range of them (``mon-fri``); values one ``HH:MM-HH:MM``
    span or a list of them, or ``closed``. Days not mentioned are closed. Raises
    ValueError naming the bad key or span.
    """
    week: list[tuple[Interval, ...] | None] = [None] * 7
    for key, value in spec.items():
        for day in _day_range(key):
            if week[day] is not None:
                raise ValueError(f"hours: {WEEKDAYS[day]} is given twice (in {key!r})")
            week[day] = _spans(key, value)
    return tuple(spans or () for spans in week)


def _day_range(key: str) -> range:
    first, _, last = key.strip().lower().partition("-")
    if first not in WEEKDAYS or (last and last not in WEEKDAYS):
        raise ValueError(f"hours: {key!r} is not a weekday or range such as 'mon-fri'")
    lo = WEEKDAYS.index(first)
    hi = WEEKDAYS.index(last) if last else lo
    if hi < lo:
        raise ValueError(f"hours: range {key!r} runs backwards; write it Monday to Sunday")
    return range(lo, hi + 1)


def _spans(key: str, value: str | Sequence[str]) -> tuple[Interval, ...]:
    if isinstance(value, str):
        texts = [value]
    elif isinstance(value, (list, tuple)):
        texts = list(value)
    else:
        raise ValueError(f"hours {key}: give a span such as '09:00-17:30' or a list of them")
    if texts == ["closed"]:
        return ()
    spans: list[Interval] = []
    for text in texts:
        match = _SPAN.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"hours {key}: {text!r} is not a span such as '09:00-17:30'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or start >= 1440 or end > 1440 or end <= start:
            raise ValueError(
                f"hours {key}: {text!r} must run forwards within one day (00:00 to 24:00); "
                "split a night shift at midnight"
            )
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise ValueError(f"hours {key}: spans {texts} overlap")
    return tuple(spans)


def holiday_coverage(
    name: str, country: str, subdivision: str | None, categories: Sequence[str] = ("public",)
) -> tuple[int, int]:
    """First and last year the ``holidays`` package computes for this region.

    Raises CalendarError naming an unknown country, subdivision or category.
    """
    supported = holidays_lib.list_supported_countries()
    if country not in supported:
        raise CalendarError(
            name, f"unknown holiday country {country!r}; use an ISO 3166 code such as GB or AU"
        )
    if subdivision is not None and subdivision not in supported[country]:
        raise CalendarError(
            name,
            f"unknown holiday region {subdivision!r} for {country}; "
            f"known: {', '.join(supported[country])}",
        )
    try:
        table = holidays_lib.country_holidays(country, subdiv=subdivision, categories=categories)
    except (NotImplementedError, ValueError) as exc:
        raise CalendarError(name, f"holidays for {country}/{subdivision}: {exc}") from None
    return int(table.start_year), int(table.end_year)


@dataclass(frozen=True, slots=True)
class _Tables:
    first: int
    count: tuple[int, ...]
    bdays: tuple[int, ...]
    closes: tuple[int, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    before: tuple[int, ...]
    after: tuple[int, ...]
    lo: int
    hi: int


@dataclass(frozen=True, slots=True)
class _DayIndex:
    """Shortcuts into the tables by UTC day, for the offset methods.

    ``spans[d]`` is the first working span starting on or after UTC day
    ``first + d``, so finding an instant's span is a bisection over the one
    or two spans of its day rather than all of them; ``midnights[i]`` is
    the instant local day ``i`` of the tables begins (one in a DST gap
    begins when the clock jumps), so an instant's local date needs no
    ``astimezone``. Both matter when a report places a million events.
    """

    first: int
    spans: tuple[int, ...]
    midnights: tuple[int, ...]


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours in one timezone, minus public holidays and closures.

    ``hours`` gives each weekday's working intervals (see :func:`weekly_hours`);
    a day is a business day when its weekday has hours and it is neither a
    public holiday of ``country``/``subdivision`` (from the ``holidays``
    package) nor in ``closures``. ``years`` (first, last) bounds what the
    calendar answers for and must lie within the package's coverage.

    Instants must be timezone-aware; results are in UTC. Dates are the
    calendar's local dates; an aware datetime given where a date is expected
    is read as its local date here.
    """

    name: str
    tz: ZoneInfo
    hours: WeekHours
    country: str | None = None
    subdivision: str | None = None
    holiday_categories: tuple[str, ...] = ("public",)
    closures: frozenset[date] = frozenset()
    years: tuple[int, int] = DEFAULT_YEARS

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise CalendarError(self.name, "hours must give the seven weekdays, Monday first")
        first, last = self.years
        if first > last:
            raise CalendarError(self.name, f"years {first} to {last} run backwards")
        if self.country is not None:
            lo, hi = holiday_coverage(
                self.name, self.country, self.subdivision, self.holiday_categories
            )
            if first < lo or last > hi:
                raise CalendarError(
                    self.name,
                    f"years {first} to {last} go beyond the years the holidays package computes "
                    f"for {self.region} ({lo} to {hi}); choose years within them",
                )

    @functools.cached_property
    def _t(self) -> _Tables:
        """The tables, built on first use.

        Building takes about 0.1 s for the default 61 years; a registry of
        bundled calendars should not pay that for the ones nobody uses. Every
        check that can fail has already run in ``__post_init__``.
        """
        first, last = self.years
        holidays: frozenset[date] = frozenset()
        if self.country is not None:
            holidays = frozenset(
                holidays_lib.country_holidays(
                    self.country, subdiv=self.subdivision,
                    categories=self.holiday_categories, years=range(first, last + 1),
                )
            )
        return self._tabulate(holidays | self.closures)

    def __getstate__(self) -> dict[str, object]:
        # The lookups over the tables are closures, which pickle cannot carry;
        # they are made again from the tables (which travel) on first use.
        return {k: v for k, v in self.__dict__.items() if k not in _CLOSURES}

    @property
    def region(self) -> str:
        """Where the public holidays come from, e.g. ``GB-SCT``; ``none`` if nowhere."""
        if self.country is None:
            return "none"
        return self.country + (f"-{self.subdivision}" if self.subdivision else "")

    @property
    def first_day(self) -> date:
        return date(self.years[0], 1, 1)

    @property
    def last_day(self) -> date:
        return date(self.years[1], 12, 31)

    def _tabulate(self, closed: frozenset[date]) -> _Tables:
        first, last = self.first_day.toordinal(), self.last_day.toordinal()
        count: list[int] = []
        bdays: list[int] = []
        closes: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        for ordinal in range(first, last + 1):
            day = date.fromordinal(ordinal)
            spans = self.hours[day.weekday()]
            if spans and day not in closed:
                bdays.append(ordinal)
                wall = self._day_walls(day)
                for start, end in spans:
                    a, b = wall(start), wall(end)
                    if b > a:  # empty only when both ends fall in one DST gap
                        starts.append(a)
                        ends.append(b)
                closes.append(wall(spans[-1][1]))
            count.append(len(bdays))
        before = [0]
        for a, b in zip(starts, ends, strict=True):
            before.append(before[-1] + b - a)
        return _Tables(
            first=first, count=tuple(count), bdays=tuple(bdays), closes=tuple(closes),
            starts=tuple(starts), ends=tuple(ends), before=tuple(before[:-1]),
            after=tuple(before[1:]), lo=self._wall_us(self.first_day, 0),
            hi=self._wall_us(self.last_day, 1440),
        )

    def _day_walls(self, day: date) -> Callable[[int], int]:
        """Minute-of-day -> UTC microseconds for one local day.

        Building the tables converts tens of thousands of wall times; almost
        every day has one UTC offset throughout, so those days skip zoneinfo.
        """
        midnight = datetime(day.year, day.month, day.day)
        offset = _offset(self.tz, midnight)
        if offset != _offset(self.tz, midnight + _DAY) or offset != _offset(
            self.tz, midnight.replace(fold=1)
        ):
            return lambda minute: self._wall_us(day, minute)
        base = (midnight - offset - _EPOCH_NAIVE) // _US
        return lambda minute: base + minute * _UNIT_US["minutes"]

    def _wall_us(self, day: date, minute: int) -> int:
        """First instant (UTC microseconds) at which the local clock reads ``day`` + ``minute``."""
        wall = datetime(day.year, day.month, day.day) + timedelta(minutes=minute)
        early, late = _offset(self.tz, wall), _offset(self.tz, wall.replace(fold=1))
        if early >= late:  # normal time, or a repeated hour (take the first pass)
            return (wall - early - _EPOCH_NAIVE) // _US
        # A DST gap: this wall time never shows; the clock jumps past it
        # somewhere in [wall - late, wall - early]. Find that instant.
        lo, hi = (wall - late - _EPOCH_NAIVE) // _US, (wall - early - _EPOCH_NAIVE) // _US
        while hi - lo > 1_000_000:
            mid = (lo + hi) // 2
            if _offset(self.tz, self._utc(mid)) == late:
                hi = mid
            else:
                lo = mid
        return hi

    # -- conversions and range checks ---------------------------------------

    def _utc(self, us: int) -> datetime:
        return _EPOCH + timedelta(0, 0, us)  # positional: keywords cost a third

    def _us(self, moment: datetime) -> int:
        """UTC microseconds of an instant in the tables.

        Summed from the timedelta's parts: ``timedelta // timedelta`` costs
        more than the lookups it feeds, and SLA resumes convert every pause.
        """
        try:
            d = moment - _EPOCH
        except TypeError:  # naive, or not a datetime at all
            raise CalendarError(
                self.name, f"{moment!r} must be a timezone-aware datetime (attach tzinfo)",
            ) from None
        us = (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
        if not self._t.lo <= us <= self._t.hi:
            self._out_of_range(moment.astimezone(self.tz).date())
        return us

    def _index(self, day: date) -> int:
        """Position of a local date in the day tables."""
        if isinstance(day, datetime):
            day = self._utc(self._us(day)).astimezone(self.tz).date()
        elif not isinstance(day, date):
            raise CalendarError(self.name, f"{day!r} is not a date")
        i = day.toordinal() - self._t.first
        if not 0 <= i < len(self._t.count):
            self._out_of_range(day)
        return i

    def _local_index(self, us: int) -> int:
        return self._index(self._utc(us).astimezone(self.tz).date())

    def _out_of_range(self, day: date, what: str = "") -> None:
        first, last = self.years
        raise CalendarError(
            self.name,
            f"{what}{day.isoformat()} is outside the calendar's supported years {first} to {last}; "
            "build the calendar with years that cover it",
            day,
        )

    def _beyond(self, forward: bool) -> CalendarError:
        edge = self.last_day if forward else self.first_day
        return CalendarError(
            self.name,
            f"the result falls {'after' if forward else 'before'} {edge.isoformat()}, "
            f"outside the calendar's supported years {self.years[0]} to {self.years[1]}",
            edge,
        )

    # -- business days --------------------------------------------------------

    def is_business_day(self, day: date) -> bool:
        i = self._index(day)
        return self._t.count[i] != (self._t.count[i - 1] if i else 0)

    def add_business_days(self, day: date, n: int) -> date:
        """The ``n``-th business day after ``day`` (before it if ``n`` < 0).

        ``day`` itself never counts, business day or not: one business day after
        Saturday is Monday, one before it is Friday. ``n == 0`` gives ``day``.
        """
        n = operator.index(n)
        i = self._index(day)
        if n == 0:
            return date.fromordinal(self._t.first + i)
        upto = self._t.count[i]
        # count[i] business days are on or before day; the n-th after is at
        # position upto - 1 + n, the n-th before skips day itself if it counts.
        k = upto - 1 + n if n > 0 else upto - int(self.is_business_day(day)) + n
        if not 0 <= k < len(self._t.bdays):
            raise self._beyond(n > 0)
        return date.fromordinal(self._t.bdays[k])

    def business_days_between(self, start: date, end: date) -> int:
        """Business days after ``start`` up to and including ``end``; negative if end < start.

        So ``business_days_between(d, add_business_days(d, n)) == n`` for
        n >= 0, and for n < 0 when ``d`` is itself a business day.
        """
        return self._t.count[self._index(end)] - self._t.count[self._index(start)]

    # -- business time --------------------------------------------------------

    # W and the day count are closures over the tables rather than methods: an
    # SLA resume measures both ends of every pause so far, and looking the
    # tables up on ``self`` cost as much as the bisections.

    @functools.cached_property
    def _w(self) -> Callable[[int], int]:
        """``W(us)``: business microseconds from the start of the tables to instant ``us``."""
        t = self._t
        starts, ends, before = t.starts, t.ends, t.before
        bisect_right = bisect.bisect_right

        def w(us: int) -> int:
            i = bisect_right(starts, us) - 1
            if i < 0:
                return 0
            end = ends[i]
            return before[i] + (us if us < end else end) - starts[i]

        return w

    @functools.cached_property
    def _w_forward(self) -> Callable[[int], int]:
        """Earliest instant at which ``W`` reaches ``target``."""
        after, ends = self._t.after, self._t.ends
        past = len(after)
        bisect_left = bisect.bisect_left
        beyond = self._beyond

        def w_forward(target: int) -> int:
            i = bisect_left(after, target)
            if i == past:
                raise beyond(True)
            return ends[i] - (after[i] - target)

        return w_forward

    def _w_backward(self, target: int) -> int:
        """Latest instant at which ``W`` still equals ``target``."""
        if target < 0:
            raise self._beyond(False)
        i = bisect.bisect_right(self._t.before, target) - 1
        return self._t.starts[i] + target - self._t.before[i]

    def add_business_hours(self, moment: datetime, hours: float | Decimal | timedelta) -> datetime:
        """The instant when ``hours`` of business time have passed since ``moment`` (UTC).

        A due time that lands on closing time is closing time, not the next
        opening. Negative amounts count backwards.
        """
        start = self._us(moment)
        delta = (
            hours // _US if isinstance(hours, timedelta)
            else round(Fraction(hours) * _UNIT_US["hours"])
        )
        if delta == 0:
            return self._utc(start)
        target = self._w(start) + delta
        return self._utc(self._w_forward(target) if delta > 0 else self._w_backward(target))

    def business_time_between(
        self, start: datetime, end: datetime, pauses: Iterable[Pause] = ()
    ) -> timedelta:
        """Business time from ``start`` to ``end`` with the clock stopped during ``pauses``.

        Pauses may overlap each other or stick out of [start, end]; only the
        business time they actually cover inside it is removed, once.
        """
        s, e = self._us(start), self._us(end)
        if e < s:
            raise CalendarError(
                self.name, f"end {end.isoformat()} is before start {start.isoformat()}",
                end.date(),
            )
        elapsed = self._w(e) - self._w(s)
        for ps, pe in self._pauses(pauses, s, e):
            elapsed -= self._w(pe) - self._w(ps)
        return timedelta(microseconds=elapsed)

    # -- offsets: the fast path for bulk analysis -----------------------------

    def business_offset(self, moment: datetime) -> int:
        """Business microseconds from the start of the calendar's years up to ``moment``.

        The difference of two offsets is the business time between the two
        instants, so an analysis over a million events takes each instant's
        offset once and does the rest in integer arithmetic instead of calling
        :meth:`business_time_between` per pair. A pause is stopped time: subtract
        the difference of its ends' offsets (merge overlapping pauses first).
        """
        return self.business_offsets((moment,))[0]

    def business_offsets(self, moments: Iterable[datetime]) -> list[int]:
        """:meth:`business_offset` of each moment, in order; the same, cheaper per moment."""
        t = self._t
        lo, hi, starts, ends, before = t.lo, t.hi, t.starts, t.ends, t.before
        first, spans = self._days.first, self._days.spans
        bisect_right = bisect.bisect_right
        out: list[int] = []
        for moment in moments:
            try:
                d = moment - _EPOCH
            except TypeError:  # naive, or not a datetime: the checked path says which
                d = timedelta(microseconds=self._us(moment))
            # timedelta // timedelta costs more than the rest of the lookup.
            us = (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
            if not lo <= us <= hi:
                self._us(moment)
            day = d.days - first
            # Only the spans of the instant's UTC day can hold it.
            i = bisect_right(starts, us, spans[day], spans[day + 1]) - 1
            if i < 0:
                out.append(0)
            else:
                end = ends[i]
                out.append(before[i] + (us if us < end else end) - starts[i])
        return out

    def moment_at_offset(self, offset: int) -> datetime:
        """The earliest instant whose :meth:`business_offset` is ``offset`` (UTC).

        So ``moment_at_offset(business_offset(t) + d)`` is
        ``add_business_hours(t, d)`` for d > 0: an amount used up exactly at
        closing time gives closing time, not the next opening.
        """
        offset = operator.index(offset)
        if offset < 0:
            raise self._beyond(False)
        return self._utc(self._w_forward(offset) if offset else self._t.lo)

    def business_day_number(self, moment: datetime | date) -> int:
        """Business days from the calendar's first day through the local date of ``moment``.

        ``close_of_business_day(business_day_number(t) + n)`` is
        ``due_at(t, "n business days")`` without pauses, and differences of
        numbers are :meth:`business_days_between`.
        """
        if not isinstance(moment, datetime):
            return self._t.count[self._index(moment)]
        return self._day_count(self._us(moment))

    def close_of_business_day(self, number: int) -> datetime:
        """Close of business (end of the last working span) of the ``number``-th business day.

        Numbered as :meth:`business_day_number` numbers them: 1 is the first
        business day of the calendar's years.
        """
        number = operator.index(number)
        if number < 1:
            raise self._beyond(False)
        return self._utc(self._close_of(number))

    @functools.cached_property
    def _days(self) -> _DayIndex:
        t = self._t
        first = self.first_day.toordinal()
        midnights = tuple(self._day_walls(date.fromordinal(first + i))(0)
                          for i in range(len(t.count)))
        first_utc, last_utc = t.lo // _DAY_US, t.hi // _DAY_US + 1
        spans = tuple(bisect.bisect_left(t.starts, day * _DAY_US)
                      for day in range(first_utc, last_utc + 2))
        return _DayIndex(first_utc, spans, midnights)

    def _pauses(self, pauses: Iterable[Pause], lo: int, hi: int | None = None) -> list[Interval]:
        """Pauses as sorted, merged microsecond intervals clipped to [lo, hi]."""
        clipped: list[Interval] = []
        for pause in pauses:
            ps, pe = self._us(pause[0]), self._us(pause[1])
            if pe < ps:
                raise CalendarError(
                    self.name,
                    f"pause ends ({pause[1].isoformat()}) before it starts "
                    f"({pause[0].isoformat()})",
                    pause[1].date(),
                )
            ps, pe = max(ps, lo), pe if hi is None else min(pe, hi)
            if pe > ps:
                clipped.append((ps, pe))
        merged: list[Interval] = []
        for ps, pe in sorted(clipped):
            if merged and ps <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], pe))
            else:
                merged.append((ps, pe))
        return merged

    def due_at(
        self,
        start: datetime,
        target: BusinessDuration | str,
        pauses: Iterable[Pause] = (),
        fraction: float | Decimal | Fraction = 1,
    ) -> datetime:
        """When an SLA of ``target`` started at ``start`` falls due (UTC).

        * business minutes/hours: when that much business time has passed
          outside pauses;
        * business days: close of business on the n-th business day after the
          local date of ``start`` (the FCA's "close of the third business day
          after receipt"); each business day boundary crossed while paused
          adds a day;
        * calendar days/weeks: same local wall-clock time that many days later;
          calendar hours/minutes: real elapsed time. Paused time is added.

        ``fraction`` gives an intermediate milestone (0.75 for a warning at 75%):
        the instant when that share of the target's business time (calendar
        time for calendar units) has passed.
        """
        return self.due_ats(start, target, pauses, (fraction,))[0]

    def due_ats(
        self,
        start: datetime,
        target: BusinessDuration | str,
        pauses: Iterable[Pause] = (),
        fractions: Iterable[float | Decimal | Fraction] = (1,),
    ) -> list[datetime]:
        """:meth:`due_at` for each of ``fractions``, in order, in one pass.

        An SLA's milestones (a warning at 75%, the breach) share the target
        and the pauses; a resume recomputes them all over every pause so far,
        so the pauses are read, and the breach found, once for all of them.
        """
        duration = _duration(target) if isinstance(target, str) else target
        shares = [self._share(f) for f in fractions]  # (numerator, denominator)
        s = self._us(start)
        stops = self._pauses(pauses, s)
        # Business time (real time for calendar units) at each pause's ends:
        # the clock of hour and minute targets, and what fractions are shares of.
        measure, inverse = (self._w, self._w_forward) if duration.business else (_same, _same)
        measured: list[Interval] | None = None
        if duration.business and duration.unit == "days":
            # Days are counted only at the pauses before the due time: one
            # after it may end where _day_count refuses (after the last day).
            due = _advance(s, duration.amount, stops, self._day_count, self._close_of)
        else:
            measured = [(measure(ps), measure(pe)) for ps, pe in stops]
            amount = (
                duration.amount * _UNIT_US[duration.unit] if duration.business
                else self._calendar_span(start, duration)
            )
            due = _advance(s, amount, stops, measure, inverse, measured)
        if all(n == d for n, d in shares):
            return [self._utc(due)] * len(shares)
        if measured is None:
            measured = [(measure(ps), measure(pe)) for ps, pe in stops]
        at_due = measure(due)
        total = at_due - measure(s) - sum(
            (at_due if pe > due else mpe) - mps
            for (ps, pe), (mps, mpe) in zip(stops, measured, strict=True)
            if ps < due
        )
        return [
            self._utc(
                due if n == d
                else _advance(
                    s, _round_half_even(total * n, d), stops, measure, inverse, measured
                )
            )
            for n, d in shares
        ]

    def _share(self, fraction: float | Decimal | Fraction) -> tuple[int, int]:
        n, d = _ratio(fraction)
        if n < 0:
            raise CalendarError(self.name, f"fraction must not be negative, got {fraction}")
        return n, d

    @functools.cached_property
    def _day_count(self) -> Callable[[int], int]:
        """Business days through the local date of instant ``us`` (in the tables).

        Found among the local midnights of the instant's UTC day and the days
        either side (the local date is never further off), which costs a
        fraction of converting the instant to a local date.
        """
        t, days = self._t, self._days
        hi, first, midnights, count = t.hi, days.first, days.midnights, t.count
        last = len(midnights)
        bisect_right = bisect.bisect_right
        local_index = self._local_index

        def day_count(us: int) -> int:
            if us == hi:  # the first instant after the last day
                local_index(us)
            day = us // _DAY_US - first
            lo, up = (day - 2 if day > 2 else 0), (day + 2 if day < last - 2 else last)
            return count[bisect_right(midnights, us, lo, up) - 1]

        return day_count

    def _close_of(self, k: int) -> int:
        """Close of business of the k-th business day in the tables (1-based)."""
        if k > len(self._t.closes):
            raise self._beyond(True)
        return self._t.closes[k - 1]

    def _calendar_span(self, start: datetime, duration: BusinessDuration) -> int:
        if duration.unit in _UNIT_US:
            return duration.amount * _UNIT_US[duration.unit]
        days = duration.amount * (7 if duration.unit == "weeks" else 1)
        local = start.astimezone(self.tz)
        wall_due = local.replace(tzinfo=None) + timedelta(days=days)
        due_day = wall_due.date()
        if due_day > self.last_day:
            self._out_of_range(due_day, "the due date ")
        minute = wall_due.hour * 60 + wall_due.minute
        seconds = timedelta(seconds=wall_due.second, microseconds=wall_due.microsecond) // _US
        return self._wall_us(due_day, minute) + seconds - self._us(start)


def _offset(tz: ZoneInfo, moment: datetime) -> timedelta:
    """UTC offset of a wall time (naive) or of an instant (aware) in ``tz``."""
    offset = moment.astimezone(tz).utcoffset() if moment.tzinfo else tz.utcoffset(moment)
    assert offset is not None  # a ZoneInfo always has an offset
    return offset


def _same(us: int) -> int:
    return us


@functools.lru_cache(maxsize=256)
def _duration(text: str) -> BusinessDuration:
    """A target read once: workflows name a handful, and every SLA timer reads one."""
    return BusinessDuration.parse(text)


@functools.lru_cache(maxsize=256)
def _cached_ratio(value: float | Decimal | Fraction) -> tuple[int, int]:
    return Fraction(value).as_integer_ratio()


def _ratio(value: float | Decimal | Fraction) -> tuple[int, int]:
    """``value`` in lowest terms, denominator positive.

    The few shares workflows use (Decimal 0.75) are converted once, and
    milestones are computed in integers: Fraction arithmetic cost more than
    the calendar lookups of a resume.
    """
    try:
        return _cached_ratio(value)
    except TypeError:  # unhashable: let Fraction say what is wrong with it
        return Fraction(value).as_integer_ratio()


def _round_half_even(numerator: int, denominator: int) -> int:
    """``round(Fraction(numerator, denominator))`` for a positive denominator."""
    floor, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and floor % 2):
        return floor + 1
    return floor


def _advance(
    start: int,
    amount: int,
    pauses: Sequence[Interval],
    measure: Callable[[int], int],
    inverse: Callable[[int], int],
    measured: Sequence[Interval] | None = None,
) -> int:
    """Instant at which ``amount`` of ``measure`` has accrued since ``start`` outside pauses.

    ``measure`` is a non-decreasing clock (business microseconds, business
    days, or real time) and ``inverse`` gives the earliest instant it reaches a
    value. Each pause that begins before the current due time pushes the
    target out by what the clock gained during it: ``measured`` holds the
    clock at each pause's ends when the caller has them already.
    """
    if amount <= 0:
        return start
    target = measure(start) + amount
    for i, (ps, pe) in enumerate(pauses):
        due = inverse(target)
        if due <= ps:
            return due
        if measured is None:
            target += measure(pe) - measure(ps)
        else:
            mps, mpe = measured[i]
            target += mpe - mps
    return inverse(target)
