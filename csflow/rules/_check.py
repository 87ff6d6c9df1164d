"""Static checks over a table's rows: dead rows, overlaps, gaps.

Rows are turned into boxes (one exact value set per fact, see ``_sets``) and
compared by box subtraction, so the findings are exact for enums, booleans,
strings, numbers, money, dates and datetimes. Two kinds of fact are not
modelled exactly, and the checks stay on the safe side of them:

* list inputs: a row with a condition on a list only counts as covering
  another row if the two conditions are written the same way;
* computed facts depend on the inputs, which the boxes cannot see, so an
  overlap that needs a computed fact is reported as "may overlap" (a
  warning), and gaps are worded as possibilities. A row covered by the rows
  above it is dead whatever the dependency, so that stays an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from csflow.rules._cells import AnyValue, Cell, universe, value_set
from csflow.rules._sets import Box, TooComplex, VSet, overlaps, uncovered
from csflow.rules._types import ValueType

MAX_GAPS_SHOWN = 5


@dataclass(frozen=True)
class Fact:
    name: str
    type: ValueType
    nullable: bool
    computed: bool


@dataclass(frozen=True)
class RowShape:
    id: str
    cells: Mapping[str, tuple[Cell, str]]  # fact -> (parsed cell, text as written)
    outputs: Mapping[str, Any]


@dataclass(frozen=True)
class Finding:
    error: bool
    row: int | None  # index of the row to point at (None: the table's rules)
    message: str


def analyse(facts: Sequence[Fact], rows: Sequence[RowShape], hit_policy: str) -> list[Finding]:
    exact = [f for f in facts if universe(f.type, f.nullable) is not None]
    whole: Box = tuple(universe(f.type, f.nullable) for f in exact)  # type: ignore[misc]
    opaque = [f.name for f in facts if universe(f.type, f.nullable) is None]
    boxes = [_box(row, exact, whole) for row in rows]
    findings: list[Finding] = []
    try:
        if hit_policy == "first":
            findings += _dead_rows(rows, boxes, whole, opaque)
        if hit_policy in ("unique", "any"):
            findings += _overlaps(rows, boxes, exact, opaque, hit_policy)
        findings += _gaps(rows, boxes, whole, exact, opaque)
    except TooComplex:
        findings.append(Finding(False, None, "the table is too large to check for gaps and "
                                             "overlaps exactly; consider splitting it"))
    return findings


def _box(row: RowShape, exact: Sequence[Fact], whole: Box) -> Box:
    out = []
    for fact, u in zip(exact, whole, strict=True):
        cell = row.cells.get(fact.name)
        out.append(u if cell is None else value_set(cell[0], fact.type, u))
    return tuple(out)


def _same_on(a: RowShape, b: RowShape, opaque: Sequence[str], *, covers: bool) -> bool:
    """Whether ``a`` surely covers (or may overlap) ``b`` on the unmodelled facts."""
    for name in opaque:
        ca, cb = a.cells.get(name), b.cells.get(name)
        if ca is None or isinstance(ca[0], AnyValue):
            continue
        if cb is None or isinstance(cb[0], AnyValue):
            if covers:
                return False
            continue
        if ca[1] != cb[1]:
            return False
    return True


def _dead_rows(
    rows: Sequence[RowShape], boxes: Sequence[Box], whole: Box, opaque: Sequence[str]
) -> list[Finding]:
    out = []
    for i, row in enumerate(rows):
        above = [
            j for j in range(i)
            if _same_on(rows[j], row, opaque, covers=True) and overlaps(boxes[j], boxes[i])
        ]
        if not uncovered(boxes[i], [boxes[j] for j in above], whole):
            by = ", ".join(repr(rows[j].id) for j in above)
            out.append(Finding(
                True, i,
                f"row {row.id!r} can never fire: row(s) {by} above it match every case it "
                "matches (hit policy first); remove it or move it above them",
            ))
    return out


def _overlaps(
    rows: Sequence[RowShape], boxes: Sequence[Box], exact: Sequence[Fact],
    opaque: Sequence[str], hit_policy: str,
) -> list[Finding]:
    computed = {f.name for f in exact if f.computed}
    out = []
    for i in range(len(rows)):
        for j in range(i):
            a, b = rows[j], rows[i]
            if hit_policy == "any" and a.outputs == b.outputs:
                continue
            if not (_same_on(a, b, opaque, covers=False) and overlaps(boxes[j], boxes[i])):
                continue
            common = tuple(x & y for x, y in zip(boxes[j], boxes[i], strict=True))
            where = _describe(common, exact) or "every case"
            unsure = any(n in computed for n in (*a.cells, *b.cells))
            what = ("both match" if hit_policy == "unique"
                    else "both match but give different outputs")
            out.append(Finding(
                not unsure, i,
                f"rows {a.id!r} and {b.id!r} {'may ' if unsure else ''}{what} when {where} "
                f"(hit policy {hit_policy}); make their conditions exclusive",
            ))
    return out


def _gaps(
    rows: Sequence[RowShape], boxes: Sequence[Box], whole: Box, exact: Sequence[Fact],
    opaque: Sequence[str],
) -> list[Finding]:
    usable = [
        b for row, b in zip(rows, boxes, strict=True)
        if all(row.cells.get(n) is None or isinstance(row.cells[n][0], AnyValue) for n in opaque)
    ]
    holes = uncovered(whole, usable, whole)
    if not holes:
        return []
    shown = "; ".join(_describe(h, exact) or "every case" for h in holes[:MAX_GAPS_SHOWN])
    more = f" (and {len(holes) - MAX_GAPS_SHOWN} more)" if len(holes) > MAX_GAPS_SHOWN else ""
    maybe = "possibly " if any(f.computed for f in exact) or opaque else ""
    return [Finding(
        False, None,
        f"{maybe}no row matches when: {shown}{more}; add rows for these cases or a catch-all "
        "last row, or the decision returns no outputs",
    )]


def _describe(box: Box, exact: Sequence[Fact]) -> str:
    parts = []
    for fact, s in zip(exact, box, strict=True):
        u = universe(fact.type, fact.nullable)
        if u is not None and _equal(s, u):
            continue
        parts.append(s.describe(fact.name))
    return ", ".join(parts)


def _equal(a: VSet, b: VSet) -> bool:
    return (a & b.complement()).empty() and (b & a.complement()).empty()
