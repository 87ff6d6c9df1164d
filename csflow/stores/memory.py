"""An in-memory store: for tests, examples and the in-process benchmark.

It keeps the same contract as the SQL store (atomic appends, optimistic
concurrency, idempotency keys), guarded by a lock so threads can share it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from csflow.errors import CaseAlreadyExists, CaseNotFound, ConcurrencyConflict
from csflow.model import Case, Event
from csflow.stores._check import check_append


class MemoryStore:
    """Keeps everything in dicts; nothing survives the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cases: dict[str, Case] = {}
        self._events: dict[str, list[Event]] = {}
        self._log: list[Event] = []
        self._keys: dict[str, tuple[str, int]] = {}

    def append(self, snapshot: Case, events: Sequence[Event], expected_version: int) -> None:
        check_append(snapshot, events, expected_version)
        with self._lock:
            current = self._cases.get(snapshot.id)
            if expected_version == 0 and current is not None:
                raise CaseAlreadyExists(snapshot.id)
            actual = 0 if current is None else current.version
            if actual != expected_version:
                raise ConcurrencyConflict(snapshot.id, expected_version, actual)
            for e in events:
                if e.idempotency_key is not None and e.idempotency_key in self._keys:
                    raise ConcurrencyConflict(snapshot.id, expected_version, actual)
            # Validated above, so nothing below can fail half-way.
            self._events.setdefault(snapshot.id, []).extend(events)
            self._log.extend(events)
            for e in events:
                if e.idempotency_key is not None:
                    self._keys[e.idempotency_key] = (e.case_id, e.seq)
            self._cases[snapshot.id] = snapshot

    def load_case(self, case_id: str) -> Case:
        try:
            return self._cases[case_id]
        except KeyError:
            raise CaseNotFound(case_id) from None

    def load_events(
        self, case_id: str, from_seq: int = 1, to_seq: int | None = None
    ) -> list[Event]:
        events = self._events.get(case_id, [])
        stop = len(events) if to_seq is None else min(to_seq, len(events))
        return events[max(from_seq, 1) - 1 : stop]

    def find_idempotency_key(self, key: str) -> tuple[str, int] | None:
        return self._keys.get(key)

    def case_ids(self) -> Iterator[str]:
        return iter(list(self._cases))

    def iter_events(self) -> Iterator[Event]:
        return iter(list(self._log))

    def close(self) -> None:
        """Nothing to release."""
