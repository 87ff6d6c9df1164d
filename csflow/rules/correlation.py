"""Stateful correlation across cases: repeat complaints and spikes.

A decision table looks at one case; a correlation looks at the stream of new
cases and notices what no single case shows: the same customer complaining
for the third time this month (``kind: repeat`` -> flag it, raise its
priority), or twenty complaints about one product in a week (``kind: spike``
-> put it on the patterns-and-trends review). Rules are declared in YAML::

    correlations:
      - id: repeat-complaint
        kind: repeat
        key: customer.id          # dotted path into the case's start data
        count: 3
        within: 30 days
        then: {flag: repeat, priority: high}

Semantics, exactly (both correlators implement them and are tested against
a brute-force recount):

* Events are fed in non-decreasing ``occurred_at`` order per correlator; an
  earlier event raises :class:`~csflow.errors.InvalidFacts` and changes
  nothing. Events at the same instant are taken in the order given.
* The window of an event at time ``t`` is ``[t - within, t]``, both ends
  inclusive: an event exactly ``within`` earlier still counts.
* A key's *count* at ``t`` is the number of events seen so far, this one
  included, whose key value is equal and whose time is in the window.
* A :class:`Signal` is raised when an event brings its key's count up to
  ``count``. While the count stays at or above ``count`` no further signal
  is raised for that key; once it has fallen below (because events left the
  window), the next event that brings it back up raises a new one. Because
  events arrive one at a time this is the same as "the count became exactly
  ``count``", which is how :class:`ReferenceCorrelator` decides it.
* An event whose key is missing or ``None`` is not counted by that
  correlation. A key value must be text or a whole number; values are
  compared as given (``1`` and ``"1"`` are different keys).
* Several correlations may signal for one event; signals come in file order.

Memory is bounded by the events inside the windows: every event leaves its
correlation's window as soon as an event ``within`` later is observed, for
every key, not only the key being observed.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from csflow.errors import CsflowError, InvalidFacts
from csflow.model import Event
from csflow.rules._correlation_durable import DurableThresholds
from csflow.rules._correlation_spec import (
    Correlation,
    CorrelationSpec,
    Kind,
    load_correlations,
    parse_duration,
)

__all__ = [
    "Correlation",
    "CorrelationEvent",
    "CorrelationSpec",
    "Correlator",
    "ReferenceCorrelator",
    "Signal",
    "load_correlations",
    "parse_duration",
]

Key = str | int
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_START = "start"


@dataclass(frozen=True, slots=True)
class CorrelationEvent:
    """A new case as correlation sees it: its id, when, and what it is about.

    ``attributes`` is looked up by dotted path (``customer.id`` walks
    ``{"customer": {"id": ...}}``); a flat key spelled with the dots
    (``{"customer.id": ...}``) is found too, which is how personal data kept
    outside an event's hashed payload is supplied.
    """

    case_id: str
    occurred_at: datetime
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_event(cls, event: Event) -> CorrelationEvent:
        """Build from a case's ``start`` event: its data plus any personal data still held.

        Only start events describe a new complaint; correlating later events
        would count one case several times.
        """
        if event.type != _START:
            raise InvalidFacts(
                "correlation", "event.type",
                f"case {event.case_id} event {event.seq} is a {event.type!r} event; only "
                f"{_START!r} events describe a new case",
            )
        attributes: dict[str, Any] = dict(event.data)
        for path, held in event.pii.items():
            if isinstance(held, Mapping) and "value" in held:
                attributes[path] = held["value"]
        return cls(event.case_id, event.occurred_at, attributes)

    def get(self, path: str) -> Any:
        """The value at a dotted path, or None when any part of it is missing."""
        if path in self.attributes:
            return self.attributes[path]
        value: Any = self.attributes
        for part in path.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        return value


@dataclass(frozen=True, slots=True)
class Signal:
    """A correlation reached its count for one key value.

    ``case_ids`` are the cases in the window, oldest first, the triggering
    case last; ``window_start`` is ``window_end - within`` and
    ``window_end`` the triggering event's time. ``then`` is the file's
    outputs for the host to act on (flag the case, raise its priority, put
    the category on the trends review).
    """

    correlation: str
    kind: Kind
    key: str
    value: Key
    count: int
    case_ids: tuple[str, ...]
    window_start: datetime
    window_end: datetime
    then: Mapping[str, Any]


class _Window:
    """The events inside one correlation's window, per key value, in time order.

    ``order`` holds every event of every key in arrival order, which is time
    order, so expiry pops from its front and costs O(1) per event that
    leaves, however many keys there are.
    """

    __slots__ = ("by_key", "order")

    def __init__(self) -> None:
        self.by_key: dict[Key, deque[tuple[int, str]]] = {}
        self.order: deque[tuple[int, Key]] = deque()

    def expire(self, cutoff: int) -> dict[Key, int]:
        """Drop events before ``cutoff``; the keys that lost some, with their new count."""
        changed: dict[Key, int] = {}
        order, by_key = self.order, self.by_key
        while order and order[0][0] < cutoff:
            key = order.popleft()[1]
            events = by_key[key]
            events.popleft()
            changed[key] = len(events)
            if not events:
                del by_key[key]
        return changed

    def add(self, key: Key, at: int, case_id: str) -> deque[tuple[int, str]]:
        self.order.append((at, key))
        events = self.by_key.get(key)
        if events is None:
            events = self.by_key[key] = deque()
        events.append((at, case_id))
        return events


class _CorrelatorBase(ABC):
    """Window keeping, validation and signal building shared by both correlators.

    Subclasses decide only whether a key has reached its count
    (:meth:`_reached`) and hear about keys whose count fell
    (:meth:`_fell`).
    """

    def __init__(self, spec: CorrelationSpec) -> None:
        self.spec = spec
        self._windows = [_Window() for _ in spec.correlations]
        self._within = [c.within // _MICROSECOND for c in spec.correlations]
        self._last: datetime | None = None
        self._closed = False

    @classmethod
    def load(cls, source: str | os.PathLike[str]) -> Self:
        """A correlator for a correlation file (path, or YAML text with a newline)."""
        return cls(load_correlations(source))

    def observe(self, event: CorrelationEvent | Event) -> list[Signal]:
        """Count one new case; the signals it raises, in file order.

        A csflow :class:`~csflow.model.Event` other than a ``start`` event is
        ignored, so a correlator can be fed a store's whole event stream.
        Bad input raises :class:`~csflow.errors.InvalidFacts` before anything
        is counted.
        """
        if self._closed:
            raise CsflowError(f"{type(self).__name__} is closed; create a new one")
        if isinstance(event, Event):
            if event.type != _START:
                return []
            event = CorrelationEvent.from_event(event)
        at = self._micros(event)
        values = [self._value(c, event) for c in self.spec.correlations]
        signals: list[Signal] = []
        for index, correlation in enumerate(self.spec.correlations):
            window = self._windows[index]
            fell = window.expire(at - self._within[index])
            if fell:
                self._fell(index, fell)
            value = values[index]
            if value is None:
                continue
            events = window.add(value, at, event.case_id)
            if self._reached(index, value, len(events)):
                signals.append(Signal(
                    correlation=correlation.id, kind=correlation.kind, key=correlation.key,
                    value=value, count=len(events),
                    case_ids=tuple(case_id for _, case_id in events),
                    window_start=event.occurred_at - correlation.within,
                    window_end=event.occurred_at, then=correlation.then,
                ))
        self._last = event.occurred_at
        return signals

    @property
    def live(self) -> int:
        """How many events are inside some window (what this correlator holds)."""
        return sum(len(w.order) for w in self._windows)

    def close(self) -> None:
        """Forget every window; the correlator cannot be used afterwards."""
        self._closed = True
        self._windows = [_Window() for _ in self.spec.correlations]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @abstractmethod
    def _reached(self, correlation: int, value: Key, count: int) -> bool:
        """Whether this event, bringing ``value`` to ``count``, raises a signal."""

    @abstractmethod
    def _fell(self, correlation: int, counts: dict[Key, int]) -> None:
        """Keys of one correlation whose count went down (to 0 for keys now gone)."""

    def _micros(self, event: CorrelationEvent) -> int:
        occurred = event.occurred_at
        if occurred.utcoffset() is None:
            raise InvalidFacts(
                self.spec.file, "occurred_at",
                f"case {event.case_id}: {occurred.isoformat()} has no time zone; "
                "give a timezone-aware time (UTC inside csflow)",
            )
        if self._last is not None and occurred < self._last:
            raise InvalidFacts(
                self.spec.file, "occurred_at",
                f"case {event.case_id} at {occurred.isoformat()} is earlier than the last "
                f"event observed ({self._last.isoformat()}); feed events in time order",
            )
        return (occurred - _EPOCH) // _MICROSECOND

    def _value(self, correlation: Correlation, event: CorrelationEvent) -> Key | None:
        value = event.get(correlation.key)
        if value is None or (isinstance(value, (str, int)) and not isinstance(value, bool)):
            return value
        raise InvalidFacts(
            correlation.id, correlation.key,
            f"case {event.case_id}: the key must be text or a whole number, "
            f"not {type(value).__name__}",
        )


class ReferenceCorrelator(_CorrelatorBase):
    """Plain-Python correlator: a key signals when its count becomes exactly ``count``.

    It is the oracle the durable-rules :class:`Correlator` is tested and
    benchmarked against, and a complete implementation in its own right.
    """

    def _reached(self, correlation: int, value: Key, count: int) -> bool:
        return count == self.spec.correlations[correlation].count

    def _fell(self, correlation: int, counts: dict[Key, int]) -> None:
        """Nothing to do: whether a key signals follows from its count alone."""


class Correlator(_CorrelatorBase):
    """Correlator whose fire / re-arm state lives in a private durable-rules ruleset.

    Each instance owns its own ruleset (unique name, never registered in
    durable-rules' global host), so two correlators in one process never see
    each other's facts. :meth:`close` deletes the ruleset; use the
    correlator as a context manager. Not thread-safe: one instance per
    event stream.
    """

    def __init__(self, spec: CorrelationSpec) -> None:
        super().__init__(spec)
        self._engine = DurableThresholds([c.count for c in spec.correlations])
        self._ids: list[dict[Key, int]] = [{} for _ in spec.correlations]
        self._next_id = 0

    def _reached(self, correlation: int, value: Key, count: int) -> bool:
        ids = self._ids[correlation]
        key_id = ids.get(value)
        if key_id is None:
            # Small integer ids keep arbitrary customer text out of the
            # engine's JSON and make its joins integer comparisons.
            key_id = ids[value] = self._next_id
            self._next_id += 1
        return self._engine.set(correlation, key_id, count)

    def _fell(self, correlation: int, counts: dict[Key, int]) -> None:
        ids = self._ids[correlation]
        for value, count in counts.items():
            key_id = ids[value] if count else ids.pop(value)
            self._engine.set(correlation, key_id, count)

    def engine_facts(self, correlation: int) -> list[dict[str, Any]]:
        """The facts durable-rules holds for one correlation (index in file order)."""
        if self._closed:
            # The native ruleset is gone; reading its handle is undefined.
            raise CsflowError("Correlator is closed; its engine facts are gone")
        return self._engine.facts(correlation)

    def close(self) -> None:
        """Delete the durable-rules ruleset and forget every window."""
        super().close()
        self._engine.close()
        self._ids = [{} for _ in self.spec.correlations]
