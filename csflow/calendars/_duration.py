"""SLA targets written the way policy people write them: ``2 business days``.

A target is either *business* time (counted only while the calendar says the
desk is open) or *calendar* time (counted on the wall clock, like the FCA's
"8 weeks"). The distinction matters more than the number, so it is part of
the value rather than a flag the caller has to remember.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

Unit = Literal["minutes", "hours", "days", "weeks"]

_TEXT = re.compile(
    r"^\s*(?P<amount>[+-]?\d+(?:\.\d+)?)\s+(?P<business>business\s+)?"
    r"(?P<unit>minute|hour|day|week)s?\s*$",
    re.IGNORECASE,
)
_EXAMPLES = "'2 business days', '8 business hours', '30 business minutes', '14 days' or '8 weeks'"


@dataclass(frozen=True, slots=True)
class BusinessDuration:
    """A whole number of minutes, hours, days or weeks; business or calendar time.

    ``business`` weeks are refused: whether one is five business days or a
    week of business hours is exactly the ambiguity an SLA must not have.
    """

    amount: int
    unit: Unit
    business: bool

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount < 1:
            raise ValueError(
                f"duration amount must be a whole number of at least 1, got {self.amount!r}"
            )
        if self.unit not in ("minutes", "hours", "days", "weeks"):
            raise ValueError(
                f"duration unit must be minutes, hours, days or weeks, not {self.unit!r}"
            )
        if self.business and self.unit == "weeks":
            raise ValueError(
                "'business weeks' is ambiguous; write the target in business days "
                "(e.g. '10 business days') or calendar weeks (e.g. '2 weeks')"
            )

    @classmethod
    def parse(cls, text: str) -> BusinessDuration:
        """Read ``"2 business days"`` and the like; ValueError says what is accepted."""
        match = _TEXT.match(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"cannot read duration {text!r}; write e.g. {_EXAMPLES}")
        raw = match["amount"]
        if not raw.isdigit():
            raise ValueError(
                f"duration {text!r}: the amount must be a whole number of at least 1 "
                "(use a smaller unit, e.g. '90 business minutes' for 1.5 business hours)"
            )
        unit: Unit = f"{match['unit'].lower()}s"  # type: ignore[assignment]
        return cls(int(raw), unit, match["business"] is not None)

    def __str__(self) -> str:
        unit = self.unit if self.amount != 1 else self.unit[:-1]
        return f"{self.amount} {'business ' if self.business else ''}{unit}"

    @classmethod
    def _coerce(cls, value: object) -> BusinessDuration:
        if isinstance(value, BusinessDuration):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        raise ValueError(f"expected a duration as text, e.g. {_EXAMPLES}; got {value!r}")

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # Text in, text out: workflow YAML says "2 business days" and a dumped
        # model should say the same.
        return core_schema.no_info_plain_validator_function(
            cls._coerce, serialization=core_schema.to_string_ser_schema()
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "examples": ["2 business days", "8 business hours", "8 weeks"]}
