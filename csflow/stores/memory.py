"""An in-memory store: for tests, examples and the in-process benchmark.

It keeps the same contract as the SQL store (atomic appends, optimistic
concurrency, idempotency keys), guarded by a lock so threads can share it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType

import msgspec

from csflow._canonical import canonical_json, event_to_dict
from csflow._outbox import OutboxMessage
from csflow._timers import NO_CHANGES, TimerChanges
from csflow.errors import CaseAlreadyExists, CaseNotFound, ConcurrencyConflict
from csflow.model import Case, Event
from csflow.stores._check import check_append
from csflow.stores._erase import erased_data, erased_pii
from csflow.stores._memory_timers import MemoryTimers
from csflow.stores.base import AuditRecord, RawCase, RawEvent


class MemoryStore(MemoryTimers):
    """Keeps everything in dicts; nothing survives the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cases: dict[str, Case] = {}
        self._events: dict[str, list[Event]] = {}
        # (case id, seq) in recording order: erasure replaces Event values in
        # ``_events``, and the log must see the replacements.
        self._log: list[tuple[str, int]] = []
        self._keys: dict[str, tuple[str, int]] = {}
        self._rulesets: dict[str, Mapping[str, str]] = {}
        self._records: list[AuditRecord] = []
        self._init_timers()

    def append(
        self,
        snapshot: Case,
        events: Sequence[Event],
        expected_version: int,
        *,
        timers: TimerChanges = NO_CHANGES,
        outbox: Sequence[OutboxMessage] = (),
    ) -> None:
        check_append(snapshot, events, expected_version)
        with self._lock:
            self._check_outbox(outbox)
            current = self._cases.get(snapshot.id)
            if expected_version == 0 and current is not None:
                raise CaseAlreadyExists(snapshot.id)
            actual = 0 if current is None else current.version
            if actual != expected_version:
                raise ConcurrencyConflict(snapshot.id, expected_version, actual)
            keys = [(e.idempotency_key, e.seq) for e in events if e.idempotency_key is not None]
            if any(k in self._keys for k, _ in keys):
                raise ConcurrencyConflict(snapshot.id, expected_version, actual)
            # Validated above, so nothing below can fail half-way.
            self._events.setdefault(snapshot.id, []).extend(events)
            self._log.extend([(snapshot.id, e.seq) for e in events])
            for k, seq in keys:
                self._keys[k] = (snapshot.id, seq)
            self._cases[snapshot.id] = snapshot
            if timers or outbox:
                self._apply_timers(snapshot.id, timers, outbox)

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

    def iter_cases(self) -> Iterator[Case]:
        return iter(list(self._cases.values()))

    def iter_events(self) -> Iterator[Event]:
        with self._lock:
            log = [self._events[cid][seq - 1] for cid, seq in self._log]
        return iter(log)

    def iter_raw_events(self) -> Iterator[RawEvent]:
        for e in self.iter_events():
            payload = event_to_dict(e)
            pii = payload.pop("pii")
            yield (e.case_id, e.seq, e.hash, canonical_json(payload).decode(),
                   canonical_json(pii).decode() if pii else None)

    def iter_raw_cases(self) -> Iterator[RawCase]:
        for c in self.iter_cases():
            yield c.id, c.version, c.last_hash, c.state, canonical_json(c.data).decode()

    def save_ruleset(self, version: str, files: Mapping[str, str]) -> None:
        with self._lock:
            self._rulesets.setdefault(version, MappingProxyType(dict(files)))

    def load_ruleset(self, version: str) -> Mapping[str, str] | None:
        return self._rulesets.get(version)

    def erase_pii(self, case_id: str, paths: Sequence[str], record: AuditRecord) -> int:
        with self._lock:
            case = self.load_case(case_id)
            count = 0
            events = []
            for e in self._events[case_id]:
                pii, n = erased_pii(e.pii, paths, record)
                events.append(msgspec.structs.replace(e, pii=pii) if n else e)
                count += n
            self._events[case_id] = events
            self._cases[case_id] = msgspec.structs.replace(case, data=erased_data(case.data, paths))
            self._records.append(record)
        return count

    def purge_case(self, case_id: str, record: AuditRecord) -> None:
        with self._lock:
            self.load_case(case_id)
            del self._cases[case_id]
            del self._events[case_id]
            self._log = [ref for ref in self._log if ref[0] != case_id]
            self._keys = {k: v for k, v in self._keys.items() if v[0] != case_id}
            self._forget_case(case_id)
            self._records.append(record)

    def add_audit_record(self, record: AuditRecord) -> None:
        with self._lock:
            self._records.append(record)

    def audit_records(self) -> list[AuditRecord]:
        return list(self._records)

    def close(self) -> None:
        """Nothing to release."""
