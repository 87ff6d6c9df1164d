"""Exact set algebra over cell conditions, for the static checks.

Every cell of a table describes a set of values of one input: a finite set of
enum or bool values (or everything except some strings), or a union of
intervals of numbers, dates or datetimes, plus possibly null. A row is a box:
one such set per input. With intersection, complement and emptiness on these
sets, "is this row covered by the rows above it", "do these two rows
overlap" and "which combinations does no row cover" are answered exactly by
subtracting boxes, instead of by sampling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

Bound = tuple[Any, bool] | None  # (value, closed); None is infinity


@dataclass(frozen=True)
class Finite:
    """``items``, or everything but ``items`` when ``negated``."""

    items: frozenset[Any]
    negated: bool = False

    def __and__(self, other: Finite) -> Finite:
        if not self.negated and not other.negated:
            return Finite(self.items & other.items)
        if not self.negated:
            return Finite(self.items - other.items)
        if not other.negated:
            return Finite(other.items - self.items)
        return Finite(self.items | other.items, True)

    def complement(self) -> Finite:
        return Finite(self.items, not self.negated)

    def empty(self) -> bool:
        return not self.negated and not self.items

    def describe(self, name: str) -> str:
        shown = ", ".join(sorted(_show(v) for v in self.items))
        if self.negated:
            return f"{name} not in {{{shown}}}" if self.items else f"{name} any value"
        return f"{name} = {shown}" if len(self.items) == 1 else f"{name} in {{{shown}}}"


@dataclass(frozen=True)
class Intervals:
    """A union of disjoint, sorted intervals; ``step`` is set for whole numbers and dates."""

    parts: tuple[tuple[Bound, Bound], ...]
    step: Any = None

    @classmethod
    def of(cls, lo: Bound, hi: Bound, step: Any) -> Intervals:
        return cls(_normalise([(lo, hi)], step), step)

    def __and__(self, other: Intervals) -> Intervals:
        out = [
            (_tighter_lo(a_lo, b_lo), _tighter_hi(a_hi, b_hi))
            for a_lo, a_hi in self.parts
            for b_lo, b_hi in other.parts
        ]
        return Intervals(_normalise(out, self.step), self.step)

    def complement(self) -> Intervals:
        out: list[tuple[Bound, Bound]] = []
        prev: Bound = None
        start = True
        for lo, hi in self.parts:
            if lo is not None:
                out.append((None if start else _flip(prev), _flip(lo)))
            start, prev = False, hi
            if hi is None:
                return Intervals(_normalise(out, self.step), self.step)
        out.append((None if start else _flip(prev), None))
        return Intervals(_normalise(out, self.step), self.step)

    def empty(self) -> bool:
        return not self.parts

    def describe(self, name: str) -> str:
        return " or ".join(_interval_text(name, lo, hi) for lo, hi in self.parts)


Core = Finite | Intervals


@dataclass(frozen=True)
class VSet:
    """The values one cell accepts: a core set, and whether null is among them."""

    null: bool
    core: Core

    def __and__(self, other: VSet) -> VSet:
        return VSet(self.null and other.null, self.core & other.core)  # type: ignore[operator]

    def complement(self) -> VSet:
        return VSet(not self.null, self.core.complement())

    def empty(self) -> bool:
        return not self.null and self.core.empty()

    def describe(self, name: str) -> str:
        if self.core.empty():
            return f"{name} is null"
        text = self.core.describe(name)
        return f"{text} or null" if self.null else text


Box = tuple[VSet, ...]


class TooComplex(Exception):
    """The subtraction produced more pieces than is reasonable to check."""


def subtract(box: Box, other: Box, universe: Box) -> list[Box]:
    """``box`` minus ``other``, as disjoint boxes."""
    if any((a & b).empty() for a, b in zip(box, other, strict=True)):
        return [box]
    out = []
    current = list(box)
    for d, (b, u) in enumerate(zip(other, universe, strict=True)):
        rest = current[d] & (u & b.complement())
        if not rest.empty():
            out.append((*current[:d], rest, *current[d + 1:]))
        current[d] = current[d] & b
    return out


def uncovered(box: Box, covers: Sequence[Box], universe: Box, limit: int = 20_000) -> list[Box]:
    """The parts of ``box`` that none of ``covers`` contains (empty list: fully covered)."""
    remaining = [box]
    for cover in covers:
        remaining = [piece for r in remaining for piece in subtract(r, cover, universe)]
        if not remaining:
            return []
        if len(remaining) > limit:
            raise TooComplex
    return remaining


def overlaps(a: Box, b: Box) -> bool:
    return not any((x & y).empty() for x, y in zip(a, b, strict=True))


# ------------------------------------------------------------------ intervals


def _flip(b: Bound) -> Bound:
    return None if b is None else (b[0], not b[1])


def _tighter_lo(a: Bound, b: Bound) -> Bound:
    if a is None or b is None:
        return b if a is None else a
    if a[0] != b[0]:
        return a if a[0] > b[0] else b
    return a if not a[1] else b


def _tighter_hi(a: Bound, b: Bound) -> Bound:
    if a is None or b is None:
        return b if a is None else a
    if a[0] != b[0]:
        return a if a[0] < b[0] else b
    return a if not a[1] else b


def _close(lo: Bound, hi: Bound, step: Any) -> tuple[Bound, Bound]:
    """For whole numbers and dates, make open bounds closed: (3..7) is [4..6]."""
    if step is None:
        return lo, hi
    if lo is not None and not lo[1]:
        lo = (lo[0] + step, True)
    if hi is not None and not hi[1]:
        hi = (hi[0] - step, True)
    return lo, hi


def _normalise(parts: Sequence[tuple[Bound, Bound]], step: Any) -> tuple[tuple[Bound, Bound], ...]:
    kept = []
    for part in parts:
        lo, hi = _close(*part, step)
        if lo is not None and hi is not None and (
            lo[0] > hi[0] or (lo[0] == hi[0] and not (lo[1] and hi[1]))
        ):
            continue
        kept.append((lo, hi))
    kept.sort(key=_lo_key)
    merged: list[tuple[Bound, Bound]] = []
    for lo, hi in kept:
        if merged and _touches(merged[-1][1], lo, step):
            prev_lo, prev_hi = merged[-1]
            merged[-1] = (prev_lo, _looser_hi(prev_hi, hi))
        else:
            merged.append((lo, hi))
    return tuple(merged)


def _lo_key(part: tuple[Bound, Bound]) -> tuple[int, Any, int]:
    lo = part[0]
    # -infinity first; at equal values a closed bound starts earlier.
    return (0, 0, 0) if lo is None else (1, lo[0], 0 if lo[1] else 1)


def _touches(hi: Bound, lo: Bound, step: Any) -> bool:
    if hi is None or lo is None:
        return True
    if step is not None:
        return bool(lo[0] <= hi[0] + step)
    return bool(lo[0] < hi[0] or (lo[0] == hi[0] and (lo[1] or hi[1])))


def _looser_hi(a: Bound, b: Bound) -> Bound:
    if a is None or b is None:
        return None
    if a[0] != b[0]:
        return a if a[0] > b[0] else b
    return a if a[1] else b


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v)


def _interval_text(name: str, lo: Bound, hi: Bound) -> str:
    if lo is None and hi is None:
        return f"{name} any value"
    if lo is None:
        assert hi is not None
        return f"{name} {'<=' if hi[1] else '<'} {_show(hi[0])}"
    if hi is None:
        return f"{name} {'>=' if lo[1] else '>'} {_show(lo[0])}"
    if lo[0] == hi[0]:
        return f"{name} = {_show(lo[0])}"
    return (
        f"{name} in {'[' if lo[1] else '('}{_show(lo[0])}..{_show(hi[0])}{']' if hi[1] else ')'}"
    )


DAY = timedelta(days=1)
