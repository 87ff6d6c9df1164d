"""RuleSet: a directory of decision tables, loaded all-or-nothing.

A ruleset is identified by the sha256 of its canonical content (each file's
relative name and exact text, as canonical JSON), so a decision recorded in
an event names exactly the rules then in force, and audit can rebuild that
ruleset from stored texts with :meth:`RuleSet.from_texts` and get the same
version back.

Loading never half-succeeds: every file is parsed and checked, every problem
in every file is collected, and either one :class:`DefinitionError` is raised
or a new, immutable RuleSet is returned. A running engine keeps its old
RuleSet until a new one loads cleanly.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from csflow._canonical import canonical_json
from csflow._yaml import Located, load_yaml, read_definition, validate
from csflow.calendars import CalendarRegistry, rule_functions
from csflow.errors import DefinitionError, InvalidFacts, Problem, UnknownDefinition
from csflow.model import Decision
from csflow.rules._expr import check_functions
from csflow.rules._schema import TableSpec
from csflow.rules._table import DecisionTable, Example, build_table

#: Top-level key of correlation rule files (csflow.rules.correlation), which
#: live in the same policy directories but are not decision tables.
_CORRELATIONS = "correlations"


@dataclass(frozen=True)
class TestOutcome:
    """The result of one ``tests:`` entry of a rule file."""

    __test__ = False  # not a pytest test class, despite the name

    file: str
    line: int | None
    decision: str
    index: int
    name: str | None
    passed: bool
    given: Mapping[str, Any]
    expected: Mapping[str, Any]
    expected_rows: tuple[str, ...] | None
    actual: Mapping[str, Any]
    matched: tuple[str, ...]
    message: str
    explained: Decision | None

    @property
    def label(self) -> str:
        return self.name or f"test {self.index + 1}"


@functools.cache
def calendar_functions() -> Mapping[str, Callable[..., Any]]:
    """``add_business_days(d, n, "uk-england-wales")`` and friends over the bundled calendars."""
    return MappingProxyType(rule_functions(CalendarRegistry.bundled()))


POLICIES = Path(__file__).parents[1] / "policies"


@functools.cache
def bundled_rules() -> RuleSet:
    """Every decision table shipped in ``csflow/policies``, loaded once per
    process (a RuleSet is immutable)."""
    return RuleSet.load(POLICIES)


class RuleSet:
    """An immutable set of decision tables, with the content hash as its version."""

    __slots__ = ("_tables", "files", "names", "version")

    version: str
    files: Mapping[str, str]
    names: tuple[str, ...]
    _tables: Mapping[str, DecisionTable]

    def __init__(self) -> None:
        raise TypeError("use RuleSet.load(path) or RuleSet.from_texts(files)")

    @classmethod
    def load(
        cls, path: str | Path, *, functions: Mapping[str, Callable[..., Any]] | None = None
    ) -> RuleSet:
        """Load a directory (every ``*.yaml`` below it, sorted) or a single file."""
        root = Path(path)
        if root.is_dir():
            paths = sorted(p for p in root.rglob("*.yaml") if p.is_file())
            if not paths:
                raise DefinitionError.at(f"no *.yaml decision tables in {root}", str(root))
            names = [p.relative_to(root).as_posix() for p in paths]
        elif root.is_file():
            paths, names = [root], [root.name]
        else:
            raise DefinitionError.at(f"{root} does not exist; give a rules directory or file",
                                     str(root))
        texts = {
            name: read_definition(p, "rules", name)
            for p, name in zip(paths, names, strict=True)
        }
        return cls.from_texts(texts, functions=functions)

    @classmethod
    def from_texts(
        cls, files: Mapping[str, str], *, functions: Mapping[str, Callable[..., Any]] | None = None
    ) -> RuleSet:
        """Build from ``{relative name: YAML text}`` (how audit restores stored rules)."""
        problems: list[Problem] = []
        docs: dict[str, Located] = {}
        for name, text in sorted(files.items()):
            try:
                doc = load_yaml(text, name)
            except DefinitionError as exc:
                problems.extend(exc.problems)
                continue
            data = doc.data
            if isinstance(data, dict) and _CORRELATIONS in data and "decision" not in data:
                continue  # correlation rules share the policy directories; not a table
            docs[name] = doc
        kept = {name: files[name] for name in docs}
        version = hashlib.sha256(canonical_json(kept)).hexdigest()
        # Business-calendar functions are always available, so a policy pack that
        # counts business days works the same in the engine and in `csflow rules`.
        functions = {**calendar_functions(), **(functions or {})}
        signatures = check_functions(functions)
        tables: dict[str, DecisionTable] = {}
        for name, doc in docs.items():
            try:
                if not isinstance(doc.data, dict):
                    raise DefinitionError.at(
                        "a decision table file is a mapping starting with `decision: <name>`",
                        name, 1, 1)
                table = build_table(doc, validate(TableSpec, doc), version, functions,
                                    signatures)
            except DefinitionError as exc:
                problems.extend(exc.problems)
                continue
            if table.name in tables:
                problems.append(Problem(
                    f"decision {table.name!r} is already defined in {tables[table.name].file}; "
                    "decision names must be unique in a ruleset", name, 1, 1))
                continue
            tables[table.name] = table
        if problems:
            raise DefinitionError(problems)
        self = object.__new__(cls)
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "files", MappingProxyType(kept))
        object.__setattr__(self, "names", tuple(sorted(tables)))
        object.__setattr__(self, "_tables", MappingProxyType(tables))
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a RuleSet is immutable; load a new one")

    def table(self, name: str) -> DecisionTable:
        try:
            return self._tables[name]
        except KeyError:
            raise UnknownDefinition("decision", name, self.names) from None

    def decide(self, name: str, facts: Mapping[str, Any]) -> Decision:
        """Evaluate decision ``name``; ``inputs`` of the result are the typed facts used."""
        try:
            table = self._tables[name]
        except KeyError:
            raise UnknownDefinition("decision", name, self.names) from None
        return table._decide(facts)

    def explain(self, name: str, facts: Mapping[str, Any]) -> Decision:
        """Like :meth:`decide`, with a trace of every row: matched, or the first failing cell."""
        return self.table(name).explain(facts)

    def check(self) -> list[Problem]:
        """Warnings from the static checks (errors already stopped loading)."""
        return [w for name in self.names for w in self._tables[name].warnings]

    def run_tests(self) -> list[TestOutcome]:
        """Run every ``tests:`` entry of every table."""
        return [
            _run(table, example)
            for name in self.names
            for table in (self._tables[name],)
            for example in table.examples
        ]

    def __repr__(self) -> str:
        return f"<RuleSet {self.version[:12]} decisions={list(self.names)}>"


def _run(table: DecisionTable, ex: Example) -> TestOutcome:
    def outcome(passed: bool, message: str, d: Decision | None) -> TestOutcome:
        return TestOutcome(
            table.file, ex.line, table.name, ex.index, ex.name, passed, ex.given, ex.expect,
            ex.matched, {} if d is None else dict(d.outputs), () if d is None else d.matched,
            message, d,
        )

    try:
        d = table.explain(ex.given)
    except InvalidFacts as exc:
        if ex.error is not None and ex.error in exc.input.split(", "):
            return outcome(True, "", None)
        return outcome(False, str(exc), None)
    except DefinitionError as exc:
        return outcome(False, str(exc), None)
    if ex.error is not None:
        return outcome(False, f"expected an error naming {ex.error!r}, got outputs "
                              f"{dict(d.outputs)} (rows: {', '.join(d.matched) or 'none'})", d)
    wrong = [
        f"{k}: expected {_show(v)}, got {_show(d.outputs.get(k))}"
        for k, v in ex.expect.items() if not _same(d.outputs.get(k), v)
    ]
    if ex.matched is not None and tuple(ex.matched) != d.matched:
        wrong.append(f"rows: expected {', '.join(ex.matched) or 'none'}, "
                     f"got {', '.join(d.matched) or 'none'}")
    return outcome(not wrong, "; ".join(wrong), d)


def _same(actual: Any, expected: Any) -> bool:
    # bool is an int in Python; True must not pass for 1.
    return bool(actual == expected) and isinstance(actual, bool) == isinstance(expected, bool)


def _show(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v) if not isinstance(v, str) else repr(v)
