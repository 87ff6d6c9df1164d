"""The Store protocol: the one I/O boundary between csflow and a database.

Everything above a store (engine, replay, audit, analytics) is pure and works
on :class:`~csflow.model.Event` and :class:`~csflow.model.Case` values. A store
only has to keep them, atomically and in order. The same contract test suite
(``tests/stores/test_contract.py``) runs against every implementation.

Besides the engine's needs, a store keeps what an audit must be able to rely
on without the application that wrote the events: every ruleset version the
engine used (content-addressed, so a recorded decision can be re-derived
under exactly the rules then in force) and a log of the audit actions that
change stored history on purpose (erasure of personal data, retention
purges, anchors), each written atomically with the change it records.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from csflow._outbox import OutboxMessage
from csflow._timers import NO_CHANGES, Timer, TimerChanges
from csflow.model import Case, Event

#: One event row as stored: ``(case_id, seq, hash, payload, pii)``. ``payload``
#: is the canonical JSON of the event without ``pii`` but with its hash (what
#: :func:`csflow._canonical.event_to_dict` gives, minus ``pii``); ``pii`` is the
#: canonical JSON of ``Event.pii`` or None. Whole-store verification reads
#: these instead of :class:`Event` values because decoding an Event costs
#: several times more than hashing it.
RawEvent = tuple[str, int, str, str, str | None]

#: One case snapshot row as stored: ``(id, version, last_hash, state, data)``,
#: ``data`` being the canonical JSON of ``Case.data``. Whole-store verification
#: reads these instead of :class:`Case` values: it compares a snapshot with its
#: events by canonical bytes, and building a Case (times parsed, data decoded)
#: just to serialise the data again costs more than checking the case's events.
RawCase = tuple[str, int, str, str, str]


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """A deliberate change to stored history, or a checkpoint of it.

    ``kind`` is ``"erasure"`` (personal data blanked), ``"retention_purge"``
    (a closed case deleted after its retention period) or ``"anchor"`` (an
    auditor wrote an anchor file). ``detail`` is a JSON tree saying what was
    done (paths, counts, the purged case's last hash...), never personal data.
    """

    kind: str
    at: datetime
    actor: str
    case_id: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Store(Protocol):
    """Where cases and their events live.

    Implementations must make :meth:`append` atomic: the events and the new
    snapshot are written together or not at all, and a failure leaves the
    store exactly as it was. Case data and event data are JSON trees (the
    engine writes them in JSON form: money, dates and times as text), and
    stores give them back as such.
    """

    def append(
        self,
        snapshot: Case,
        events: Sequence[Event],
        expected_version: int,
        *,
        timers: TimerChanges = NO_CHANGES,
        outbox: Sequence[OutboxMessage] = (),
    ) -> None:
        """Write ``events`` and replace the case's snapshot with ``snapshot``.

        In the same transaction, ``timers.put`` replaces the case's timer rows
        with those ids (a put row's claim lease is cleared), ``timers.drop``
        deletes rows, and ``outbox`` messages are added as pending.

        ``expected_version`` is the case version the caller based its work on;
        0 means the case is new. Raises :class:`~csflow.errors.CaseAlreadyExists`
        when 0 is given for an existing case, and
        :class:`~csflow.errors.ConcurrencyConflict` when the stored version
        differs (or an event's idempotency key is already recorded, because
        that too means someone else got there first; ``actual`` is then None).
        Raises :class:`~csflow.errors.StoreError` when the database fails, and
        ``ValueError`` for a malformed batch (seq gaps, another case's events,
        a snapshot version that is not the last event's seq): a caller bug.
        """
        ...

    def load_case(self, case_id: str) -> Case:
        """The current snapshot. Raises :class:`~csflow.errors.CaseNotFound`."""
        ...

    def load_events(
        self, case_id: str, from_seq: int = 1, to_seq: int | None = None
    ) -> list[Event]:
        """Events of one case with ``from_seq <= seq <= to_seq``, in seq order.

        An unknown case gives an empty list (use :meth:`load_case` to tell).
        """
        ...

    def find_idempotency_key(self, key: str) -> tuple[str, int] | None:
        """(case_id, seq) of the event recorded with ``key``, if any."""
        ...

    def case_ids(self) -> Iterator[str]:
        """Every case id, in the order the cases were created."""
        ...

    def iter_cases(self) -> Iterator[Case]:
        """Every case snapshot, in the order the cases were created."""
        ...

    def iter_events(self) -> Iterator[Event]:
        """Every event in the store, in the order they were recorded."""
        ...

    def iter_raw_events(self) -> Iterator[RawEvent]:
        """Every event row as stored (see :data:`RawEvent`), in the order recorded."""
        ...

    def iter_raw_cases(self) -> Iterator[RawCase]:
        """Every case snapshot row as stored (see :data:`RawCase`), in the order created."""
        ...

    # -- what audit relies on ------------------------------------------------

    def save_ruleset(self, version: str, files: Mapping[str, str]) -> None:
        """Keep the rule files of ruleset ``version`` (``{relative name: text}``).

        Content-addressed and idempotent: saving a version already kept does
        nothing, so every engine may call it at start-up.
        """
        ...

    def load_ruleset(self, version: str) -> Mapping[str, str] | None:
        """The files saved under ``version``, or None if it was never saved."""
        ...

    def erase_pii(self, case_id: str, paths: Sequence[str], record: AuditRecord) -> int:
        """Blank the personal data at ``paths`` in a case, and log ``record``, atomically.

        Every event's sealed value and salt at those paths is replaced by
        ``{"erased": <record.at>}`` (the hashed digests stay, so the chain
        still verifies) and the snapshot's data at those paths becomes
        :data:`csflow._data.ERASED`. Returns how many event values were
        blanked. Raises :class:`~csflow.errors.CaseNotFound`.
        """
        ...

    def purge_case(self, case_id: str, record: AuditRecord) -> None:
        """Delete a case, its events and its idempotency keys, and log ``record``, atomically.

        Raises :class:`~csflow.errors.CaseNotFound`.
        """
        ...

    def add_audit_record(self, record: AuditRecord) -> None:
        """Log an audit action that changes nothing else (an anchor written)."""
        ...

    def audit_records(self) -> list[AuditRecord]:
        """Every audit record, in the order written."""
        ...

    # -- timers and the outbox ------------------------------------------------

    def load_timers(self, case_id: str) -> list[Timer]:
        """The case's timers (running and paused), in no particular order."""
        ...

    def iter_timers(self) -> Iterator[Timer]:
        """Every timer in the store, soonest due first, paused ones last."""
        ...

    def claim_timers(
        self, now: datetime, *, limit: int, lease_until: datetime, worker: str
    ) -> list[Timer]:
        """Lease up to ``limit`` timers due at ``now`` whose lease is free or has run out.

        A claimed timer is invisible to other claims until ``lease_until``.
        Concurrent claims never return the same timer (``FOR UPDATE SKIP
        LOCKED`` on PostgreSQL, the write lock on SQLite). Its ``attempts``
        counts claims. Soonest due first.
        """
        ...

    def claim_outbox(
        self, now: datetime, *, limit: int, lease_until: datetime
    ) -> list[OutboxMessage]:
        """Lease up to ``limit`` pending messages due for (another) attempt, oldest first."""
        ...

    def outbox_delivered(self, message_id: str, *, at: datetime) -> None:
        """Mark a message delivered (so it is never claimed again)."""
        ...

    def outbox_failed(self, message_id: str, *, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: try again at ``retry_at``, or give up when it is None."""
        ...

    def outbox_messages(self, case_id: str | None = None) -> list[OutboxMessage]:
        """Messages of one case (or all), in the order written."""
        ...

    def close(self) -> None:
        """Release connections. The store is unusable afterwards."""
        ...
