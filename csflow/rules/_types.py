"""The value types a decision table's inputs and outputs may have.

Each type knows three things the rest of the rules layer needs:

* how to turn a fact handed in at run time into the typed value the table
  compares (``coerce``), strictly: money never comes from a float, a date is
  never a datetime, an enum value must be one of its values;
* how to read a literal written in a rule file (``literal``), which is more
  lenient because YAML has already parsed ``12.5`` as a float and
  ``2024-01-31`` as a date;
* which static kind it has (``kind``) so expressions and cells can be type
  checked when the file is loaded rather than when a case hits the row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

TYPE_NAMES: Final = (
    "enum", "bool", "integer", "money", "decimal", "date", "datetime", "string", "list",
)
#: Static kinds used by the expression checker; money and decimal share one.
ORDERED_KINDS: Final = frozenset({"integer", "decimal", "date", "datetime"})
NUMERIC_KINDS: Final = frozenset({"integer", "decimal"})

_INT_TEXT = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class ValueType:
    """A declared type: ``name`` as written, enum ``values``, list ``item`` type."""

    name: str
    values: tuple[str, ...] = ()
    item: ValueType | None = None

    @property
    def kind(self) -> str:
        """The expression-level kind: enum is a string with known values, money a decimal."""
        return {"money": "decimal", "enum": "string"}.get(self.name, self.name)

    @property
    def ordered(self) -> bool:
        return self.kind in ORDERED_KINDS

    def describe(self) -> str:
        if self.name == "enum":
            return f"one of {', '.join(self.values)}"
        if self.name == "list" and self.item is not None:
            return f"a list of {self.item.describe()}"
        return {
            "bool": "true or false",
            "integer": "a whole number",
            "money": "an amount of money (Decimal, int or a numeric string such as '12.50')",
            "decimal": "a decimal number (Decimal, int or a numeric string)",
            "date": "a date (datetime.date or an ISO string such as '2024-01-31')",
            "datetime": "a datetime with a timezone (or an ISO string with an offset)",
            "string": "text",
            "list": "a list",
        }[self.name]

    def coerce(self, value: Any) -> Any:
        """Typed value of a run-time fact; raises ValueError saying what was expected."""
        return _COERCE[self.name](self, value, False)

    def literal(self, value: Any) -> Any:
        """Typed value of a literal written in a rule file (YAML floats and dates allowed)."""
        return _COERCE[self.name](self, value, True)


def _fail(t: ValueType, value: Any) -> ValueError:
    return ValueError(f"expected {t.describe()}, got {type(value).__name__} {value!r}")


def _enum(t: ValueType, value: Any, _lit: bool) -> str:
    if isinstance(value, str) and value in t.values:
        return str(value)
    if isinstance(value, str):
        raise ValueError(f"{value!r} is not one of {', '.join(t.values)}")
    raise _fail(t, value)


def _bool(t: ValueType, value: Any, _lit: bool) -> bool:
    if isinstance(value, bool):
        return value
    raise _fail(t, value)


def _integer(t: ValueType, value: Any, _lit: bool) -> int:
    if isinstance(value, bool):
        raise _fail(t, value)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and _INT_TEXT.match(value.strip()):
        return int(value.strip())
    raise _fail(t, value)


def _decimal(t: ValueType, value: Any, lit: bool) -> Decimal:
    if isinstance(value, bool):
        raise _fail(t, value)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace("_", ""))
        except InvalidOperation:
            raise _fail(t, value) from None
    elif isinstance(value, float) and lit:
        # YAML already turned the author's "12.5" into a float; its repr is
        # the shortest text that round-trips, i.e. what they wrote.
        result = Decimal(repr(value))
    elif isinstance(value, float):
        raise ValueError(
            f"got float {value!r}; floats are inexact for {t.name}, "
            "pass a Decimal or a string such as '12.50'"
        )
    else:
        raise _fail(t, value)
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return result


def _date(t: ValueType, value: Any, _lit: bool) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"got a datetime {value.isoformat()}; pass a date (its .date())")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise _fail(t, value)


def _datetime(t: ValueType, value: Any, _lit: bool) -> datetime:
    result = value
    if isinstance(value, str):
        try:
            result = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _fail(t, value) from None
    if not isinstance(result, datetime):
        raise _fail(t, value)
    if result.tzinfo is None or result.utcoffset() is None:
        raise ValueError(f"{value!r} has no timezone; give an offset such as +00:00")
    return result


def _string(t: ValueType, value: Any, _lit: bool) -> str:
    if isinstance(value, str):
        return str(value)
    raise _fail(t, value)


def _list(t: ValueType, value: Any, lit: bool) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise _fail(t, value)
    if t.item is None:
        return list(value)
    coerce = _COERCE[t.item.name]
    out = []
    for i, item in enumerate(value):
        try:
            out.append(coerce(t.item, item, lit))
        except ValueError as exc:
            raise ValueError(f"item {i}: {exc}") from None
    return out


_COERCE: Final[dict[str, Callable[[ValueType, Any, bool], Any]]] = {
    "enum": _enum,
    "bool": _bool,
    "integer": _integer,
    "money": _decimal,
    "decimal": _decimal,
    "date": _date,
    "datetime": _datetime,
    "string": _string,
    "list": _list,
}
