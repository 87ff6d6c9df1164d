"""The data a trigger takes: every field kind validates to plain JSON, exactly as sent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import orjson
import pytest
from pydantic import ValidationError

from csflow.workflows._fields import DataValidator, parse_fields

SPEC = parse_fields({
    "reason": "str",
    "note": "str?",
    "count": {"type": "int", "min": 0, "max": 10},
    "amount": "money",
    "rate": "decimal?",
    "urgent": "bool",
    "on": "date?",
    "at": "datetime?",
    "level": {"type": "enum", "values": ["low", "high"]},
    "options": {
        "type": "list",
        "items": {"type": "object", "fields": {"option": "str", "cost": "money"}},
    },
    "contact": {"type": "object", "fields": {"email": "str", "since": "date?"}},
})


def test_every_kind_comes_out_in_json_form() -> None:
    validate = DataValidator("Every", SPEC)
    sent = {
        "reason": "late",
        "note": None,
        "count": 3,
        "amount": Decimal("12.50"),
        "urgent": True,
        "on": date(2026, 3, 1),
        "at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
        "level": "high",
        "options": [{"option": "refund", "cost": "12.5"}],
        "contact": {"email": "a@example.com", "since": "2025-01-02"},
    }
    assert validate(sent) == {
        "reason": "late",
        "note": None,  # sent as null: kept
        "count": 3,
        "amount": "12.50",
        "urgent": True,
        "on": "2026-03-01",
        "at": "2026-03-01T09:30:00Z",
        "level": "high",
        "options": [{"option": "refund", "cost": "12.5"}],
        "contact": {"email": "a@example.com", "since": "2025-01-02"},
    }  # "rate" was not sent, so it is not there


def test_plain_json_specs_return_what_was_sent_as_a_new_dict() -> None:
    validate = DataValidator("Plain", parse_fields({"message": "str", "tags": "int?"}))
    sent = {"message": "hello"}
    out = validate(sent)
    assert out == sent and out is not sent
    out["message"] = "changed"
    assert sent == {"message": "hello"}
    assert orjson.loads(orjson.dumps(validate({"message": "x", "tags": 2}))) == {
        "message": "x", "tags": 2}


VALID = {"reason": "x", "count": 1, "amount": "1", "urgent": False, "level": "low",
         "options": [], "contact": {"email": "a"}}
DROP = object()


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"typo": 1}, "typo"),  # unknown key
        ({"reason": DROP}, "reason"),  # required key missing
        ({"reason": 5}, "reason"),  # wrong type, not coerced to text
        ({"count": True}, "count"),  # a bool is not an int
        ({"count": 11}, "count"),  # above max
        ({"level": "medium"}, "level"),
        ({"amount": "NaN"}, "amount"),
        ({"contact": {"email": "a", "extra": 1}}, "contact.extra"),
        ({"options": [{"option": "a"}]}, "options.0.cost"),
    ],
)
def test_bad_data_is_refused_naming_the_field(changes: dict[str, object], where: str) -> None:
    validate = DataValidator("Bad", SPEC)
    assert validate(VALID)["reason"] == "x"
    data = {k: v for k, v in (VALID | changes).items() if v is not DROP}
    with pytest.raises(ValidationError) as info:
        validate(data)
    assert where in {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}
