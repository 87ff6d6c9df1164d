"""Calendars shared by the calendar tests; built once per session (they are immutable)."""

from __future__ import annotations

import pytest
from _calendar_helpers import LONDON

from csflow.calendars import BusinessCalendar, CalendarRegistry, weekly_hours


@pytest.fixture(scope="session")
def bundled() -> CalendarRegistry:
    return CalendarRegistry.bundled()


@pytest.fixture(scope="session")
def uk(bundled: CalendarRegistry) -> BusinessCalendar:
    return bundled["uk-england-wales"]


@pytest.fixture(scope="session")
def always_open_london() -> BusinessCalendar:
    """24x7 with no holidays: business time is real time, so DST shows directly."""
    return BusinessCalendar(
        "24x7-london", LONDON, weekly_hours({"mon-sun": "00:00-24:00"}), years=(2024, 2026)
    )
