"""The tables agree with the day-by-day and minute-by-minute definitions.

Random inputs cover DST changes, holidays and split working days; the naive
loops in ``csflow.calendars._reference`` are the specification.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from fractions import Fraction

import pytest
from _calendar_helpers import LONDON, SYDNEY, UTC
from hypothesis import given, settings
from hypothesis import strategies as st

from csflow.calendars import BusinessCalendar, CalendarRegistry, weekly_hours
from csflow.calendars._reference import NaiveCalendar

YEARS = (2024, 2026)
US = timedelta(microseconds=1)
SPLIT_DAY = BusinessCalendar(
    "split-london", LONDON,
    weekly_hours({"mon-thu": ["08:00-12:30", "13:30-17:30"], "fri": "08:00-16:00",
                  "sat": "10:00-13:00"}),
    "GB", "SCT", closures=frozenset({date(2025, 12, 24), date(2025, 12, 31)}), years=YEARS,
)
LATE_SYDNEY = BusinessCalendar(
    "late-sydney", SYDNEY, weekly_hours({"mon-fri": ["00:00-03:00", "20:00-24:00"]}),
    "AU", "NSW", years=YEARS,
)
CALENDARS = [SPLIT_DAY, LATE_SYDNEY]
NAIVE = {cal.name: NaiveCalendar(cal) for cal in CALENDARS}

days = st.dates(date(2024, 3, 1), date(2026, 10, 1))  # +-40 business days stays in YEARS
anywhere = st.datetimes(datetime(2024, 2, 1), datetime(2026, 11, 30), timezones=st.just(UTC))
# Days on which London or Sydney changes clocks, so DST is hit on purpose, not by luck.
DST_DAYS = [datetime(2025, 3, 30), datetime(2025, 10, 26), datetime(2025, 4, 6),
            datetime(2025, 10, 5), datetime(2024, 3, 31), datetime(2024, 10, 6)]
near_dst = st.builds(
    lambda day, offset: (day + timedelta(minutes=offset)).replace(tzinfo=UTC),
    st.sampled_from(DST_DAYS), st.integers(-4 * 1440, 2 * 1440),
)
minutes = st.one_of(anywhere, near_dst).map(lambda t: t.replace(second=0, microsecond=0))
calendars = st.sampled_from(CALENDARS)


@pytest.fixture(scope="module")
def uk_ni(bundled: CalendarRegistry) -> BusinessCalendar:
    return bundled["uk-northern-ireland"]


@given(day=days, n=st.integers(0, 300))
def test_adding_then_counting_gives_n(uk_ni: BusinessCalendar, day: date, n: int) -> None:
    assert uk_ni.business_days_between(day, uk_ni.add_business_days(day, n)) == n


@given(day=days, n=st.integers(-300, -1))
def test_counting_back_from_a_business_day(uk_ni: BusinessCalendar, day: date, n: int) -> None:
    day = uk_ni.add_business_days(day, 1)
    earlier = uk_ni.add_business_days(day, n)
    assert uk_ni.is_business_day(earlier)
    assert uk_ni.business_days_between(day, earlier) == n


@given(cal=calendars, day=days, n=st.integers(-40, 40))
def test_add_business_days_matches_the_day_loop(cal: BusinessCalendar, day: date, n: int) -> None:
    assert cal.add_business_days(day, n) == NAIVE[cal.name].add_business_days(day, n)


@given(cal=calendars, a=days, span=st.integers(-60, 60))
def test_business_days_between_matches_the_day_loop(
    cal: BusinessCalendar, a: date, span: int
) -> None:
    b = a + timedelta(days=span)
    assert cal.is_business_day(a) == NAIVE[cal.name].is_business_day(a)
    assert cal.business_days_between(a, b) == NAIVE[cal.name].business_days_between(a, b)


@settings(max_examples=60)
@given(cal=calendars, start=minutes, work=st.integers(1, 1500))
def test_add_business_hours_matches_the_minute_loop(
    cal: BusinessCalendar, start: datetime, work: int
) -> None:
    expected = NAIVE[cal.name].add_business_minutes(start, work)
    assert cal.add_business_hours(start, timedelta(minutes=work)) == expected
    # Counting back lands on the latest moment with no business time since start.
    back = cal.add_business_hours(expected, timedelta(minutes=-work))
    assert back >= start and cal.business_time_between(start, back) == timedelta(0)


@settings(max_examples=60)
@given(cal=calendars, start=minutes, span=st.integers(0, 3000))
def test_business_time_between_matches_the_minute_loop(
    cal: BusinessCalendar, start: datetime, span: int
) -> None:
    end = start + timedelta(minutes=span)
    expected = NAIVE[cal.name].business_minutes_between(start, end)
    assert cal.business_time_between(start, end) == timedelta(minutes=expected)


pauses_strategy = st.lists(
    st.tuples(st.integers(-600, 3000), st.integers(0, 900)), max_size=4
)


@settings(max_examples=60)
@given(cal=calendars, start=minutes, span=st.integers(0, 3000), raw=pauses_strategy)
def test_pauses_remove_exactly_the_paused_working_minutes(
    cal: BusinessCalendar, start: datetime, span: int, raw: list[tuple[int, int]]
) -> None:
    end = start + timedelta(minutes=span)
    pauses = [
        (start + timedelta(minutes=at), start + timedelta(minutes=at + length))
        for at, length in raw
    ]
    naive = NAIVE[cal.name]
    expected = sum(
        naive.is_working_minute(t) and not any(ps <= t < pe for ps, pe in pauses)
        for t in (start + timedelta(minutes=i) for i in range(span))
    )
    assert cal.business_time_between(start, end, pauses) == timedelta(minutes=expected)


@settings(max_examples=60)
@given(cal=calendars, start=minutes, work=st.integers(1, 1500), raw=pauses_strategy)
def test_due_at_is_the_first_moment_the_paused_clock_reaches_the_target(
    cal: BusinessCalendar, start: datetime, work: int, raw: list[tuple[int, int]]
) -> None:
    pauses = [
        (start + timedelta(minutes=at), start + timedelta(minutes=at + length))
        for at, length in raw
    ]
    due = cal.due_at(start, f"{work} business minutes", pauses)
    assert cal.business_time_between(start, due, pauses) == timedelta(minutes=work)
    just_before = due - timedelta(minutes=1)
    assert just_before < start or cal.business_time_between(
        start, just_before, pauses
    ) < timedelta(minutes=work)


business_targets = st.sampled_from(
    ["90 business minutes", "7 business hours", "1 business days", "3 business days"]
)
shares = st.lists(
    st.sampled_from([Fraction(0), Fraction(1, 3), Fraction(1, 2), Fraction(3, 4), Fraction(1),
                     Fraction(3, 2)]),
    min_size=1, max_size=3,
)


@settings(max_examples=80)
@given(cal=calendars, start=minutes, target=business_targets, raw=pauses_strategy, fractions=shares)
def test_each_milestone_is_the_first_moment_its_share_of_the_business_time_has_passed(
    cal: BusinessCalendar, start: datetime, target: str, raw: list[tuple[int, int]],
    fractions: list[Fraction],
) -> None:
    pauses = [
        (start + timedelta(minutes=at), start + timedelta(minutes=at + length))
        for at, length in raw
    ]
    milestones = cal.due_ats(start, target, pauses, fractions)
    assert milestones == [cal.due_at(start, target, pauses, fraction=f) for f in fractions]
    due = cal.due_at(start, target, pauses)
    total = cal.business_time_between(start, due, pauses) // US
    for share, at in zip(fractions, milestones, strict=True):
        if share == 1:
            assert at == due
            continue
        wanted = timedelta(microseconds=round(total * share))
        assert cal.business_time_between(start, at, pauses) == wanted
        assert at == start or cal.business_time_between(start, at - US, pauses) < wanted
