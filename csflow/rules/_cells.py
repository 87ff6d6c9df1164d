"""Cells: the unary tests written under ``when:``.

A cell tests one input. The forms, from the policy author's side::

    -                     any value (same as leaving the input out)
    agent                 equals this value
    agent, manager        any of these (a YAML list works too)
    "<= 50"  "> 0"        comparisons (numbers, money, dates, datetimes)
    "[10..50)"            a range; [ ] include the end, ( ) exclude it
    "!= agent"            anything but this value
    "not(agent, manager)" anything the tests inside do not match, null included
    null                  the (optional) input has no value

A cell is parsed against its input's type, so ``amount: "<= fifty"`` or
``role: agnet`` fail when the file loads. Each parsed cell can then say three
things: its Python condition (for the generated evaluator), and the exact set
of values it accepts (for the static checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from csflow.rules._expr import Namespace
from csflow.rules._sets import DAY, Finite, Intervals, VSet
from csflow.rules._types import ValueType

_CMP = re.compile(r"^(<=|>=|!=|<|>|=)\s*(.*)$", re.S)
_RANGE = re.compile(r"^([\[(])\s*(.+?)\s*\.\.\s*(.+?)\s*([\])])$", re.S)
_NOT = re.compile(r"^not\s*\((.*)\)$", re.S)
_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">="}


class CellError(ValueError):
    """A cell that cannot be read for its input's type."""


@dataclass(frozen=True)
class Cell:
    """Base of the parsed cell forms."""


@dataclass(frozen=True)
class AnyValue(Cell):
    pass


@dataclass(frozen=True)
class IsNull(Cell):
    pass


@dataclass(frozen=True)
class Eq(Cell):
    value: Any


@dataclass(frozen=True)
class Cmp(Cell):
    op: str
    value: Any


@dataclass(frozen=True)
class Range(Cell):
    lo: Any
    lo_closed: bool
    hi: Any
    hi_closed: bool


@dataclass(frozen=True)
class AnyOf(Cell):
    tests: tuple[Cell, ...]


@dataclass(frozen=True)
class NotCell(Cell):
    inner: Cell


def cell_text(raw: Any) -> str:
    """How a cell is shown back to people (traces, explain)."""
    if raw is None:
        return "null"
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, list):
        return ", ".join(cell_text(x) for x in raw)
    if isinstance(raw, (date, datetime)):
        return raw.isoformat()
    return str(raw)


def parse_cell(raw: Any, t: ValueType) -> Cell:
    """Parse a YAML cell value for an input of type ``t``; raises CellError."""
    if isinstance(raw, list):
        if not raw:
            raise CellError("an empty list matches nothing; list the values or write '-'")
        return _any_of([parse_cell(x, t) for x in raw])
    if raw is None:
        return IsNull()
    if isinstance(raw, str):
        return _parse_text(raw.strip(), t)
    if isinstance(raw, (dict,)):
        raise CellError("a cell is a value or a test such as '<= 50', not a mapping")
    return Eq(_literal(raw, t))


def _parse_text(text: str, t: ValueType) -> Cell:
    if text in ("-", ""):
        if text == "":
            raise CellError("empty cell; write '-' for any value")
        return AnyValue()
    m = _NOT.match(text)
    if m:
        return NotCell(_alternatives(m.group(1), t))
    return _alternatives(text, t)


def _alternatives(text: str, t: ValueType) -> Cell:
    parts = _split(text)
    if any(not p.strip() for p in parts):
        raise CellError(f"{text!r} has an empty alternative; remove the extra comma")
    return _any_of([_one(p.strip(), t) for p in parts])


def _any_of(tests: list[Cell]) -> Cell:
    if any(isinstance(x, AnyValue) for x in tests):
        raise CellError("'-' (any value) cannot be one of several alternatives")
    return tests[0] if len(tests) == 1 else AnyOf(tuple(tests))


def _one(text: str, t: ValueType) -> Cell:
    if text == "null":
        return IsNull()
    if text == "-":
        return AnyValue()
    if _NOT.match(text):
        raise CellError("not(...) must be the whole cell")
    m = _RANGE.match(text)
    if m:
        _ordered(t, "a range")
        lo, hi = _literal(m.group(2), t), _literal(m.group(3), t)
        lo_closed, hi_closed = m.group(1) == "[", m.group(4) == "]"
        if lo > hi or (lo == hi and not (lo_closed and hi_closed)):
            raise CellError(f"range {text!r} is empty; the low end must come first")
        return Range(lo, lo_closed, hi, hi_closed)
    m = _CMP.match(text)
    if m:
        op, rest = m.group(1), m.group(2).strip()
        if not rest:
            raise CellError(f"{text!r} compares with nothing; add a value after {op!r}")
        if op == "=":
            return Eq(_literal(rest, t))
        if op == "!=":
            return NotCell(Eq(_literal(rest, t)))
        _ordered(t, f"{op!r}")
        return Cmp(op, _literal(rest, t))
    return Eq(_literal(text, t))


