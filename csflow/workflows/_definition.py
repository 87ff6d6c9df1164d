"""The neutral internal model of a workflow, parsed once from YAML.

Everything downstream (compiling onto ``transitions``, the engine, replay,
diagrams, audit) reads these frozen values, never the YAML. Positions
(``line``) are kept so errors found later, such as a guard naming a decision
the ruleset lacks, still point into the file.
"""

from __future__ import annotations

import functools
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
class Emit:
    """A message a transition leaves in the outbox, written with its event.

    ``to`` names the audience (``customer``, ``team``...) for the host's sender
    to route; ``data`` maps payload fields to literals or :class:`Ref` values
    taken when the transition fires.
    """

    message: str
    to: str = "customer"
    data: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = None


@dataclass(frozen=True)
class Deadline:
    """A timer on a date or time kept in case data (e.g. a regulatory ``final_response_due``).

    The timer follows the field: set it and the clock starts, change it and
    the timer moves. It is met when the case enters one of ``met_in`` (every
    terminal state when empty) before the time, and breached otherwise. A
    bare date means the end of that day in ``calendar``'s timezone (UTC when
    no calendar is named).
    """

    path: str  # dotted path in case data
    on_breach: str = "notify"  # notify | escalate | a trigger
    calendar: str | None = None
    met_in: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Migration:
    """How cases of an older version move onto this one: old state -> new state.

    States not listed keep their name (and must exist in this version).
    """

    from_version: int
    states: Mapping[str, str] = field(default_factory=dict)
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
    emit: tuple[Emit, ...] = ()
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
    deadlines: tuple[Deadline, ...] = ()
    migrations: tuple[Migration, ...] = ()

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)

    @functools.cached_property
    def terminal_states(self) -> frozenset[str]:
        return frozenset(n for n, s in self.states.items() if s.terminal)

    @functools.cached_property
    def has_timers(self) -> bool:
        """Whether any state change can start, pause or stop a timer."""
        return bool(self.deadlines) or any(
            s.sla is not None or s.pauses_sla for s in self.states.values()
        )

    # The top-level data keys under which deadlines and personal data live: a
    # delta with none of them (most fires) skips the path walks entirely.
    @functools.cached_property
    def deadline_roots(self) -> frozenset[str]:
        return frozenset(d.path.split(".")[0] for d in self.deadlines)

    @functools.cached_property
    def pii_roots(self) -> frozenset[str]:
        return frozenset(p.split(".")[0] for p in self.pii)

    def migration_from(self, version: int) -> Migration | None:
        return next((m for m in self.migrations if m.from_version == version), None)
