"""Compile one decision-table file into a fast, checked :class:`DecisionTable`.

Loading does all the work once: every name, cell, expression, output and
test is checked against the declared types (collecting every problem with
its file:line), the static checks run, and the table is written out as one
Python function per purpose:

* ``decide(facts)`` validates the facts inline (a class check per input on
  the happy path) and tests the rows with plain ``if`` statements; under hit
  policy ``first`` it returns at the first hit. This is what the engine calls
  per transition, so it stays within a small factor of a hand-written
  ``if/elif``.
* ``prepare(facts)`` is the same validation, returning the facts, and the
  ``_t*`` functions test one cell each; ``explain`` uses them to rebuild the
  why-not trace, which ``decide`` never pays for.

The generated source only contains generated identifiers; every value from
the file (names, literals, functions) is bound in the namespace it runs in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from csflow._yaml import Located
from csflow.errors import CalendarError, DefinitionError, InvalidFacts, Problem
from csflow.model import Decision, RowCheck
from csflow.rules._cells import Cell, CellError, cell_text, condition, parse_cell
from csflow.rules._check import Fact, RowShape, analyse
from csflow.rules._expr import (
    KEYWORDS,
    Compiled,
    Compiler,
    ExprError,
    Kind,
    Namespace,
    Var,
)
from csflow.rules._schema import (
    ComputedSpec,
    InputSpec,
    ItemSpec,
    OutputSpec,
    TableSpec,
)
from csflow.rules._types import NUMERIC_KINDS, ValueType

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING: Final = object()
#: What a computation over valid facts can still raise (division by zero,
#: overflow, a date out of range, a user function refusing its arguments).
_RUNTIME_ERRORS: Final = (ArithmeticError, ValueError, TypeError, OverflowError)
#: Fast "already the right type" checks, per type, on the happy path.
_FAST: Final = {
    "enum": "{v}.__class__ is not str or {v} not in {e}",
    "bool": "{v}.__class__ is not bool",
    "integer": "{v}.__class__ is not int",
    "money": "{v}.__class__ is not _Decimal or not {v}.is_finite()",
    "decimal": "{v}.__class__ is not _Decimal or not {v}.is_finite()",
    "date": "{v}.__class__ is not _date",
    "datetime": "{v}.__class__ is not _datetime or {v}.utcoffset() is None",
    "string": "{v}.__class__ is not str",
    "list": "True",
}
EXPRESSION_MARK: Final = "="

# Decision is a NamedTuple, so the generated code builds it inline with
# tuple.__new__: one allocation, no extra call frame, no keyword handling.
_NEW_DECISION: Final = "_new(_D, (_name, _ver, inputs, {outputs}, {matched}, _title, ()))"


@dataclass(frozen=True)
class Input:
    """A declared input: its type, and what happens when a fact is absent."""

    name: str
    type: ValueType
    optional: bool
    default: Any
    has_default: bool

    @property
    def nullable(self) -> bool:
        return self.optional and not self.has_default


@dataclass(frozen=True)
class Computed:
    """A fact computed from the inputs by an expression."""

    name: str
    expr: str
    type: ValueType
    nullable: bool


@dataclass(frozen=True)
class Constraint:
    """Facts that cannot all be true together, e.g. goods returned before the repair was asked.

    ``check`` must hold for the facts to make sense; when it is false the call
    fails with :class:`InvalidFacts` naming ``facts``. A check over a missing
    optional fact does not apply (null in, null out).
    """

    check: str
    message: str
    facts: tuple[str, ...]


@dataclass(frozen=True)
class Output:
    name: str
    type: ValueType
    optional: bool


@dataclass(frozen=True)
class CellTest:
    """One non-trivial cell of a row, with its compiled test for ``explain``."""

    fact: str
    text: str
    cell: Cell
    slot: int
    test: Callable[[Any], bool]


@dataclass(frozen=True)
class Row:
    id: str
    line: int | None
    cells: tuple[CellTest, ...]
    then: Mapping[str, Any]  # literal values, or expression text starting with "="
    source: str | None
    note: str | None


@dataclass(frozen=True)
class Example:
    """One ``tests:`` entry, with its facts and expectations already typed."""

    index: int
    name: str | None
    line: int | None
    given: Mapping[str, Any]
    expect: Mapping[str, Any]
    matched: tuple[str, ...] | None
    error: str | None = None  # the fact an InvalidFacts error must name instead of outputs


class DecisionTable:
    """A loaded, compiled decision table. Immutable; get one from ``RuleSet.table``."""

    __slots__ = (
        "_decide", "_empty", "_outs", "_prepare", "aggregate", "computed", "constraints",
        "description", "examples", "file", "hit_policy", "inputs", "name", "outputs", "rows",
        "ruleset_version", "title", "version", "warnings",
    )

    name: str
    title: str
    version: str | None
    description: str | None
    hit_policy: str
    aggregate: str | None
    file: str
    ruleset_version: str
    inputs: tuple[Input, ...]
    computed: tuple[Computed, ...]
    constraints: tuple[Constraint, ...]
    outputs: tuple[Output, ...]
    rows: tuple[Row, ...]
    examples: tuple[Example, ...]
    warnings: tuple[Problem, ...]
    _decide: Callable[[Mapping[str, Any]], Decision]
    _prepare: Callable[[Mapping[str, Any]], tuple[dict[str, Any], tuple[Any, ...]]]
    _outs: tuple[Callable[..., dict[str, Any]], ...]
    _empty: Callable[[], dict[str, Any]]

    def decide(self, facts: Mapping[str, Any]) -> Decision:
        """Evaluate without a trace (the engine's hot path)."""
        return self._decide(facts)

    def facts(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        """The validated inputs plus every computed fact, by name (for explain output)."""
        _, env = self._prepare(facts)
        names = [i.name for i in self.inputs] + [c.name for c in self.computed]
        return dict(zip(names, env, strict=True))

    def explain(self, facts: Mapping[str, Any]) -> Decision:
        """Evaluate every row and say, for each, which cell failed and on what value."""
        inputs, env = self._prepare(facts)
        trace: list[RowCheck] = []
        hits: list[int] = []
        for index, row in enumerate(self.rows):
            for cell in row.cells:
                seen = env[cell.slot]
                if not cell.test(seen):
                    trace.append(RowCheck(row.id, False, cell.fact, cell.text, seen))
                    break
            else:
                trace.append(RowCheck(row.id, True))
                hits.append(index)
        return self._finish(inputs, hits, env, tuple(trace))

    def _finish(
        self, inputs: dict[str, Any], hits: list[int], env: tuple[Any, ...],
        trace: tuple[RowCheck, ...] = (),
    ) -> Decision:
        """Turn the rows that matched into outputs, as the hit policy says."""
        policy = self.hit_policy
        if not hits:
            return self._decision(inputs, self._empty(), (), trace)
        if policy == "first":
            hits = hits[:1]
        results = [self._outs[i](*env) for i in hits]
        ids = tuple(self.rows[i].id for i in hits)
        if policy in ("first", "unique", "any"):
            for i, result in zip(hits[1:], results[1:], strict=True):
                if policy == "unique" or result != results[0]:
                    self._clash(hits[0], i, inputs)
            return self._decision(inputs, results[0], ids if policy == "any" else ids[:1], trace)
        if policy == "priority":
            best = min(range(len(hits)), key=lambda k: self._rank(results[k]))
            return self._decision(inputs, results[best], (ids[best],), trace)
        return self._decision(inputs, self._collect(results, len(hits)), ids, trace)

    def _rank(self, outputs: Mapping[str, Any]) -> tuple[int, ...]:
        # Earlier in an enum output's `values` list means higher priority.
        return tuple(
            o.type.values.index(outputs[o.name]) if outputs[o.name] is not None
            else len(o.type.values)
            for o in self.outputs if o.type.name == "enum"
        )

    def _collect(self, results: list[dict[str, Any]], hits: int) -> dict[str, Any]:
        if self.aggregate is None:
            return {o.name: [r[o.name] for r in results] for o in self.outputs}
        (out,) = self.outputs
        if self.aggregate == "count":
            return {out.name: hits}
        values = [r[out.name] for r in results if r[out.name] is not None]
        if self.aggregate == "sum":
            return {out.name: sum(values, _zero(out.type))}
        pick = min if self.aggregate == "min" else max
        return {out.name: pick(values) if values else None}

    def _clash(self, first: int, other: int, inputs: Mapping[str, Any]) -> None:
        a, b = self.rows[first], self.rows[other]
        what = "both match" if self.hit_policy == "unique" else "match with different outputs"
        raise DefinitionError.at(
            f"decision {self.name!r}: rows {a.id!r} and {b.id!r} {what} for {dict(inputs)} "
            f"(hit policy {self.hit_policy}); make their conditions exclusive",
            self.file, b.line,
        )

    def _decision(
        self, inputs: dict[str, Any], outputs: dict[str, Any], matched: tuple[str, ...],
        trace: tuple[RowCheck, ...],
    ) -> Decision:
        return Decision(
            self.name, self.ruleset_version, inputs, outputs, matched, self.title, trace
        )

    def __repr__(self) -> str:
        return f"<DecisionTable {self.name!r} {self.hit_policy} rows={len(self.rows)}>"


def _zero(t: ValueType) -> int | Decimal:
    return 0 if t.name == "integer" else Decimal(0)


# ------------------------------------------------------------------ building


class _Builder:
    """Checks one parsed file against its own declarations and compiles it."""

    def __init__(
        self, doc: Located, spec: TableSpec, ruleset_version: str,
        functions: Mapping[str, Callable[..., Any]], signatures: Mapping[str, Any],
    ) -> None:
        self.doc, self.spec, self.ruleset_version = doc, spec, ruleset_version
        self.functions, self.signatures = functions, signatures
        self.problems: list[Problem] = []
        self.ns = Namespace()
        self.ns.values.update({
            "_Decimal": Decimal, "_date": date, "_datetime": datetime, "_MISSING": _MISSING,
            "_D": Decision, "_new": tuple.__new__, "_name": spec.decision,
            "_ver": ruleset_version,
            "_title": spec.title, "_ERRORS": _RUNTIME_ERRORS, "_CALENDAR": CalendarError,
        })
        self.scope: dict[str, Var] = {}
        self.slots: dict[str, int] = {}

    def fail(self, path: Sequence[str | int], message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    # -- declarations -------------------------------------------------------

    def value_type(
        self, spec: InputSpec | OutputSpec | ItemSpec | ComputedSpec,
        path: tuple[str | int, ...],
    ) -> ValueType:
        assert spec.type is not None
        values = tuple(spec.values or ())
        if spec.type == "enum":
            if not values:
                self.fail(path, "an enum needs `values:`, the list of allowed values")
            elif len(set(values)) != len(values):
                self.fail((*path, "values"), "enum values must not repeat")
        elif values:
            self.fail((*path, "values"), f"`values:` only applies to enums, not {spec.type}")
        item = None
        of = getattr(spec, "of", None)
        if of is not None:
            if spec.type != "list":
                self.fail((*path, "of"), "`of:` only applies to lists")
            item = self.value_type(of, (*path, "of"))
            if item.name == "list":
                self.fail((*path, "of"), "lists of lists are not supported")
        return ValueType(spec.type, values, item)

    def name_ok(self, name: str, path: tuple[str | int, ...], what: str) -> bool:
        if not _IDENT.match(name) or name in KEYWORDS:
            self.fail(path, f"{what} name {name!r} must be a plain identifier "
                            "(letters, digits, _; not a keyword) so expressions can use it")
            return False
        return True

    def inputs(self) -> list[Input]:
        out: list[Input] = []
        for name, spec in self.spec.inputs.items():
            path = ("inputs", name)
            self.name_ok(name, path, "input")
            t = self.value_type(spec, path)
            has_default = "default" in spec.model_fields_set
            default = None
            if has_default and spec.default is not None:
                try:
                    default = t.literal(spec.default)
                except ValueError as exc:
                    self.fail((*path, "default"), f"default for {name!r}: {exc}")
            inp = Input(name, t, spec.optional or has_default, default,
                        has_default and spec.default is not None)
            self.slots[name] = len(self.slots)
            self.scope[name] = Var(f"v{len(out)}", Kind(t.kind, t.values), inp.nullable)
            out.append(inp)
        return out

    def constraints(self) -> list[tuple[Constraint, Compiled]]:
        """Compiled over the inputs only: they are checked before anything is computed
        from facts that cannot be true together."""
        out: list[tuple[Constraint, Compiled]] = []
        inputs = [x.name for x in self.inputs_]
        for j, spec in enumerate(self.spec.constraints):
            path = ("constraints", j)
            compiled = self.expression(spec.check, (*path, "check"))
            if compiled is None:
                continue
            if compiled.kind.name not in ("bool", "any"):
                self.fail((*path, "check"), f"a constraint is a true/false test, but "
                                            f"{spec.check!r} computes {compiled.kind}")
                continue
            if spec.fact is not None and spec.fact not in inputs:
                self.fail((*path, "fact"), f"unknown input {spec.fact!r}; declared inputs: "
                                           f"{', '.join(inputs)}")
                continue
            facts = (spec.fact,) if spec.fact else tuple(n for n in inputs if n in compiled.uses)
            out.append((Constraint(spec.check, spec.message, facts), compiled))
        return out

    def computed(self) -> list[tuple[Computed, Compiled]]:
        out: list[tuple[Computed, Compiled]] = []
        for name, raw in self.spec.computed.items():
            path = ("computed", name)
            spec = raw if isinstance(raw, ComputedSpec) else ComputedSpec(expr=raw)
            if not self.name_ok(name, path, "computed fact"):
                continue
            if name in self.scope:
                self.fail(path, f"computed fact {name!r} has the name of an input; rename it")
                continue
            compiled = self.expression(spec.expr, (*path, "expr") if spec is raw else path)
            if compiled is None:
                continue
            declared = self.value_type(spec, path) if spec.type is not None else None
            t = declared or _type_of(compiled.kind)
            if t is None:
                self.fail(path, f"the type of {name!r} cannot be inferred from {spec.expr!r}; "
                                "write it as {expr: ..., type: ...}")
                continue
            if declared is not None and not _fits(compiled.kind, declared):
                self.fail(path, f"{name!r} is declared {declared.name} but computes "
                                f"{compiled.kind}")
                continue
            nullable = any(self.scope[u].nullable for u in compiled.uses)
            fact = Computed(name, spec.expr, t, nullable)
            self.slots[name] = len(self.slots)
            self.scope[name] = Var(f"w{len(out)}", Kind(t.kind, t.values), nullable)
            out.append((fact, compiled))
        return out

    def expression(self, text: str, path: tuple[str | int, ...]) -> Compiled | None:
        compiler = Compiler(self.scope, self.ns, self.functions, self.signatures)
        try:
            return compiler.compile(text)
        except ExprError as exc:
            self.fail(path, f"{exc} (at character {exc.pos + 1} of {text!r})")
            return None

    def outputs(self) -> list[Output]:
        out = []
        for name, spec in self.spec.outputs.items():
            path = ("outputs", name)
            self.name_ok(name, path, "output")
            out.append(Output(name, self.value_type(spec, path), spec.optional))
        return out

    def policy(self, outputs: Sequence[Output]) -> None:
        policy, aggregate = self.spec.hit_policy, self.spec.aggregate
        if aggregate is not None and policy != "collect":
            self.fail(("aggregate",), "`aggregate:` only applies to hit_policy collect")
        elif aggregate is not None:
            if len(outputs) != 1:
                self.fail(("outputs",), f"collect with {aggregate} needs exactly one output")
            elif aggregate == "count" and outputs[0].type.name != "integer":
                self.fail(("outputs", outputs[0].name),
                          "collect with count gives a whole number; declare the output "
                          "`type: integer`")
            elif aggregate != "count" and outputs[0].type.kind not in NUMERIC_KINDS:
                self.fail(("outputs", outputs[0].name),
                          f"collect with {aggregate} needs a number or money output")
        if policy == "priority" and not any(o.type.name == "enum" for o in outputs):
            self.fail(("hit_policy",), "hit policy priority ranks rows by an enum output's "
                                       "`values` order (first = highest); declare one")

    # -- rows ---------------------------------------------------------------

    def cells(self, i: int, when: Mapping[str, Any]) -> dict[str, tuple[Cell, str]]:
        out = {}
        for fact, raw in when.items():
            path = ("rules", i, "when", fact)
            var = self.scope.get(fact)
            if var is None:
                known = ", ".join(self.scope) or "none"
                self.fail(path, f"unknown input {fact!r}; declared inputs and computed facts: "
                                f"{known}")
                continue
            t = self.fact_type(fact)
            try:
                cell = parse_cell(raw, t)
                condition(cell, var.py, t, var.nullable, self.ns)
            except CellError as exc:
                self.fail(path, f"{fact}: {exc}")
                continue
            out[fact] = (cell, cell_text(raw))
        return out

    def fact_type(self, fact: str) -> ValueType:
        for inp in self.inputs_:
            if inp.name == fact:
                return inp.type
        return next(c.type for c, _ in self.computed_ if c.name == fact)

    def then(self, i: int, then: Mapping[str, Any], outputs: Sequence[Output]) -> dict[str, str]:
        """Python text per output for row ``i`` (a constant, None, or a checked expression)."""
        by_name = {o.name: o for o in outputs}
        out: dict[str, str] = {}
        for key in then:
            if key not in by_name:
                self.fail(("rules", i, "then", key),
                          f"unknown output {key!r}; declared outputs: {', '.join(by_name)}")
        counting = self.spec.aggregate == "count"
        for k, o in enumerate(outputs):
            path = ("rules", i, "then", o.name)
            if counting:
                if o.name in then:
                    self.fail(path, "with collect count the rows give no value; remove it")
                out[o.name] = "None"
                continue
            if o.name not in then or then[o.name] is None:
                if not o.optional:
                    self.fail(("rules", i, "then"),
                              f"row must set output {o.name!r} (or declare it optional: true)")
                out[o.name] = "None"
                continue
            raw = then[o.name]
            if isinstance(raw, str) and raw.startswith(EXPRESSION_MARK):
                compiled = self.expression(raw[1:], path)
                if compiled is None:
                    continue
                if not _fits(compiled.kind, o.type):
                    self.fail(path, f"{o.name!r} is {o.type.name} but {raw[1:]!r} computes "
                                    f"{compiled.kind}")
                    continue
                out[o.name] = f"_q{k}({self.guarded(compiled)}, {self.ns.const(i)})"
                continue
            try:
                out[o.name] = self.constant(o.type.literal(raw))
            except ValueError as exc:
                self.fail(path, f"{o.name}: {exc}")
        return out

    def guarded(self, compiled: Compiled) -> str:
        """Null in, null out: an expression over a missing optional fact is null."""
        nullable = [self.scope[u].py for u in sorted(compiled.uses) if self.scope[u].nullable]
        if not nullable:
            return compiled.py
        return f"(None if ({' or '.join(f'{v} is None' for v in nullable)}) else {compiled.py})"

    def constant(self, value: Any) -> str:
        if value is None or isinstance(value, bool):
            return repr(value)
        if isinstance(value, list):
            return f"[{', '.join(self.constant(v) for v in value)}]"
        return self.ns.const(value)

    # -- tests --------------------------------------------------------------

    def examples(self, outputs: Sequence[Output], row_ids: set[str]) -> list[Example]:
        out = []
        for j, ex in enumerate(self.spec.tests):
            path: tuple[str | int, ...] = ("tests", j)
            given: dict[str, Any] = {}
            for key, raw in ex.given.items():
                inp = next((x for x in self.inputs_ if x.name == key), None)
                if inp is None:
                    self.fail((*path, "given", key),
                              f"unknown input {key!r}; give only declared inputs "
                              f"({', '.join(x.name for x in self.inputs_)})")
                    continue
                try:
                    given[key] = None if raw is None else inp.type.literal(raw)
                except ValueError as exc:
                    self.fail((*path, "given", key), f"{key}: {exc}")
            for inp in self.inputs_:
                if not inp.optional and inp.name not in ex.given:
                    self.fail((*path, "given"), f"test gives no value for required input "
                                                f"{inp.name!r}")
            expect = self.expectations(ex.expect, outputs, (*path, "expect"))
            if ex.error is not None:
                if ex.expect or ex.matched is not None:
                    self.fail((*path, "error"), "a test expects either outputs (expect, matched) "
                                                "or an error, not both")
                if ex.error not in {x.name for x in self.inputs_}:
                    self.fail((*path, "error"), f"unknown input {ex.error!r}; `error:` names the "
                                                "input the InvalidFacts error must blame")
            for row_id in ex.matched or ():
                if row_id not in row_ids:
                    self.fail((*path, "matched"), f"no row has id {row_id!r}")
            line, _ = self.doc.where(path)
            matched = None if ex.matched is None else tuple(ex.matched)
            out.append(Example(j, ex.name, line, given, expect, matched, ex.error))
        return out

    def expectations(
        self, expect: Mapping[str, Any], outputs: Sequence[Output], path: tuple[str | int, ...]
    ) -> dict[str, Any]:
        by_name = {o.name: o for o in outputs}
        out = {}
        for key, raw in expect.items():
            o = by_name.get(key)
            if o is None:
                self.fail((*path, key), f"unknown output {key!r}; declared outputs: "
                                        f"{', '.join(by_name)}")
                continue
            t = o.type
            if self.spec.hit_policy == "collect" and self.spec.aggregate is None:
                t = ValueType("list", (), o.type)
            try:
                out[key] = None if raw is None else t.literal(raw)
            except ValueError as exc:
                self.fail((*path, key), f"{key}: {exc}")
        return out

    # -- assembly -------------------------------------------------------------

    def build(self) -> DecisionTable:
        spec = self.spec
        self.inputs_ = self.inputs()
        self.constraints_ = self.constraints()
        self.computed_ = self.computed()
        outputs = self.outputs()
        self.policy(outputs)
        rows_cells: list[dict[str, tuple[Cell, str]]] = []
        rows_then: list[dict[str, str]] = []
        seen: dict[str, int] = {}
        for i, row in enumerate(spec.rules):
            if row.id in seen:
                self.fail(("rules", i, "id"), f"row id {row.id!r} is already used by row "
                                              f"{seen[row.id] + 1}; ids must be unique")
            seen.setdefault(row.id, i)
            rows_cells.append(self.cells(i, row.when))
            rows_then.append(self.then(i, row.then, outputs))
        examples = self.examples(outputs, set(seen))
        facts = [Fact(x.name, x.type, x.nullable, False) for x in self.inputs_]
        facts += [Fact(c.name, c.type, c.nullable, True) for c, _ in self.computed_]
        shapes = [
            RowShape(row.id, cells, dict(row.then))
            for row, cells in zip(spec.rules, rows_cells, strict=True)
        ]
        warnings: list[Problem] = []
        if not self.problems:
            for finding in analyse(facts, shapes, spec.hit_policy):
                path = ("rules",) if finding.row is None else ("rules", finding.row, "id")
                problem = self.doc.problem(path, finding.message)
                (self.problems if finding.error else warnings).append(problem)
        if self.problems:
            raise DefinitionError(self.problems)
        return self.assemble(outputs, rows_cells, rows_then, examples, warnings)

    def assemble(
        self, outputs: list[Output], rows_cells: list[dict[str, tuple[Cell, str]]],
        rows_then: list[dict[str, str]], examples: list[Example], warnings: list[Problem],
    ) -> DecisionTable:
        spec, ns = self.spec, self.ns
        for k, inp in enumerate(self.inputs_):
            ns.values[f"_n{k}"] = inp.name
            ns.values[f"_k{k}"] = _fact_coercer(spec.decision, inp)
            ns.values[f"_e{k}"] = frozenset(inp.type.values)
        for k, (comp, _) in enumerate(self.computed_):
            ns.values[f"_x{k}"] = _computation_error(spec.decision, comp.name)
            ns.values[f"_y{k}"] = _computed_checker(spec.decision, comp)
            ns.values[f"_u{k}"] = _calendar_error(spec.decision, comp.name, self.computed_[k][1])
        for k, (con, _) in enumerate(self.constraints_):
            ns.values[f"_z{k}"] = _impossible(spec.decision, con)
        for k, o in enumerate(outputs):
            ns.values[f"_o{k}"] = o.name
            ns.values[f"_q{k}"] = _output_checker(spec, o)
        env = [self.scope[x.name].py for x in self.inputs_]
        env += [self.scope[c.name].py for c, _ in self.computed_]
        params = ", ".join(env)
        lines = _prelude(self.inputs_, self.constraints_, self.computed_, self.scope,
                         self.guarded)
        src = ["def decide(facts):", *lines]
        cell_src: list[str] = []
        cell_meta = []
        for i, (cells, then) in enumerate(zip(rows_cells, rows_then, strict=True)):
            test, metas, has_expr, outs = self.row_code(
                i, cells, then, outputs, params=params, cell_src=cell_src)
            cell_meta.append(metas)
            if spec.hit_policy == "first":
                result = f"_out{i}({params})" if has_expr else outs
                made = _NEW_DECISION.format(outputs=result, matched=f"_m{i}")
                src += [f"    if {test}:", f"        return {made}"]
            else:
                src += [f"    if {test}:", f"        hits.append({i})"]
        if spec.hit_policy == "first":
            src.append("    return _finish(inputs, [], ())")
        else:
            src.insert(len(lines) + 1, "    hits = []")
            src.append(f"    return _finish(inputs, hits, ({params}{',' if env else ''}))")
        src += ["def prepare(facts):", *lines, f"    return inputs, ({params}{',' if env else ''})"]
        src += cell_src
        code = compile("\n".join(src) + "\n", f"<csflow decision {spec.decision}>", "exec")
        exec(code, ns.values)  # generated from the checked table; no text from the file

        table = object.__new__(DecisionTable)
        rows = []
        for i, row in enumerate(spec.rules):
            tests = tuple(CellTest(f, text, cell, slot, ns.values[fn])
                          for f, text, cell, slot, fn in cell_meta[i])
            line, _ = self.doc.where(("rules", i))
            rows.append(Row(row.id, line, tests, dict(row.then), row.source, row.note))
        empty_value: Any = 0 if spec.aggregate == "count" else None
        if spec.aggregate == "sum":
            empty_value = _zero(outputs[0].type)
        names = tuple(o.name for o in outputs)
        attrs: dict[str, Any] = {
            "name": spec.decision, "title": spec.title,
            "version": None if spec.version is None else str(spec.version),
            "description": spec.description, "hit_policy": spec.hit_policy,
            "aggregate": spec.aggregate, "file": self.doc.file,
            "ruleset_version": self.ruleset_version, "inputs": tuple(self.inputs_),
            "computed": tuple(c for c, _ in self.computed_),
            "constraints": tuple(c for c, _ in self.constraints_), "outputs": tuple(outputs),
            "rows": tuple(rows), "examples": tuple(examples), "warnings": tuple(warnings),
            "_decide": ns.values["decide"], "_prepare": ns.values["prepare"],
            "_outs": tuple(ns.values[f"_out{i}"] for i in range(len(rows))),
            "_empty": lambda: dict.fromkeys(names, empty_value),
        }
        for key, value in attrs.items():
            object.__setattr__(table, key, value)
        ns.values["_finish"] = table._finish
        return table


    def row_code(
        self, i: int, cells: dict[str, tuple[Cell, str]], then: dict[str, str],
        outputs: list[Output], *, params: str, cell_src: list[str],
    ) -> tuple[str, list[tuple[str, str, Cell, int, str]], bool, str]:
        """Row ``i``'s condition and outputs as code; its cell tests and ``_out`` go to cell_src."""
        ns = self.ns
        conds, metas = [], []
        for fact, (cell, text) in cells.items():
            var = self.scope[fact]
            cond = condition(cell, var.py, self.fact_type(fact), var.nullable, ns)
            if cond is None:
                continue
            conds.append(cond)
            fn = f"_t{len(cell_src)}"
            cell_src += [f"def {fn}({var.py}):", f"    return {cond}"]
            metas.append((fact, text, cell, self.slots[fact], fn))
        ns.values[f"_m{i}"] = (self.spec.rules[i].id,)
        outs = "{" + ", ".join(f"_o{k}: {then[o.name]}" for k, o in enumerate(outputs)) + "}"
        has_expr = any(t.startswith("_q") for t in then.values())
        cell_src.append(f"def _out{i}({params}):")
        if has_expr:
            cell_src += ["    try:", f"        return {outs}",
                         "    except _ERRORS as exc:", f"        raise _r{i}(exc) from None",
                         "    except _CALENDAR as exc:",
                         f"        raise _g{i}(exc, {params}) from None"]
            ns.values[f"_r{i}"] = _row_error(self.spec.decision, self.spec.rules[i].id)
            names = [x.name for x in self.inputs_] + [c.name for c, _ in self.computed_]
            ns.values[f"_g{i}"] = _row_calendar_error(self.spec.decision, self.spec.rules[i].id,
                                                      names)
        else:
            cell_src.append(f"    return {outs}")
        return " and ".join(conds) or "True", metas, has_expr, outs

def _prelude(
    inputs: Sequence[Input], constraints: Sequence[tuple[Constraint, Compiled]],
    computed: Sequence[tuple[Computed, Compiled]],
    scope: Mapping[str, Var], guarded: Callable[[Compiled], str],
) -> list[str]:
    """Validation of the facts, their constraints and the computed facts, as code lines."""
    lines = []
    for k, inp in enumerate(inputs):
        v = f"v{k}"
        bad = _FAST[inp.type.name].format(v=v, e=f"_e{k}")
        if inp.nullable and bad != "True":
            bad = f"{v} is not None and ({bad})"
        lines += [
            "    try:", f"        {v} = facts[_n{k}]", "    except KeyError:",
            f"        {v} = _k{k}(_MISSING)", "    else:",
            f"        if {bad}:", f"            {v} = _k{k}({v})",
        ]
    pairs = ", ".join(f"_n{k}: v{k}" for k in range(len(inputs)))
    lines.append(f"    inputs = {{{pairs}}}")
    for k, (_, compiled) in enumerate(constraints):
        lines += [f"    if {guarded(compiled)} is False:", f"        raise _z{k}(inputs)"]
    for k, (comp, compiled) in enumerate(computed):
        expr = guarded(compiled)
        if compiled.kind.name == "any":
            expr = f"_y{k}({expr})"
        w = scope[comp.name].py
        lines += ["    try:", f"        {w} = {expr}", "    except _ERRORS as exc:",
                  f"        raise _x{k}(exc) from None", "    except _CALENDAR as exc:",
                  f"        raise _u{k}(exc, inputs) from None"]
    return lines


def _type_of(kind: Kind) -> ValueType | None:
    if kind.name in ("any", "null", "list"):
        return ValueType("list") if kind.name == "list" else None
    if kind.values:
        return ValueType("enum", kind.values)
    return ValueType(kind.name)


def _fits(kind: Kind, t: ValueType) -> bool:
    """Whether an expression of ``kind`` can produce values of declared type ``t``."""
    if kind.name in ("any", "null") or kind.name == t.kind:
        return True
    return kind.name == "integer" and t.kind == "decimal"


def _fact_coercer(decision: str, inp: Input) -> Callable[[Any], Any]:
    def coerce(value: Any) -> Any:
        if value is _MISSING or value is None:
            if inp.optional:
                return inp.default
            raise InvalidFacts(decision, inp.name,
                               f"is {'missing' if value is _MISSING else 'null'}; "
                               f"it is required ({inp.type.describe()})")
        try:
            return inp.type.coerce(value)
        except ValueError as exc:
            raise InvalidFacts(decision, inp.name, str(exc)) from None

    return coerce


def _output_checker(spec: TableSpec, o: Output) -> Callable[[Any, int], Any]:
    def check(value: Any, row: int) -> Any:
        row_id = spec.rules[row].id
        if value is None:
            if o.optional:
                return None
            raise InvalidFacts(spec.decision, o.name,
                               f"row {row_id!r} computed no value (a fact it uses is missing)")
        try:
            return o.type.coerce(value)
        except ValueError as exc:
            raise InvalidFacts(spec.decision, o.name, f"row {row_id!r} computed {exc}") from None

    return check


def _computed_checker(decision: str, comp: Computed) -> Callable[[Any], Any]:
    """Types the result of a user function, which the loader cannot see."""

    def check(value: Any) -> Any:
        if value is None:
            return None
        try:
            return comp.type.coerce(value)
        except ValueError as exc:
            raise InvalidFacts(decision, comp.name, f"computed {exc}") from None

    return check


def _computation_error(decision: str, name: str) -> Callable[[Exception], InvalidFacts]:
    return lambda exc: InvalidFacts(decision, name, f"cannot be computed from these facts: {exc}")


def _impossible(decision: str, con: Constraint) -> Callable[[Mapping[str, Any]], InvalidFacts]:
    def error(inputs: Mapping[str, Any]) -> InvalidFacts:
        given = ", ".join(f"{f}={_shown(inputs[f])}" for f in con.facts)
        return InvalidFacts(decision, ", ".join(con.facts),
                            f"{con.message} (given {given}; fails {con.check!r})")

    return error


def _calendar_message(exc: CalendarError) -> str:
    text = str(exc)
    prefix = f"calendar {exc.calendar!r}: "
    return text[len(prefix):] if text.startswith(prefix) else text


def _calendar_error(
    decision: str, name: str, compiled: Compiled
) -> Callable[[CalendarError, Mapping[str, Any]], CalendarError]:
    """Keeps the CalendarError (a date the holiday tables do not cover is never a
    silently wrong date) and says which decision, computed fact and inputs hit it."""

    def error(exc: CalendarError, inputs: Mapping[str, Any]) -> CalendarError:
        used = ", ".join(f"{k}={_shown(v)}" for k, v in inputs.items() if k in compiled.uses)
        return CalendarError(
            exc.calendar,
            f"decision {decision!r} cannot compute {name!r}"
            f"{f' from {used}' if used else ''}: {_calendar_message(exc)}",
            exc.date,
        )

    return error


def _row_calendar_error(
    decision: str, row_id: str, names: Sequence[str]
) -> Callable[..., CalendarError]:
    def error(exc: CalendarError, *values: Any) -> CalendarError:
        # The facts holding the very date the calendar refused are the ones to fix.
        hit = ", ".join(f"{n}={v}" for n, v in zip(names, values, strict=True)
                        if v is not None and v == exc.date)
        return CalendarError(
            exc.calendar,
            f"decision {decision!r}, row {row_id!r} cannot compute its outputs"
            f"{f' from {hit}' if hit else ''}: {_calendar_message(exc)}",
            exc.date,
        )

    return error


def _shown(value: Any) -> str:
    return "null" if value is None else str(value)


def _row_error(decision: str, row_id: str) -> Callable[[Exception], InvalidFacts]:
    return lambda exc: InvalidFacts(
        decision, row_id, f"row {row_id!r} cannot compute its outputs from these facts: {exc}"
    )


def build_table(
    doc: Located, spec: TableSpec, ruleset_version: str,
    functions: Mapping[str, Callable[..., Any]], signatures: Mapping[str, Any],
) -> DecisionTable:
    """Check and compile one table; raises DefinitionError listing every problem."""
    return _Builder(doc, spec, ruleset_version, functions, signatures).build()
