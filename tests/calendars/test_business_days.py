"""Business days: regional holidays, the FCA wording, and the edges of coverage."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from _calendar_helpers import london, weekdays_closed

from csflow.calendars import BusinessCalendar, CalendarRegistry, weekly_hours
from csflow.errors import CalendarError


def test_england_and_wales_bank_holidays_2025(uk: BusinessCalendar) -> None:
    assert weekdays_closed(uk, 2025) == [
        date(2025, 1, 1), date(2025, 4, 18), date(2025, 4, 21), date(2025, 5, 5),
        date(2025, 5, 26), date(2025, 8, 25), date(2025, 12, 25), date(2025, 12, 26),
    ]


def test_scotland_has_its_own_bank_holidays(bundled: CalendarRegistry) -> None:
    closed = weekdays_closed(bundled["uk-scotland"], 2025)
    assert date(2025, 1, 2) in closed          # 2 January
    assert date(2025, 8, 4) in closed          # first Monday of August
    assert date(2025, 12, 1) in closed         # St Andrew's Day (30 Nov, a Sunday) substitute
    assert date(2025, 4, 21) not in closed     # no Easter Monday
    assert date(2025, 8, 25) not in closed     # no late summer bank holiday


def test_northern_ireland_and_australian_states(bundled: CalendarRegistry) -> None:
    ni = weekdays_closed(bundled["uk-northern-ireland"], 2025)
    assert date(2025, 3, 17) in ni and date(2025, 7, 14) in ni
    assert date(2025, 11, 4) in weekdays_closed(bundled["au-vic"], 2025)   # Melbourne Cup
    assert date(2025, 11, 4) not in weekdays_closed(bundled["au-nsw"], 2025)
    assert date(2025, 10, 6) in weekdays_closed(bundled["au-nsw"], 2025)   # Labour Day
    assert date(2025, 8, 13) in weekdays_closed(bundled["au-qld"], 2025)   # Ekka
    assert date(2025, 6, 2) in weekdays_closed(bundled["au-wa"], 2025)     # WA Day


def test_bundled_timezones(bundled: CalendarRegistry) -> None:
    zones = {name: cal.tz.key for name, cal in bundled.items()}
    assert zones == {
        "uk-england-wales": "Europe/London", "uk-scotland": "Europe/London",
        "uk-northern-ireland": "Europe/London", "au-nsw": "Australia/Sydney",
        "au-vic": "Australia/Melbourne", "au-qld": "Australia/Brisbane",
        "au-wa": "Australia/Perth", "au-sa": "Australia/Adelaide",
        "au-tas": "Australia/Hobart", "au-act": "Australia/Sydney",
        "au-nt": "Australia/Darwin",
    }


def test_fca_close_of_third_business_day_after_receipt(uk: BusinessCalendar) -> None:
    # Received Thursday before Easter: Good Friday and Easter Monday do not count.
    due = uk.due_at(london(2025, 4, 17, 10, 0), "3 business days")
    assert due == london(2025, 4, 24, 17, 30)
    assert due.tzinfo is not None and due.utcoffset() == ZoneInfo("UTC").utcoffset(due)
    # Received on a Saturday: Monday is the first business day after receipt.
    assert uk.due_at(london(2025, 3, 8, 12, 0), "3 business days") == london(2025, 3, 12, 17, 30)


def test_add_business_days_counts_from_the_day_after(uk: BusinessCalendar) -> None:
    friday, saturday = date(2025, 3, 7), date(2025, 3, 8)
    assert uk.add_business_days(friday, 1) == date(2025, 3, 10)
    assert uk.add_business_days(saturday, 1) == date(2025, 3, 10)
    assert uk.add_business_days(saturday, -1) == friday
    assert uk.add_business_days(date(2025, 3, 10), -1) == friday
    assert uk.add_business_days(saturday, 0) == saturday
    assert uk.add_business_days(date(2025, 12, 24), 1) == date(2025, 12, 29)
    assert uk.add_business_days(date(2025, 12, 29), -2) == date(2025, 12, 23)


def test_business_days_between_is_antisymmetric(uk: BusinessCalendar) -> None:
    a, b = date(2025, 12, 20), date(2026, 1, 10)
    # 22, 23, 24, 29, 30, 31 Dec; 2, 5, 6, 7, 8, 9 Jan
    assert uk.business_days_between(a, b) == 12
    assert uk.business_days_between(b, a) == -12
    assert uk.business_days_between(a, a) == 0


def test_an_aware_datetime_is_read_as_its_local_date(uk: BusinessCalendar) -> None:
    # 23:30 UTC on Sunday 30 March is already Monday 00:30 in London (BST).
    late_sunday_utc = datetime(2025, 3, 30, 23, 30, tzinfo=ZoneInfo("UTC"))
    assert uk.is_business_day(late_sunday_utc)
    assert uk.add_business_days(late_sunday_utc, 1) == date(2025, 4, 1)


def test_dates_outside_the_supported_years_are_refused(uk: BusinessCalendar) -> None:
    with pytest.raises(CalendarError, match=r"2061-01-05 is outside .* 2000 to 2060") as err:
        uk.is_business_day(date(2061, 1, 5))
    assert err.value.calendar == "uk-england-wales"
    assert err.value.date == date(2061, 1, 5)
    with pytest.raises(CalendarError, match="after 2060-12-31"):
        uk.add_business_days(date(2060, 12, 20), 30)
    with pytest.raises(CalendarError, match="before 2000-01-01"):
        uk.add_business_days(date(2000, 1, 10), -30)
    with pytest.raises(CalendarError, match="1999-12-31"):
        uk.business_days_between(date(1999, 12, 31), date(2000, 1, 5))


def test_a_pause_after_the_due_time_counts_no_days_even_at_the_edge(uk: BusinessCalendar) -> None:
    # The pause ends at the first instant after the supported years, where
    # counting days is refused; it starts after the due time, so nothing counts it.
    start = london(2060, 12, 1, 10, 0)
    pause = (london(2060, 12, 30, 10, 0), london(2061, 1, 1, 0, 0))
    due = london(2060, 12, 2, 17, 30)
    assert uk.due_ats(start, "1 business days", [pause], [Decimal("0.75"), 1])[1] == due
    with pytest.raises(CalendarError, match="2061-01-01 is outside"):
        uk.due_at(london(2060, 12, 29, 10, 0), "1 business days", [pause])


def test_years_beyond_holidays_coverage_are_refused() -> None:
    coverage = r"holidays package computes for GB-ENG \(1872 to 2100\)"
    with pytest.raises(CalendarError, match=coverage):
        BusinessCalendar(
            "far", ZoneInfo("Europe/London"), weekly_hours({"mon-fri": "09:00-17:00"}),
            "GB", "ENG", years=(2090, 2101),
        )


def test_unknown_region_is_named() -> None:
    hours = weekly_hours({"mon-fri": "09:00-17:00"})
    with pytest.raises(CalendarError, match="unknown holiday region 'YKS' for GB; known: ENG"):
        BusinessCalendar("yorkshire", ZoneInfo("Europe/London"), hours, "GB", "YKS")
    with pytest.raises(CalendarError, match="unknown holiday country 'XX'"):
        BusinessCalendar("nowhere", ZoneInfo("Europe/London"), hours, "XX")


def test_naive_datetimes_are_refused(uk: BusinessCalendar) -> None:
    with pytest.raises(CalendarError, match="timezone-aware"):
        uk.add_business_hours(datetime(2025, 3, 3, 9, 0), 1)
    with pytest.raises(CalendarError, match="is not a date"):
        uk.is_business_day("2025-03-03")  # type: ignore[arg-type]


def test_closures_are_not_business_days() -> None:
    cal = BusinessCalendar(
        "acme", ZoneInfo("Europe/London"), weekly_hours({"mon-fri": "09:00-17:00"}),
        "GB", "ENG", closures=frozenset({date(2025, 12, 24)}), years=(2025, 2026),
    )
    assert not cal.is_business_day(date(2025, 12, 24))
    assert cal.add_business_days(date(2025, 12, 23), 1) == date(2025, 12, 29)


def test_bad_hours_are_explained() -> None:
    with pytest.raises(ValueError, match="'09:00-25:00' must run forwards"):
        weekly_hours({"mon": "09:00-25:00"})
    with pytest.raises(ValueError, match="mon is given twice"):
        weekly_hours({"mon-fri": "09:00-17:00", "mon": "10:00-12:00"})
    with pytest.raises(ValueError, match="overlap"):
        weekly_hours({"tue": ["09:00-13:00", "12:00-17:00"]})
    with pytest.raises(ValueError, match="runs backwards"):
        weekly_hours({"fri-mon": "09:00-17:00"})
    with pytest.raises(ValueError, match="not a weekday"):
        weekly_hours({"monday": "09:00-17:00"})
    assert weekly_hours({"sat": "closed", "mon": ["13:00-17:00", "09:00-12:00"]})[:2] == (
        ((540, 720), (780, 1020)), (),
    )
