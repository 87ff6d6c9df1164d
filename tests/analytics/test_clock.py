"""The analytics clock answers as the calendar does, from a few questions per day.

Checked on calendars of every shape the clock handles differently: one
working span a day (England), working hours across UTC midnight and daylight
saving in the other season (Sydney), two spans a day (a lunch break: answered
by the calendar itself), and round the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csflow.analytics._clock import BusinessClock
from csflow.calendars import BusinessCalendar, CalendarRegistry
from csflow.errors import CalendarError

CALENDARS = CalendarRegistry.bundled().with_text("""
calendar: lunch
description: A lunch break and a Saturday morning
timezone: Asia/Kolkata
holidays: none
hours:
  mon-fri: ["09:00-12:30", "13:15-17:45"]
  sat: "10:00-13:00"
""").with_text("""
calendar: always
description: Round the clock
timezone: America/New_York
holidays: none
hours:
  mon-sun: "00:00-24:00"
""")
NAMES = ["uk-england-wales", "au-nsw", "lunch", "always"]

# Around both daylight saving changes of 2025 in both hemispheres, and a UK bank holiday.
instants = st.datetimes(min_value=datetime(2025, 3, 20), max_value=datetime(2025, 4, 12)) | \
    st.datetimes(min_value=datetime(2025, 9, 28), max_value=datetime(2025, 11, 5))
zones = st.sampled_from([UTC, UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=10))])


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=300, deadline=None)
@given(moment=instants, zone=zones)
def test_offsets_and_day_numbers_are_the_calendars(name: str, moment: datetime,
                                                    zone: timezone) -> None:
    cal: BusinessCalendar = CALENDARS[name]
    t = moment.replace(tzinfo=UTC).astimezone(zone)
    clock = BusinessClock(cal)
    assert clock.offset(t) == cal.business_offset(t)
    assert clock.day_number(t) == cal.business_day_number(t)


@pytest.mark.parametrize("name", NAMES)
def test_each_quarter_hour_of_a_fortnight_and_either_side_of_it(name: str) -> None:
    # One clock answering many instants, as in a read: day shapes are kept and
    # reused. Openings, closings and local midnights fall on quarter hours.
    cal = CALENDARS[name]
    clock = BusinessClock(cal)
    start = datetime(2025, 3, 24, tzinfo=UTC)
    for quarter in range(14 * 24 * 4):
        for nudge in (-1, 0, 1):
            t = start + timedelta(minutes=15 * quarter, microseconds=nudge)
            assert (clock.offset(t), clock.day_number(t)) == (
                cal.business_offset(t), cal.business_day_number(t)), t


def _shape(clock: BusinessClock, t: datetime) -> object:
    clock.offset(t)
    return clock.days[(t - clock.origin).days]


def test_days_of_one_span_are_shaped_and_the_rest_left_to_the_calendar() -> None:
    monday = datetime(2025, 3, 24, 6, tzinfo=UTC)
    assert _shape(BusinessClock(CALENDARS["uk-england-wales"]), monday) is not None
    lunch = BusinessClock(CALENDARS["lunch"])
    assert _shape(lunch, monday) is None
    assert _shape(lunch, monday + timedelta(days=6)) is not None  # Sunday: closed, flat


def test_naive_instants_are_refused_as_the_calendar_refuses_them() -> None:
    clock = BusinessClock(CALENDARS["uk-england-wales"])
    with pytest.raises(CalendarError, match="timezone-aware"):
        clock.offset(datetime(2025, 3, 24, 10))
    with pytest.raises(CalendarError, match="timezone-aware"):
        clock.day_number(datetime(2025, 3, 24, 10))
