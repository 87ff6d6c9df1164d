"""Timers and the outbox for :class:`~csflow.stores.memory.MemoryStore`.

A mixin so the store keeps one lock for everything: an append changes the
snapshot, events, timers and outbox under it, which is what makes the four
atomic together, and claims take the same lock, which is what makes two
threads' claims disjoint.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import msgspec

from csflow._outbox import DELIVERED, FAILED, PENDING, OutboxMessage
from csflow._timers import Timer, TimerChanges

_FAR = datetime.max.replace(tzinfo=UTC)


class MemoryTimers:
    _lock: threading.Lock

    def _init_timers(self) -> None:
        # By case, then timer id: a fire reads one case's timers, and scanning
        # every case's would make each state change cost O(all open cases).
        self._timers: dict[str, dict[str, Timer]] = {}
        self._timer_leases: dict[str, datetime] = {}
        self._outbox: dict[str, OutboxMessage] = {}
        self._outbox_leases: dict[str, datetime] = {}

    def _check_outbox(self, outbox: Sequence[OutboxMessage]) -> None:
        """Refuse a batch that could not be applied whole (called under the lock)."""
        if not outbox:
            return
        ids = [m.id for m in outbox]
        if len(set(ids)) != len(ids) or any(i in self._outbox for i in ids):
            raise ValueError(f"outbox message ids must be new and unique: {ids}")

    def _apply_timers(
        self, case_id: str, timers: TimerChanges, outbox: Sequence[OutboxMessage]
    ) -> None:
        """Write an append's timer changes and messages (under the lock, after checks)."""
        if timers.drop or timers.put:
            own = self._timers.setdefault(case_id, {})
            for timer_id in timers.drop:
                own.pop(timer_id, None)
                self._timer_leases.pop(timer_id, None)
            for t in timers.put:
                own[t.id] = t if t.attempts == 0 else msgspec.structs.replace(t, attempts=0)
                self._timer_leases.pop(t.id, None)
        for m in outbox:
            self._outbox[m.id] = dataclasses.replace(
                m, status=PENDING, attempts=0, next_attempt_at=m.created_at
            )

    def _forget_case(self, case_id: str) -> None:
        """Drop a purged case's timers and messages, as the SQL store's ON DELETE CASCADE does."""
        for timer_id in self._timers.pop(case_id, {}):
            self._timer_leases.pop(timer_id, None)
        for message_id in [i for i, m in self._outbox.items() if m.case_id == case_id]:
            del self._outbox[message_id]
            self._outbox_leases.pop(message_id, None)

    def _all_timers(self) -> Iterator[Timer]:
        for own in self._timers.values():
            yield from own.values()

    def load_timers(self, case_id: str) -> list[Timer]:
        with self._lock:
            return list(self._timers.get(case_id, {}).values())

    def iter_timers(self) -> Iterator[Timer]:
        with self._lock:
            timers = sorted(self._all_timers(), key=lambda t: (t.due_at or _FAR, t.id))
        return iter(timers)

    def claim_timers(
        self, now: datetime, *, limit: int, lease_until: datetime, worker: str
    ) -> list[Timer]:
        with self._lock:
            due = sorted(
                (
                    t
                    for t in self._all_timers()
                    if t.due_at is not None
                    and t.due_at <= now
                    and self._timer_leases.get(t.id, now) <= now
                ),
                key=lambda t: (t.due_at, t.id),
            )[:limit]
            claimed = [msgspec.structs.replace(t, attempts=t.attempts + 1) for t in due]
            for t in claimed:
                self._timers[t.case_id][t.id] = t
                self._timer_leases[t.id] = lease_until
            return claimed

    def claim_outbox(
        self, now: datetime, *, limit: int, lease_until: datetime
    ) -> list[OutboxMessage]:
        with self._lock:
            due = [
                m
                for m in self._outbox.values()
                if m.status == PENDING
                and m.next_attempt_at is not None
                and m.next_attempt_at <= now
                and self._outbox_leases.get(m.id, now) <= now
            ][:limit]
            for m in due:
                self._outbox_leases[m.id] = lease_until
            return due

    def outbox_delivered(self, message_id: str, *, at: datetime) -> None:
        with self._lock:
            m = self._outbox[message_id]
            self._outbox[message_id] = dataclasses.replace(
                m, status=DELIVERED, delivered_at=at, next_attempt_at=None,
                attempts=m.attempts + 1,
            )
            self._outbox_leases.pop(message_id, None)

    def outbox_failed(self, message_id: str, *, error: str, retry_at: datetime | None) -> None:
        with self._lock:
            m = self._outbox[message_id]
            self._outbox[message_id] = dataclasses.replace(
                m,
                status=PENDING if retry_at is not None else FAILED,
                attempts=m.attempts + 1,
                next_attempt_at=retry_at,
                last_error=error,
            )
            self._outbox_leases.pop(message_id, None)

    def outbox_messages(self, case_id: str | None = None) -> list[OutboxMessage]:
        with self._lock:
            return [m for m in self._outbox.values() if case_id is None or m.case_id == case_id]
