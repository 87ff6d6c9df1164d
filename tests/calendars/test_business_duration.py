"""SLA targets as text: parsing, printing, and use as a pydantic field."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from csflow.calendars import BusinessDuration


@pytest.mark.parametrize(
    ("text", "value", "printed"),
    [
        ("2 business days", BusinessDuration(2, "days", True), "2 business days"),
        ("1 Business Day", BusinessDuration(1, "days", True), "1 business day"),
        ("8 business hours", BusinessDuration(8, "hours", True), "8 business hours"),
        (" 30  business minutes ", BusinessDuration(30, "minutes", True), "30 business minutes"),
        ("14 days", BusinessDuration(14, "days", False), "14 days"),
        ("8 weeks", BusinessDuration(8, "weeks", False), "8 weeks"),
        ("1 hours", BusinessDuration(1, "hours", False), "1 hour"),
    ],
)
def test_parse_and_print(text: str, value: BusinessDuration, printed: str) -> None:
    assert BusinessDuration.parse(text) == value
    assert str(value) == printed
    assert BusinessDuration.parse(printed) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("two business days", "cannot read duration"),
        ("2 business fortnights", "cannot read duration"),
        ("2business days", "cannot read duration"),
        ("1.5 business hours", "whole number .* '90 business minutes'"),
        ("0 days", "at least 1"),
        ("-3 business days", "whole number"),
        ("2 business weeks", "'business weeks' is ambiguous"),
    ],
)
def test_bad_text_says_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessDuration.parse(text)


class _Sla(BaseModel):
    target: BusinessDuration


def test_as_a_pydantic_field() -> None:
    sla = _Sla.model_validate({"target": "2 business days"})
    assert sla.target == BusinessDuration(2, "days", True)
    assert sla.model_dump(mode="json") == {"target": "2 business days"}
    assert _Sla(target=BusinessDuration(8, "weeks", False)).target.unit == "weeks"
    assert _Sla.model_json_schema()["properties"]["target"]["type"] == "string"
    with pytest.raises(ValidationError, match="cannot read duration 'soon'"):
        _Sla.model_validate({"target": "soon"})
    with pytest.raises(ValidationError, match="expected a duration as text"):
        _Sla.model_validate({"target": 5})
