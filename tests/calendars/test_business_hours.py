"""Business hours, elapsed business time, pauses and SLA due times, across DST changes."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from _calendar_helpers import LONDON, SYDNEY, london, sydney, utc

from csflow.calendars import BusinessCalendar, BusinessDuration, CalendarRegistry, weekly_hours
from csflow.errors import CalendarError

H = timedelta(hours=1)


def test_due_on_closing_time_is_closing_time(uk: BusinessCalendar) -> None:
    start = london(2025, 3, 3, 9, 0)
    assert uk.add_business_hours(start, 8.5) == utc(2025, 3, 3, 17, 30)
    assert uk.add_business_hours(start, timedelta(hours=8, minutes=30)) == utc(2025, 3, 3, 17, 30)
    assert uk.add_business_hours(start, 0) == start


def test_results_are_utc(uk: BusinessCalendar) -> None:
    due = uk.add_business_hours(london(2025, 6, 2, 9, 0), 1)
    assert due.utcoffset() == timedelta(0) and due == london(2025, 6, 2, 10, 0)


def test_london_spring_forward_between_friday_and_monday(uk: BusinessCalendar) -> None:
    # Clocks go forward on Sunday 30 March 2025; Monday opens at 09:00 BST = 08:00 UTC.
    assert uk.add_business_hours(london(2025, 3, 28, 17, 0), 1) == utc(2025, 3, 31, 8, 30)
    assert uk.add_business_hours(london(2025, 3, 31, 9, 30), -1) == utc(2025, 3, 28, 17, 0)


def test_dst_days_are_23_and_25_hours_long(always_open_london: BusinessCalendar) -> None:
    cal = always_open_london
    assert cal.business_time_between(london(2025, 3, 30), london(2025, 3, 31)) == 23 * H
    assert cal.business_time_between(london(2025, 10, 26), london(2025, 10, 27)) == 25 * H
    assert cal.add_business_hours(utc(2025, 3, 29, 12), 24) == utc(2025, 3, 30, 12)
    assert cal.add_business_hours(london(2025, 3, 30), 24) == london(2025, 3, 31, 1, 0)


def test_sydney_dst_april_and_october(bundled: CalendarRegistry) -> None:
    nsw = bundled["au-nsw"]
    # DST ends Sunday 6 April 2025: Friday is UTC+11, Monday UTC+10.
    assert nsw.add_business_hours(sydney(2025, 4, 4, 16, 30), 1) == utc(2025, 4, 6, 23, 30)
    # DST starts Sunday 5 October 2025, and Monday 6 October is Labour Day in NSW.
    assert nsw.add_business_hours(sydney(2025, 10, 3, 16, 30), 1) == utc(2025, 10, 6, 22, 30)
    open_sydney = BusinessCalendar(
        "24x7-sydney", SYDNEY, weekly_hours({"mon-sun": "00:00-24:00"}), years=(2025, 2025)
    )
    assert open_sydney.business_time_between(sydney(2025, 4, 6), sydney(2025, 4, 7)) == 25 * H
    assert open_sydney.business_time_between(sydney(2025, 10, 5), sydney(2025, 10, 6)) == 23 * H


def test_night_shift_across_dst() -> None:
    night = BusinessCalendar(
        "night", LONDON, weekly_hours({"sat": "22:00-24:00", "sun": "00:00-06:00"}),
        years=(2025, 2025),
    )
    assert night.business_time_between(london(2025, 3, 29, 21), london(2025, 3, 30, 7)) == 7 * H
    assert night.business_time_between(london(2025, 10, 25, 21), london(2025, 10, 26, 7)) == 9 * H


def test_hours_starting_inside_a_dst_change() -> None:
    # 01:30 never shows on 30 March (01:00 GMT jumps to 02:00 BST): work starts at
    # the jump. On 26 October 01:30 shows twice: work starts at the first.
    odd = BusinessCalendar("odd", LONDON, weekly_hours({"sun": "01:30-05:00"}), years=(2025, 2025))
    assert odd.business_time_between(london(2025, 3, 30), london(2025, 3, 31)) == 3 * H
    assert odd.business_time_between(london(2025, 10, 26), london(2025, 10, 27)) == 4.5 * H


def test_pauses_overlapping_and_outside_are_removed_once(uk: BusinessCalendar) -> None:
    mon, tue, wed = (london(2025, 3, d, 0, 0) for d in (3, 4, 5))
    start, end = mon + 9 * H, wed + 17.5 * H
    assert uk.business_time_between(start, end) == 25.5 * H
    pauses = [
        (mon + 12 * H, tue + 12 * H),
        (tue + 10 * H, tue + 14 * H),
        (london(2025, 3, 2, 12, 0), mon + 10 * H),
    ]
    assert uk.business_time_between(start, end, pauses) == 14 * H


def test_due_time_moves_by_business_time_paused(uk: BusinessCalendar) -> None:
    mon = london(2025, 3, 3, 0, 0)
    start = mon + 9 * H
    target = BusinessDuration.parse("8 business hours")
    assert uk.due_at(start, target) == mon + 17 * H
    assert uk.due_at(start, target, [(mon + 12 * H, mon + 34 * H)]) == mon + 39 * H
    assert uk.due_at(start, target, [(mon + 17 * H, mon + 18 * H)]) == mon + 17 * H
    assert uk.due_at(start, "30 business minutes") == mon + 9.5 * H


def test_business_day_target_moves_by_days_crossed_while_paused(uk: BusinessCalendar) -> None:
    start = london(2025, 3, 3, 10, 0)
    assert uk.due_at(start, "2 business days") == london(2025, 3, 5, 17, 30)
    paused = [(london(2025, 3, 3, 14, 0), london(2025, 3, 5, 11, 0))]
    assert uk.due_at(start, "2 business days", paused) == london(2025, 3, 7, 17, 30)
    same_day = [(london(2025, 3, 3, 11, 0), london(2025, 3, 3, 15, 0))]
    assert uk.due_at(start, "2 business days", same_day) == london(2025, 3, 5, 17, 30)


def test_calendar_targets_keep_wall_clock_time(uk: BusinessCalendar) -> None:
    start = london(2025, 3, 3, 10, 0)
    assert uk.due_at(start, "8 weeks") == london(2025, 4, 28, 10, 0)  # now BST
    assert uk.due_at(start, "14 days") == london(2025, 3, 17, 10, 0)
    paused = [(london(2025, 3, 10, 10, 0), london(2025, 3, 12, 10, 0))]
    assert uk.due_at(start, "8 weeks", paused) == london(2025, 4, 30, 10, 0)


def test_warning_fraction(uk: BusinessCalendar) -> None:
    start = london(2025, 3, 3, 9, 0)
    assert uk.due_at(start, "8 business hours", fraction=0.75) == london(2025, 3, 3, 15, 0)
    # 75% of the 25.5 business hours to close on Wednesday is 19h07m30s.
    assert uk.due_at(start, "2 business days", fraction=0.75) == london(2025, 3, 5, 11, 7, 30)
    assert uk.due_at(start, "2 business days", fraction=0) == start
    assert uk.due_at(start, "2 weeks", fraction=0.5) == london(2025, 3, 10, 9, 0)


def test_bad_intervals_are_refused(uk: BusinessCalendar) -> None:
    a, b = london(2025, 3, 3, 9), london(2025, 3, 4, 9)
    with pytest.raises(CalendarError, match="is before start"):
        uk.business_time_between(b, a)
    with pytest.raises(CalendarError, match=r"pause ends .* before it starts"):
        uk.business_time_between(a, b, [(b, a)])
    with pytest.raises(CalendarError, match="timezone-aware"):
        uk.business_time_between(a, b, [(datetime(2025, 3, 3, 10), b)])
    with pytest.raises(CalendarError, match="fraction must not be negative"):
        uk.due_at(a, "1 business day", fraction=-0.5)


def test_business_time_outside_the_supported_years_is_refused(uk: BusinessCalendar) -> None:
    with pytest.raises(CalendarError, match="after 2060-12-31"):
        uk.add_business_hours(london(2060, 12, 31, 9, 0), 100)
    with pytest.raises(CalendarError, match="2061-01-02 is outside"):
        uk.business_time_between(london(2060, 12, 1), london(2061, 1, 2))
    with pytest.raises(CalendarError, match="the due date 2061-01-01 is outside"):
        uk.due_at(london(2060, 12, 25, 9, 0), "1 week")
