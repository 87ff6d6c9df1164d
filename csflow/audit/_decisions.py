"""Re-deriving recorded decisions: under the rules then in force, or candidate rules.

Every decision the engine takes is recorded with its inputs, outputs,
matched rows and the content hash of the ruleset it used, and the store
keeps each ruleset's files under that hash. So :func:`recheck` can rebuild
exactly the rules in force at the time (never today's files) and
:func:`whatif` can ask candidate rules the same questions, without writing
anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from csflow._canonical import canonical_json
from csflow.audit._fold import fold
from csflow.errors import DefinitionError, InvalidFacts, UnknownDefinition
from csflow.model import Decision, Event
from csflow.rules import RuleSet
from csflow.stores.base import Store


@dataclass(frozen=True)
class DecisionDiff:
    """One recorded decision that came out differently (or could not be re-derived)."""

    case_id: str
    seq: int
    trigger: str
    decision: str
    ruleset_version: str
    inputs: Mapping[str, Any]
    before: Mapping[str, Any]
    after: Mapping[str, Any] | None
    rows_before: tuple[str, ...]
    rows_after: tuple[str, ...] | None
    problem: str | None = None


@dataclass(frozen=True)
class DecisionReport:
    """Per decision name: how many were re-derived and how many differ."""

    ruleset_version: str | None  # the candidate's, for what-if
    checked: Mapping[str, int]
    differences: tuple[DecisionDiff, ...]
    #: ruleset versions that could not be used, with why (unknown, corrupt)
    unusable: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return not self.differences

    @property
    def cases(self) -> tuple[str, ...]:
        """Cases with at least one difference, in the order found."""
        return tuple(dict.fromkeys(d.case_id for d in self.differences))

    def changed(self, name: str) -> int:
        return sum(1 for d in self.differences if d.decision == name)


def recheck(store: Store) -> DecisionReport:
    """Re-evaluate every recorded decision under the ruleset version it records."""
    cache: dict[str, RuleSet | str] = {}

    def rules_for(version: str) -> RuleSet | str:
        if version not in cache:
            cache[version] = _restore(store, version)
        return cache[version]

    def redo(e: Event, d: Decision, data: Mapping[str, Any]) -> DecisionDiff | None:
        rules = rules_for(d.ruleset_version)
        if isinstance(rules, str):
            return _diff(e, d, None, f"ruleset {d.ruleset_version[:12]} {rules}")
        return _compare(e, d, rules, d.inputs)

    report = _walk(store, redo, None)
    unusable = {v: r for v, r in cache.items() if isinstance(r, str)}
    return DecisionReport(None, report.checked, report.differences, unusable)


def whatif(store: Store, candidate: RuleSet) -> DecisionReport:
    """Ask ``candidate`` every recorded question; report answers that would differ.

    The facts are the recorded inputs; an input the candidate adds is taken
    from the case data as it stood after the event (by name), as the engine
    does for decisions without explicit inputs. Nothing is written.
    """

    def redo(e: Event, d: Decision, data: Mapping[str, Any]) -> DecisionDiff | None:
        if d.name not in candidate.names:
            return _diff(e, d, None, "the candidate ruleset has no such decision")
        facts = {**data, "role": e.actor.role if e.actor else None, **d.inputs}
        return _compare(e, d, candidate, facts)

    return _walk(store, redo, candidate.version)


def _restore(store: Store, version: str) -> RuleSet | str:
    """The ruleset stored under ``version``, or why it cannot be used."""
    files = store.load_ruleset(version)
    if files is None:
        return "is unknown: it was never stored (was the engine started with it?)"
    try:
        rules = RuleSet.from_texts(files)
    except DefinitionError as e:
        return f"is corrupt: its stored files do not load ({e.problems[0]})"
    if rules.version != version:
        return f"is corrupt: its stored files hash to {rules.version[:12]}"
    return rules


def _walk(
    store: Store,
    redo: Callable[[Event, Decision, Mapping[str, Any]], DecisionDiff | None],
    version: str | None,
) -> DecisionReport:
    checked: dict[str, int] = {}
    diffs: list[DecisionDiff] = []
    for events in _histories(store):
        data: Mapping[str, Any] = {}
        for e in events:
            data = fold(data, e.data, e.pii)
            for d in e.decisions:
                checked[d.name] = checked.get(d.name, 0) + 1
                diff = redo(e, d, data)
                if diff is not None:
                    diffs.append(diff)
    return DecisionReport(version, checked, tuple(diffs), {})


def _histories(store: Store) -> Iterator[list[Event]]:
    for case_id in store.case_ids():
        yield store.load_events(case_id)


def _compare(
    e: Event, d: Decision, rules: RuleSet, facts: Mapping[str, Any]
) -> DecisionDiff | None:
    try:
        again = rules.decide(d.name, facts)
    except (InvalidFacts, UnknownDefinition) as exc:
        return _diff(e, d, None, str(exc))
    if _json(again.outputs) == _json(d.outputs) and again.matched == d.matched:
        return None
    return _diff(e, d, again, None)


def _diff(e: Event, d: Decision, again: Decision | None, problem: str | None) -> DecisionDiff:
    return DecisionDiff(
        e.case_id, e.seq, e.trigger, d.name, d.ruleset_version, d.inputs, d.outputs,
        None if again is None else _json(again.outputs), d.matched,
        None if again is None else again.matched, problem,
    )


def _json(value: Mapping[str, Any]) -> Any:
    """Outputs as recorded (JSON form), so Decimal('50') equals the stored '50'."""
    return orjson.loads(canonical_json(value))