def _ordered(t: ValueType, what: str) -> None:
    if not t.ordered:
        raise CellError(
            f"{what} needs a number, money, date or datetime input, not {t.name}; "
            "list the values instead"
        )


def _literal(raw: Any, t: ValueType) -> Any:
    target = t.item if t.name == "list" and t.item is not None else t
    if t.name == "list" and t.item is None:
        target = ValueType("string")
    value = raw
    if isinstance(raw, str) and len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        value = raw[1:-1]
    elif isinstance(raw, str) and target.name == "bool" and raw in ("true", "false"):
        value = raw == "true"
    try:
        return target.literal(value)
    except ValueError as exc:
        raise CellError(str(exc)) from None


def _split(text: str) -> list[str]:
    """Split on commas that are not inside quotes or brackets."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


# ------------------------------------------------------------------ generation


def condition(cell: Cell, var: str, t: ValueType, nullable: bool, ns: Namespace) -> str | None:
    """Python condition text for ``cell`` on variable ``var`` (None: always true)."""
    if isinstance(cell, AnyValue):
        return None
    if t.name == "list":
        return _list_condition(cell, var, nullable, ns)
    if isinstance(cell, IsNull):
        return f"{var} is None"
    if isinstance(cell, Eq):
        if isinstance(cell.value, bool):
            return f"{var} is {cell.value!r}"
        return f"{var} == {ns.const(cell.value)}"
    guard = f"{var} is not None and " if nullable else ""
    if isinstance(cell, Cmp):
        return f"({guard}{var} {_OPS[cell.op]} {ns.const(cell.value)})"
    if isinstance(cell, Range):
        lo = "<=" if cell.lo_closed else "<"
        hi = "<=" if cell.hi_closed else "<"
        return f"({guard}{ns.const(cell.lo)} {lo} {var} {hi} {ns.const(cell.hi)})"
    if isinstance(cell, NotCell):
        inner = condition(cell.inner, var, t, nullable, ns)
        return f"(not {inner})"
    assert isinstance(cell, AnyOf)
    if all(isinstance(x, Eq) for x in cell.tests):
        values = frozenset(x.value for x in cell.tests if isinstance(x, Eq))
        return f"{var} in {ns.const(values)}"
    return "(" + " or ".join(str(condition(x, var, t, nullable, ns)) for x in cell.tests) + ")"


def _list_condition(cell: Cell, var: str, nullable: bool, ns: Namespace) -> str:
    """On a list input a value means "the list contains it"."""
    guard = f"{var} is not None and " if nullable else ""
    if isinstance(cell, IsNull):
        return f"{var} is None"
    if isinstance(cell, Eq):
        return f"({guard}{ns.const(cell.value)} in {var})"
    if isinstance(cell, NotCell):
        return f"(not {_list_condition(cell.inner, var, nullable, ns)})"
    if isinstance(cell, AnyOf):
        return "(" + " or ".join(_list_condition(x, var, nullable, ns) for x in cell.tests) + ")"
    raise CellError("a list input only takes values, alternatives, not(...) and null")


# -------------------------------------------------------------------- analysis


def universe(t: ValueType, nullable: bool) -> VSet | None:
    """Every value an input of type ``t`` may have; None where sets are not modelled."""
    if t.name == "enum":
        return VSet(nullable, Finite(frozenset(t.values)))
    if t.name == "bool":
        return VSet(nullable, Finite(frozenset({True, False})))
    if t.name == "string":
        return VSet(nullable, Finite(frozenset(), True))
    if t.ordered:
        return VSet(nullable, Intervals.of(None, None, _step(t)))
    return None


def _step(t: ValueType) -> Any:
    return {"integer": 1, "date": DAY}.get(t.name)


def value_set(cell: Cell, t: ValueType, whole: VSet) -> VSet:
    """The exact set of values ``cell`` accepts, within ``whole``."""
    nothing = VSet(False, whole.core & whole.core.complement())  # type: ignore[operator]
    if isinstance(cell, AnyValue):
        return whole
    if isinstance(cell, IsNull):
        return VSet(True, nothing.core)
    if isinstance(cell, NotCell):
        return whole & value_set(cell.inner, t, whole).complement()
    if isinstance(cell, AnyOf):
        result = nothing
        for x in cell.tests:
            # a | b == not(not a & not b); the algebra only needs & and complement.
            neither = result.complement() & value_set(x, t, whole).complement()
            result = whole & neither.complement()
        return result
    if isinstance(whole.core, Finite):
        assert isinstance(cell, Eq)
        return VSet(False, whole.core & Finite(frozenset({cell.value})))
    step = _step(t)
    if isinstance(cell, Eq):
        core = Intervals.of((cell.value, True), (cell.value, True), step)
    elif isinstance(cell, Cmp):
        bound = (cell.value, "=" in cell.op)
        below = "<" in cell.op
        core = Intervals.of(None if below else bound, bound if below else None, step)
    else:
        assert isinstance(cell, Range)
        core = Intervals.of((cell.lo, cell.lo_closed), (cell.hi, cell.hi_closed), step)
    return VSet(False, core)
