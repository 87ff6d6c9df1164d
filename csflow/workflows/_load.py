"""Read a workflow file: YAML -> pydantic schema -> checks -> :class:`WorkflowDef`.

All problems found are reported together, each at file:line:column with what
to change, so an author fixes a file in one pass.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from csflow._yaml import Located, load_yaml, read_definition, validate
from csflow.calendars import BusinessDuration, CalendarRegistry
from csflow.errors import DefinitionError, Problem
from csflow.workflows._definition import (
    ANY_OPEN,
    SLA,
    STAY,
    Deadline,
    DecisionCall,
    Emit,
    Migration,
    Ref,
    StateDef,
    TransitionDef,
    WorkflowDef,
)
from csflow.workflows._fields import FieldError, parse_fields

_NAME = r"^[a-z][a-z0-9_]*$"
# Names transitions or the engine use themselves; a trigger called so would clash.
_RESERVED = {"start", "trigger", "state", "machine"}
_REF_ROOTS = {"actor": {"id", "role"}, "case": {"id", "state"}, "now": set(), "data": None}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _SLA(_Strict):
    target: str
    calendar: str
    warn_at: str | float | None = None
    on_breach: str = "notify"


class _State(_Strict):
    description: str = ""
    terminal: bool = False
    pauses_sla: bool = False
    sla: _SLA | None = None


class _Call(_Strict):
    decision: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, Any] = Field(default_factory=dict)
    store: dict[str, str] = Field(default_factory=dict)
    optional: bool = False


class _Emit(_Strict):
    message: str = Field(pattern=_NAME)
    to: str = "customer"
    data: dict[str, Any] = Field(default_factory=dict)


class _Deadline(_Strict):
    on_breach: str = "notify"
    calendar: str | None = None
    met_in: list[str] = Field(default_factory=list)


class _Migration(_Strict):
    from_version: int = Field(alias="from", ge=1)
    states: dict[str, str] = Field(default_factory=dict)


class _Start(_Strict):
    roles: list[str] = Field(default_factory=list)
    requires: dict[str, Any] = Field(default_factory=dict)
    set: dict[str, Any] = Field(default_factory=dict)
    decide: list[_Call] = Field(default_factory=list)
    emit: list[_Emit] = Field(default_factory=list)
    description: str = ""


class _Transition(_Start):
    trigger: str = Field(pattern=_NAME)
    source: str | list[str]
    dest: str
    guard: _Call | None = None


class _Workflow(_Strict):
    workflow: str = Field(pattern=_NAME)
    version: int = Field(ge=1)
    title: str = ""
    initial: str
    roles: list[str] = Field(default_factory=list)
    pii: list[str] = Field(default_factory=list)
    start: _Start = Field(default_factory=_Start)
    states: dict[str, _State | None]
    transitions: list[_Transition]
    deadlines: dict[str, _Deadline | None] = Field(default_factory=dict)
    migrations: list[_Migration] = Field(default_factory=list)


def load_workflow(source: str | Path, calendars: CalendarRegistry | None = None) -> WorkflowDef:
    """Load a workflow from a file path (or YAML text if it contains a newline).

    SLA calendars must be in ``calendars`` (default: the bundled calendars).
    """
    if isinstance(source, Path) or "\n" not in source:
        return parse_workflow(read_definition(source, "workflow"), str(source), calendars)
    return parse_workflow(source, calendars=calendars)


def parse_workflow(
    text: str, file: str = "<workflow>", calendars: CalendarRegistry | None = None
) -> WorkflowDef:
    doc = load_yaml(text, file)
    if not isinstance(doc.data, dict):
        raise DefinitionError.at(
            "a workflow file is a mapping with 'workflow:', 'states:' ...", file, 1, 1
        )
    model = validate(_Workflow, doc)
    return _Builder(doc, model, calendars or CalendarRegistry.bundled()).build()


class _Builder:
    """Turns the validated schema into a WorkflowDef, collecting every problem."""

    def __init__(self, doc: Located, model: _Workflow, calendars: CalendarRegistry) -> None:
        self.doc, self.m, self.calendars = doc, model, calendars
        self.problems: list[Problem] = []
        self.unknown_states = False

    def fail(self, path: tuple[str | int, ...], message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def build(self) -> WorkflowDef:
        m = self.m
        states = {name: self._state(name, s or _State()) for name, s in m.states.items()}
        for name in states:
            if not re.match(_NAME, name):
                self.fail(
                    ("states", name), f"state name {name!r}: use lower_case letters, digits, _"
                )
        if m.initial not in states:
            self.unknown_states = True
            self.fail(("initial",), f"initial state {m.initial!r} is not declared under states:")
        elif states[m.initial].terminal:
            self.fail(("initial",), "the initial state cannot be terminal")
        if not any(s.terminal for s in states.values()):
            self.fail(("states",), "no terminal state: mark at least one state 'terminal: true'")
        open_states = tuple(n for n, s in states.items() if not s.terminal)
        start = self._transition(("start",), "start", m.start, (), m.initial)
        transitions = [
            self._transition(
                ("transitions", i),
                t.trigger,
                t,
                self._sources(i, t, states, open_states),
                self._dest(i, t, states),
                t.guard,
            )
            for i, t in enumerate(m.transitions)
        ]
        self._check_pairs(transitions)
        if not self.unknown_states:  # unreachability would only echo a misspelt state
            self._check_reachable(m.initial, states, transitions)
        self._check_sla_triggers(states, transitions)
        deadlines = tuple(
            self._deadline(path, d or _Deadline(), states, transitions)
            for path, d in m.deadlines.items()
        )
        migrations = tuple(self._migration(i, g, states) for i, g in enumerate(m.migrations))
        if self.problems:
            raise DefinitionError(self.problems)
        return WorkflowDef(
            name=m.workflow,
            version=m.version,
            initial=m.initial,
            states=states,
            transitions=tuple(transitions),
            start=start,
            roles=tuple(m.roles),
            pii=tuple(m.pii),
            title=m.title,
            file=self.doc.file,
            deadlines=deadlines,
            migrations=migrations,
        )

    def _state(self, name: str, s: _State) -> StateDef:
        line = self.doc.where(("states", name))[0]
        sla = None
        if s.sla is not None:
            path = ("states", name, "sla")
            try:
                target = BusinessDuration.parse(s.sla.target)
            except ValueError as exc:
                self.fail((*path, "target"), f"SLA target: {exc}")
                target = None
            if s.sla.calendar not in self.calendars:
                self.fail(
                    (*path, "calendar"),
                    f"unknown calendar {s.sla.calendar!r}; bundled: {', '.join(self.calendars)}",
                )
            warn = None
            if s.sla.warn_at is not None:
                warn = _share(s.sla.warn_at)
                if warn is None:
                    self.fail(
                        (*path, "warn_at"), "warn_at is a share of the target, e.g. 75% or 0.75"
                    )
            if target is not None:  # else the problem is recorded and build() raises
                sla = SLA(target, s.sla.calendar, warn, s.sla.on_breach)
            if s.terminal:
                self.fail(path, "a terminal state cannot have an SLA")
        return StateDef(name, s.description, s.terminal, s.pauses_sla, sla, line)

    def _sources(
        self, i: int, t: _Transition, states: dict[str, StateDef], open_states: tuple[str, ...]
    ) -> tuple[str, ...]:
        raw = [t.source] if isinstance(t.source, str) else t.source
        out: list[str] = []
        for j, src in enumerate(raw):
            where = (
                ("transitions", i, "source")
                if isinstance(t.source, str)
                else ("transitions", i, "source", j)
            )
            if src == ANY_OPEN:
                out.extend(open_states)
            elif src not in states:
                self.unknown_states = True
                self.fail(where, f"unknown state {src!r}; declared: {', '.join(states)}")
            else:
                out.append(src)
        return tuple(dict.fromkeys(out))

    def _dest(self, i: int, t: _Transition, states: dict[str, StateDef]) -> str:
        if t.dest != STAY and t.dest not in states:
            self.unknown_states = True
            self.fail(
                ("transitions", i, "dest"),
                f"unknown state {t.dest!r}; declared: {', '.join(states)} (or '=' to stay)",
            )
        return t.dest

    def _transition(
        self,
        path: tuple[str | int, ...],
        trigger: str,
        t: _Start,
        sources: tuple[str, ...],
        dest: str,
        guard: _Call | None = None,
    ) -> TransitionDef:
        if path[0] == "transitions" and trigger in _RESERVED:
            self.fail((*path, "trigger"), f"trigger name {trigger!r} is reserved; choose another")
        for j, role in enumerate(t.roles):
            if self.m.roles and role not in self.m.roles:
                self.fail(
                    (*path, "roles", j),
                    f"role {role!r} is not in the workflow's roles: {', '.join(self.m.roles)}",
                )
        requires: tuple[Any, ...] = ()
        try:
            requires = parse_fields(t.requires)
        except FieldError as exc:
            self.fail((*path, "requires", *exc.path.split(".")[:1]), str(exc))
        effects = tuple((k, self._value((*path, "set", k), v)) for k, v in t.set.items())
        return TransitionDef(
            trigger=trigger,
            sources=sources,
            dest=dest,
            roles=tuple(t.roles),
            requires=requires,
            set=effects,
            guard=None if guard is None else self._call((*path, "guard"), guard),
            decide=tuple(self._call((*path, "decide", j), c) for j, c in enumerate(t.decide)),
            emit=tuple(
                Emit(
                    e.message,
                    e.to,
                    {k: self._value((*path, "emit", j, "data", k), v) for k, v in e.data.items()},
                    self.doc.where((*path, "emit", j))[0],
                )
                for j, e in enumerate(t.emit)
            ),
            description=t.description,
            line=self.doc.where(path)[0],
        )

    def _call(self, path: tuple[str | int, ...], c: _Call) -> DecisionCall:
        inputs = {k: self._value((*path, "inputs", k), v) for k, v in c.inputs.items()}
        if path[-1] == "guard":
            if not c.expect:
                self.fail(path, "a guard needs 'expect:' (the outputs that allow the transition)")
            if c.optional:
                self.fail((*path, "optional"), "a guard cannot be optional")
        if c.optional and not any(
            isinstance(v, Ref) and v.path[0] == "data" for v in inputs.values()
        ):
            self.fail(
                (*path, "optional"),
                "'optional: true' skips the decision when a $data input "
                "is missing, so it needs at least one $data input",
            )
        return DecisionCall(
            c.decision, inputs, c.expect, c.store, c.optional, self.doc.where(path)[0]
        )

    def _value(self, path: tuple[str | int, ...], v: Any) -> Any:
        """Literal, or a Ref for text starting with '$' ('$$' escapes a literal '$')."""
        if not isinstance(v, str) or not v.startswith("$"):
            return v
        if v.startswith("$$"):
            return v[1:]
        parts = tuple(v[1:].split("."))
        root, rest = parts[0], parts[1:]
        allowed = _REF_ROOTS.get(root, set())
        ok = root in _REF_ROOTS and (
            (allowed is None and len(rest) >= 1)
            or (
                allowed is not None
                and ((not allowed and not rest) or (len(rest) == 1 and rest[0] in allowed))
            )
        )
        if not ok:
            self.fail(
                path,
                f"unknown reference {v!r}; use $actor.id, $actor.role, $now, "
                "$case.id, $case.state or $data.<field>",
            )
        return Ref(parts)

    def _check_pairs(self, transitions: list[TransitionDef]) -> None:
        seen: dict[tuple[str, str], int] = {}
        for i, t in enumerate(transitions):
            for src in t.sources:
                first = seen.setdefault((src, t.trigger), i)
                if first != i:
                    self.fail(
                        ("transitions", i, "trigger"),
                        f"trigger {t.trigger!r} from state {src!r} is already defined "
                        f"(line {transitions[first].line}); give one of them another name",
                    )

    def _check_reachable(
        self, initial: str, states: dict[str, StateDef], transitions: list[TransitionDef]
    ) -> None:
        reached, frontier = {initial}, [initial]
        while frontier:
            here = frontier.pop()
            for t in transitions:
                if here in t.sources and t.dest != STAY and t.dest not in reached:
                    reached.add(t.dest)
                    frontier.append(t.dest)
        for name in states:
            if name not in reached and initial in states:
                self.fail(
                    ("states", name),
                    f"state {name!r} cannot be reached from {initial!r}; "
                    "add a transition into it or remove it",
                )

    def _check_sla_triggers(
        self, states: dict[str, StateDef], transitions: list[TransitionDef]
    ) -> None:
        for name, s in states.items():
            action = s.sla.on_breach if s.sla else "notify"
            if action in ("notify", "escalate"):
                continue
            where = ("states", name, "sla", "on_breach")
            t = next((t for t in transitions if t.trigger == action and name in t.sources), None)
            if t is None:
                self.fail(
                    where,
                    f"on_breach {action!r} is neither notify, escalate nor a trigger "
                    f"that can fire from {name!r}",
                )
            else:
                self._check_system_can_fire(where, t)

    def _check_system_can_fire(self, where: tuple[str | int, ...], t: TransitionDef) -> None:
        """A breach action is fired by the timer worker as role ``system``, with no data."""
        roles = t.roles or tuple(self.m.roles)
        if roles and "system" not in roles:
            self.fail(
                where,
                f"the timer worker fires {t.trigger!r} as role 'system'; add 'system' to "
                f"its roles (now: {', '.join(roles)})",
            )
        needed = [name for name, spec in t.requires if not spec.optional]
        if needed:
            self.fail(
                where,
                f"the timer worker fires {t.trigger!r} without data, but it requires "
                f"{', '.join(needed)}; make those optional or choose another action",
            )

    def _deadline(
        self,
        field: str,
        d: _Deadline,
        states: dict[str, StateDef],
        transitions: list[TransitionDef],
    ) -> Deadline:
        path: tuple[str | int, ...] = ("deadlines", field)
        if not re.match(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$", field):
            self.fail(path, f"{field!r} is not a data path; write e.g. final_response_due")
        if d.calendar is not None and d.calendar not in self.calendars:
            self.fail(
                (*path, "calendar"),
                f"unknown calendar {d.calendar!r}; bundled: {', '.join(self.calendars)}",
            )
        for j, state in enumerate(d.met_in):
            if state not in states:
                self.fail((*path, "met_in", j), f"unknown state {state!r}")
        if d.on_breach not in ("notify", "escalate"):
            # Fired whenever the deadline passes, so from every state it can pass in.
            waiting = {n for n, s in states.items() if not s.terminal} - set(d.met_in)
            t = next((t for t in transitions if t.trigger == d.on_breach), None)
            missing = sorted(waiting - set(t.sources)) if t is not None else []
            if t is None or missing:
                self.fail(
                    (*path, "on_breach"),
                    f"on_breach {d.on_breach!r} is neither notify, escalate nor a trigger "
                    "that can fire from every state the deadline can pass in"
                    + (f" (not from {', '.join(missing)})" if missing else ""),
                )
            else:
                self._check_system_can_fire((*path, "on_breach"), t)
        return Deadline(field, d.on_breach, d.calendar, tuple(d.met_in), self.doc.where(path)[0])

    def _migration(self, i: int, g: _Migration, states: dict[str, StateDef]) -> Migration:
        path: tuple[str | int, ...] = ("migrations", i)
        if g.from_version >= self.m.version:
            self.fail(
                (*path, "from"),
                f"a migration comes from an older version than {self.m.version}, "
                f"not {g.from_version}",
            )
        for old, new in g.states.items():
            if new not in states:
                self.fail(
                    (*path, "states", old),
                    f"state {new!r} is not in version {self.m.version}; "
                    f"declared: {', '.join(states)}",
                )
        if sum(x.from_version == g.from_version for x in self.m.migrations) > 1:
            self.fail((*path, "from"), f"a second migration from version {g.from_version}")
        return Migration(g.from_version, dict(g.states), self.doc.where(path)[0])


def _share(v: str | float) -> Decimal | None:
    try:
        d = Decimal(v[:-1]) / 100 if isinstance(v, str) and v.endswith("%") else Decimal(str(v))
    except InvalidOperation:
        return None
    return d if 0 < d < 1 else None
