"""The Store protocol: the one I/O boundary between csflow and a database.

Everything above a store (engine, replay, audit, analytics) is pure and works
on :class:`~csflow.model.Event` and :class:`~csflow.model.Case` values. A store
only has to keep them, atomically and in order. The same contract test suite
(``tests/stores/test_contract.py``) runs against every implementation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from csflow.model import Case, Event


@runtime_checkable
class Store(Protocol):
    """Where cases and their events live.

    Implementations must make :meth:`append` atomic: the events and the new
    snapshot are written together or not at all, and a failure leaves the
    store exactly as it was. Case data and event data are JSON trees (the
    engine writes them in JSON form: money, dates and times as text), and
    stores give them back as such.
    """

    def append(self, snapshot: Case, events: Sequence[Event], expected_version: int) -> None:
        """Write ``events`` and replace the case's snapshot with ``snapshot``.

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

    def iter_events(self) -> Iterator[Event]:
        """Every event in the store, in the order they were recorded."""
        ...

    def close(self) -> None:
        """Release connections. The store is unusable afterwards."""
        ...
