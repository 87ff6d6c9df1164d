"""The values csflow hands out and stores: actors, decisions, events, cases.

They are frozen msgspec Structs rather than pydantic models or dataclasses
on purpose: they are built on the hot path (one event and one snapshot per
``fire``) from data that has already been validated at the edge. A pydantic
model would cost several microseconds each; a frozen dataclass pays one
``object.__setattr__`` per field (measured on the 18 fields of an Event:
about 3.5 µs, against 0.5 µs for the Struct). Structs also decode straight
from stored JSON in C. Validation of anything that comes from outside (YAML,
API input, stored rows) happens where it enters, with pydantic.

They hold plain JSON trees and each other, never themselves, so they opt out
of the cycle collector (``gc=False``): a store or a replay can hold millions
without the collector walking them. Copy one with a change through
``msgspec.structs.replace``.

``Event`` is the only source of truth; ``Case`` is a snapshot that can always
be rebuilt from a case's events with :func:`csflow.replay`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

EMPTY: Mapping[str, Any] = {}


class Actor(msgspec.Struct, frozen=True, gc=False):
    """Who fires a trigger: an id from the host system and a role in the workflow."""

    id: str
    role: str


@dataclass(frozen=True, slots=True)
class RowCheck:
    """Why one row of a decision table did or did not match.

    ``input`` / ``cell`` / ``seen`` name the first cell that failed (all None
    when the row matched).
    """

    row: str
    matched: bool
    input: str | None = None
    cell: str | None = None
    seen: Any = None


class Decision(NamedTuple):
    """The result of one decision table evaluation.

    ``ruleset_version`` is the sha256 of the ruleset's canonical content, so a
    recorded decision can be re-derived under exactly the rules then in
    force. ``trace`` is only filled by ``RuleSet.explain`` (evaluation is
    deterministic, so the why-not trace can always be rebuilt from
    ``inputs`` and the version).

    A NamedTuple rather than a frozen dataclass because ``decide`` builds one
    per call and should cost little more than hand-written ``if``/``elif``:
    a tuple is one allocation, a frozen dataclass one ``object.__setattr__``
    per field (measured: 0.17 µs against 0.82 µs).
    """

    name: str
    ruleset_version: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    matched: tuple[str, ...]
    title: str = ""
    trace: tuple[RowCheck, ...] = ()


class Event(msgspec.Struct, frozen=True, gc=False):
    """One append-only, hash-chained fact in a case's history.

    ``data`` is the change to case data with personal data removed; personal
    data (the workflow's ``pii`` fields) lives in ``pii`` as
    ``{dotted.path: {"salt": hex, "value": v}}`` outside the hashed payload,
    and only ``pii_digests`` (sha256 of salt and value) is hashed. Erasing a
    person's data therefore removes ``pii`` values without breaking the chain.
    """

    case_id: str
    seq: int
    type: str
    workflow: str
    workflow_version: int
    trigger: str
    source: str | None
    dest: str
    actor: Actor | None
    data: Mapping[str, Any]
    decisions: tuple[Decision, ...]
    occurred_at: datetime
    recorded_at: datetime
    idempotency_key: str | None
    prev_hash: str
    hash: str
    pii_digests: Mapping[str, str] = msgspec.field(default_factory=dict)
    pii: Mapping[str, Any] = msgspec.field(default_factory=dict)


class Case(msgspec.Struct, frozen=True, gc=False):
    """The current state of one case, as of its last event (``version`` = its seq)."""

    id: str
    workflow: str
    workflow_version: int
    state: str
    data: Mapping[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
    last_hash: str
    terminal: bool = False
