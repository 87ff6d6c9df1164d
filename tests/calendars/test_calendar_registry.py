"""Named calendars from YAML, organisation files, and the rule-expression functions."""

from __future__ import annotations

import pickle
from datetime import date, timedelta
from pathlib import Path

import pytest
from _calendar_helpers import london, utc

from csflow.calendars import CalendarRegistry, rule_functions
from csflow.errors import DefinitionError, UnknownDefinition

ACME = """\
calendar: acme-uk
extends: uk-england-wales
hours:
  mon-thu: "08:30-17:00"
  fri: "08:30-16:00"
closures:
  - {date: 2025-12-24, reason: Christmas Eve}
  - {from: 2025-12-29, to: 2025-12-31, reason: Year-end shutdown}
"""


def test_bundled_names(bundled: CalendarRegistry) -> None:
    assert sorted(bundled) == [
        "au-act", "au-nsw", "au-nt", "au-qld", "au-sa", "au-tas", "au-vic", "au-wa",
        "uk-england-wales", "uk-northern-ireland", "uk-scotland",
    ]
    assert CalendarRegistry.bundled() is bundled


def test_organisation_file_extends_a_bundled_calendar(
    bundled: CalendarRegistry, tmp_path: Path
) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(ACME, encoding="utf-8")
    registry = bundled.with_file(path)
    acme = registry["acme-uk"]
    assert "acme-uk" not in bundled and len(registry) == len(bundled) + 1
    assert acme.tz == bundled["uk-england-wales"].tz
    assert acme.region == "GB-ENG"
    # 24 Dec and 29-31 Dec closed, 25/26 Dec and 1 Jan bank holidays.
    assert acme.add_business_days(date(2025, 12, 23), 1) == date(2026, 1, 2)
    assert acme.add_business_hours(london(2025, 12, 19, 15, 0), 2) == utc(2025, 12, 22, 9, 30)


def test_a_calendar_can_replace_itself_only_by_extending(bundled: CalendarRegistry) -> None:
    replaced = bundled.with_text(
        "calendar: uk-scotland\nextends: uk-scotland\nclosures: [{date: 2025-07-01}]\n"
    )
    assert not replaced["uk-scotland"].is_business_day(date(2025, 7, 1))
    assert bundled["uk-scotland"].is_business_day(date(2025, 7, 1))
    with pytest.raises(DefinitionError, match="'uk-scotland' already exists"):
        bundled.with_text(
            "calendar: uk-scotland\ntimezone: Europe/London\nholidays: none\n"
            "hours: {mon-fri: '09:00-17:00'}\n"
        )


def test_a_new_calendar_without_holidays(bundled: CalendarRegistry) -> None:
    registry = bundled.with_text(
        "calendar: support-24x7\ntimezone: UTC\nholidays: none\n"
        "hours: {mon-sun: 00:00-24:00}\nyears: {first: 2020, last: 2030}\n"
    )
    cal = registry["support-24x7"]
    assert cal.region == "none" and cal.years == (2020, 2030)
    assert cal.add_business_hours(utc(2025, 12, 25, 0, 0), 24) == utc(2025, 12, 26, 0, 0)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("calendar: x\ntimezone: Europe/Londn\nholidays: none\nhours: {mon: '09:00-17:00'}\n",
         ":2:", "unknown timezone 'Europe/Londn'"),
        ("calendar: x\ntimezone: UTC\nholidays: none\nhours: {mon: '9-5'}\n",
         ":4:", "'9-5' is not a span"),
        ("calendar: x\ntimezone: UTC\nholidays: {country: GB, subdivision: YKS}\n"
         "hours: {mon: '09:00-17:00'}\n", ":3:", "unknown holiday region 'YKS' for GB"),
        ("calendar: x\ntimezone: UTC\nholidays: {country: AU, subdivision: NSW}\n"
         "hours: {mon: '09:00-17:00'}\nyears: {first: 2000, last: 2150}\n",
         ":5:", "beyond what the holidays package computes for AU (1801 to 2100)"),
        ("calendar: x\ntimezone: UTC\nholidays: none\nhours: {mon: 9}\n",
         ":4:", "give a span such as"),
        ("calendar: x\nextends: uk-wales\n", ":2:", "extends unknown calendar 'uk-wales'"),
        ("calendar: x\ntimezone: UTC\n", ":1:", "hours: required"),
        ("calendar: x\nextends: uk-scotland\nclosures: [{from: 2025-01-05}]\n",
         ":3:", "needs both 'from' and 'to'"),
        ("calendar: x\nextends: uk-scotland\nclosures: [{from: 2025-01-05, to: 2025-01-01}]\n",
         ":3:", "'to' is before 'from'"),
        ("calendar: x\nextends: uk-scotland\nclosure: []\n", ":3:", "unknown field"),
        ("calendar: Bad Name\nextends: uk-scotland\n", ":1:", "calendar"),
    ],
)
def test_bad_files_are_located(
    bundled: CalendarRegistry, text: str, where: str, message: str
) -> None:
    with pytest.raises(DefinitionError) as err:
        bundled.with_text(text, "org.yaml")
    assert f"org.yaml{where}" in str(err.value)
    assert message in str(err.value)


def test_unreadable_file(bundled: CalendarRegistry, tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="cannot read calendar file"):
        bundled.with_file(tmp_path / "missing.yaml")


def test_unknown_calendar_names_the_known_ones(bundled: CalendarRegistry) -> None:
    with pytest.raises(UnknownDefinition, match="unknown calendar 'uk-wales'; known: au-act"):
        bundled["uk-wales"]
    assert bundled.get("uk-wales") is None
    assert "uk-wales" not in bundled


def test_rule_functions(bundled: CalendarRegistry) -> None:
    fns = rule_functions(bundled)
    assert sorted(fns) == [
        "add_business_days", "add_business_hours", "business_days_between", "is_business_day",
    ]
    assert fns["add_business_days"](date(2025, 4, 17), 1, "uk-england-wales") == date(2025, 4, 22)
    assert fns["add_business_days"](date(2025, 4, 17), 1, "uk-scotland") == date(2025, 4, 21)
    assert fns["business_days_between"](date(2025, 12, 24), date(2025, 12, 29), "au-nsw") == 1
    assert fns["is_business_day"](date(2025, 11, 4), "au-vic") is False
    due = fns["add_business_hours"](london(2025, 3, 28, 17, 0), 1, "uk-england-wales")
    assert due == utc(2025, 3, 31, 8, 30)
    with pytest.raises(UnknownDefinition, match="calendar 'mars'"):
        fns["is_business_day"](date(2025, 1, 1), "mars")


def test_registry_is_immutable(bundled: CalendarRegistry) -> None:
    with pytest.raises(TypeError):
        bundled["x"] = bundled["au-nt"]  # type: ignore[index]
    assert bundled["au-nt"].add_business_days(date(2025, 8, 1), 1) == date(2025, 8, 5)
    assert timedelta(0) == bundled["au-nt"].business_time_between(
        utc(2025, 8, 3, 0, 0), utc(2025, 8, 3, 12, 0)
    )


def test_a_calendar_in_use_pickles(bundled: CalendarRegistry) -> None:
    # Worker processes may be handed calendars whose tables and lookups are built.
    cal = bundled["uk-england-wales"]
    start = london(2025, 3, 3, 10, 0)
    paused = [(start, start + timedelta(hours=30))]
    due = cal.due_at(start, "2 business days", paused, 0.75)
    unpickled = pickle.loads(pickle.dumps(cal))
    assert unpickled == cal
    assert unpickled.due_at(start, "2 business days", paused, 0.75) == due
