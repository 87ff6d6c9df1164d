"""The offset fast path gives what the checked methods give, on random instants.

``business_offset``/``moment_at_offset`` and ``business_day_number``/
``close_of_business_day`` are what bulk analysis uses instead of
``business_time_between``, ``add_business_hours`` and ``due_at``; these
properties pin them to those methods across DST changes, holidays, split
working days and a desk open around midnight.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from _calendar_helpers import LONDON, SYDNEY, UTC, london
from hypothesis import given, settings
from hypothesis import strategies as st

from csflow.calendars import BusinessCalendar, weekly_hours
from csflow.errors import CalendarError

YEARS = (2024, 2026)
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
calendars = st.sampled_from([SPLIT_DAY, LATE_SYDNEY])

# Ends two months before the tables do: n <= 30 business days after it must still fit.
anywhere = st.datetimes(datetime(2024, 2, 1), datetime(2026, 10, 31), timezones=st.just(UTC))
DST_DAYS = [datetime(2025, 3, 30), datetime(2025, 10, 26), datetime(2025, 4, 6),
            datetime(2025, 10, 5), datetime(2024, 3, 31), datetime(2024, 10, 6)]
near_dst = st.builds(
    lambda day, us: (day + timedelta(microseconds=us)).replace(tzinfo=UTC),
    st.sampled_from(DST_DAYS), st.integers(-4 * 86_400_000_000, 2 * 86_400_000_000),
)
instants = st.one_of(anywhere, near_dst)
spans = st.integers(0, 5 * 86_400_000_000).map(lambda us: timedelta(microseconds=us))


@settings(max_examples=150)
@given(cal=calendars, start=instants, span=spans)
def test_offset_differences_are_business_time_between(
    cal: BusinessCalendar, start: datetime, span: timedelta
) -> None:
    end = start + span
    elapsed = cal.business_offset(end) - cal.business_offset(start)
    assert timedelta(microseconds=elapsed) == cal.business_time_between(start, end)
    assert cal.business_offsets([end, start]) == [cal.business_offset(end),
                                                 cal.business_offset(start)]


@settings(max_examples=100)
@given(cal=calendars, start=instants, span=spans,
       raw=st.lists(st.tuples(st.integers(-600, 3000), st.integers(0, 900)), max_size=4))
def test_pauses_are_offset_differences_taken_off(
    cal: BusinessCalendar, start: datetime, span: timedelta, raw: list[tuple[int, int]]
) -> None:
    end = start + span
    pauses = sorted((start + timedelta(minutes=at), start + timedelta(minutes=at + length))
                    for at, length in raw)
    merged: list[tuple[datetime, datetime]] = []
    for a, b in pauses:  # clipped to [start, end] and merged, as documented
        ps, pe = max(a, start), min(b, end)
        if pe <= ps:
            continue
        if merged and ps <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], pe))
        else:
            merged.append((ps, pe))
    paused = sum(cal.business_offset(pe) - cal.business_offset(ps) for ps, pe in merged)
    elapsed = cal.business_offset(end) - cal.business_offset(start) - paused
    assert timedelta(microseconds=elapsed) == cal.business_time_between(start, end, pauses)


@settings(max_examples=150)
@given(cal=calendars, start=instants, work=st.integers(1, 3 * 86_400_000_000))
def test_moment_at_offset_is_add_business_hours(
    cal: BusinessCalendar, start: datetime, work: int
) -> None:
    due = cal.moment_at_offset(cal.business_offset(start) + work)
    assert due == cal.add_business_hours(start, timedelta(microseconds=work))
    assert cal.business_offset(due) == cal.business_offset(start) + work


@settings(max_examples=150)
@given(cal=calendars, start=instants, n=st.integers(1, 30))
def test_close_of_business_day_is_due_at_in_business_days(
    cal: BusinessCalendar, start: datetime, n: int
) -> None:
    number = cal.business_day_number(start)
    assert cal.close_of_business_day(number + n) == cal.due_at(start, f"{n} business days")
    local = start.astimezone(cal.tz).date()
    assert number == cal.business_day_number(local)
    assert number - cal.business_day_number(cal.first_day) == cal.business_days_between(
        cal.first_day, local)


def test_the_first_instants_of_the_years_have_offset_and_number_zero() -> None:
    opening = london(2024, 1, 1)
    assert SPLIT_DAY.business_offset(opening) == 0
    assert SPLIT_DAY.moment_at_offset(0) == opening
    # 1 and 2 January are Scottish bank holidays: the first business day is the 3rd.
    assert SPLIT_DAY.business_day_number(date(2024, 1, 2)) == 0
    assert SPLIT_DAY.business_day_number(date(2024, 1, 3)) == 1
    assert SPLIT_DAY.close_of_business_day(1) == london(2024, 1, 3, 17, 30)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: SPLIT_DAY.business_offset(datetime(2025, 1, 6, 9)), "timezone-aware"),
    (lambda: SPLIT_DAY.business_offset(london(2027, 1, 4, 9)), "outside the calendar"),
    (lambda: SPLIT_DAY.business_offsets([london(2025, 1, 6), london(2023, 12, 31)]),
     "outside the calendar"),
    (lambda: SPLIT_DAY.business_day_number(datetime(2025, 1, 6, 9)), "timezone-aware"),
    (lambda: SPLIT_DAY.business_day_number(london(2027, 1, 1)), "outside the calendar"),
    (lambda: SPLIT_DAY.business_day_number(date(2023, 12, 31)), "outside the calendar"),
    (lambda: SPLIT_DAY.moment_at_offset(-1), "before 2024-01-01"),
    (lambda: SPLIT_DAY.moment_at_offset(10**18), "after 2026-12-31"),
    (lambda: SPLIT_DAY.close_of_business_day(0), "before 2024-01-01"),
    (lambda: SPLIT_DAY.close_of_business_day(10**6), "after 2026-12-31"),
])
def test_outside_the_tables_or_naive_is_a_calendar_error(call: object, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        call()  # type: ignore[operator]
