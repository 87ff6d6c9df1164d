"""The neutral internal model of a workflow, parsed once from YAML.

Everything downstream (compiling onto ``transitions``, the engine, replay,
diagrams, audit) reads these frozen values, never the YAML. Positions
(``line``) are kept so errors found later, such as a guard naming a decision
the ruleset lacks, still point into the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from csflow.calendars import BusinessDuration
from csflow.workflows._fields import FieldSpec

STAY = "="  # dest meaning "stay in the current state" (an internal transition)
ANY_OPEN = "*"  # source meaning "every state that is not terminal"


@dataclass(frozen=True)
class Ref:
    """A value taken at fire time: ``$actor.id``, ``$actor.role``, ``$now``,
    ``$case.id``, ``$case.state`` or ``$data.some.path`` (case data after this
    transition's own data is applied)."""

    path: tuple[str, ...]

    def __str__(self) -> str:
        return "$" + ".".join(self.path)


@dataclass(frozen=True)
class SLA:
    target: BusinessDuration
    calendar: str
    warn_at: Decimal | None = None  # share of the target, e.g. 0.75
    on_breach: str = "notify"  # notify | escalate | a trigger of the state


@dataclass(frozen=True)
class StateDef:
    name: str
    description: str = ""
    terminal: bool = False
    pauses_sla: bool = False
    sla: SLA | None = None
    line: int | None = None


@dataclass(frozen=True)
class DecisionCall:
    """Ask a decision table: as a guard (``expect``) or to store outputs (``store``).

    ``inputs`` maps decision inputs to literals or :class:`Ref`; when empty the
    facts are the case data's top-level fields plus ``role`` (the actor's).
    ``store`` maps case-data paths to decision outputs. An ``optional`` call is
    skipped (and not recorded) when one of its ``$data`` inputs is missing, for
    decisions that only apply to some cases (e.g. goods remedies when a delivery
    date is known).
    """

    decision: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    expect: Mapping[str, Any] = field(default_factory=dict)
    store: Mapping[str, str] = field(default_factory=dict)
    optional: bool = False
    line: int | None = None


@dataclass(frozen=True)
class TransitionDef:
    trigger: str
    sources: tuple[str, ...]
    dest: str  # a state name, or STAY
    roles: tuple[str, ...] = ()  # empty: every role of the workflow
    requires: tuple[tuple[str, FieldSpec], ...] = ()
    set: tuple[tuple[str, Any], ...] = ()  # (dotted data path, literal or Ref)
    guard: DecisionCall | None = None
    decide: tuple[DecisionCall, ...] = ()
    description: str = ""
    line: int | None = None


@dataclass(frozen=True)
class WorkflowDef:
    name: str
    version: int
    initial: str
    states: Mapping[str, StateDef]
    transitions: tuple[TransitionDef, ...]
    start: TransitionDef  # trigger "start": roles, required data and effects of a new case
    roles: tuple[str, ...] = ()
    pii: tuple[str, ...] = ()
    title: str = ""
    file: str = "<workflow>"

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)

    @property
    def terminal_states(self) -> frozenset[str]:
        return frozenset(n for n, s in self.states.items() if s.terminal)
