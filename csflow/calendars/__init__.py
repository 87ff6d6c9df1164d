"""Business calendars for SLA timers and rule expressions.

Working hours per weekday in a timezone, public holidays by country and region
(from the ``holidays`` package), an organisation's own closures, and the
arithmetic SLAs need: business days, business hours, elapsed business time
with the clock paused. See ``docs/calendars.md``.
"""

from csflow.calendars._calendar import (
    DEFAULT_YEARS,
    BusinessCalendar,
    Interval,
    Pause,
    WeekHours,
    weekly_hours,
)
from csflow.calendars._duration import BusinessDuration
from csflow.calendars._registry import CalendarRegistry, rule_functions

__all__ = [
    "DEFAULT_YEARS",
    "BusinessCalendar",
    "BusinessDuration",
    "CalendarRegistry",
    "Interval",
    "Pause",
    "WeekHours",
    "rule_functions",
    "weekly_hours",
]
