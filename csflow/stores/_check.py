"""The shape every store requires of an append, checked before anything is written."""

from __future__ import annotations

from collections.abc import Sequence

from csflow.model import Case, Event


def check_append(snapshot: Case, events: Sequence[Event], expected_version: int) -> None:
    """Raise ValueError unless ``events`` continue the case gaplessly and end at ``snapshot``.

    A database can only enforce that seqs are unique; a gap, an event of
    another case or a snapshot version that disagrees with the last event
    would be stored without complaint and only found by an audit much later.
    These are bugs in the caller (the engine builds batches), hence
    ValueError rather than a runtime error to catch and retry.
    """
    if expected_version < 0:
        raise ValueError(f"case {snapshot.id}: expected_version {expected_version} is negative")
    if not events:
        raise ValueError(
            f"case {snapshot.id}: append needs at least one event; "
            "a snapshot only changes through events"
        )
    keys: set[str] = set()
    for want, e in enumerate(events, start=expected_version + 1):
        if e.case_id != snapshot.id:
            raise ValueError(f"event {e.seq} belongs to case {e.case_id!r}, not {snapshot.id!r}")
        if e.seq != want:
            raise ValueError(
                f"case {snapshot.id}: event has seq {e.seq} where {want} was expected; "
                "seqs run gapless from expected_version + 1"
            )
        if e.idempotency_key is not None:
            if e.idempotency_key in keys:
                raise ValueError(
                    f"case {snapshot.id}: idempotency key {e.idempotency_key!r} "
                    "appears twice in one append"
                )
            keys.add(e.idempotency_key)
    if snapshot.version != events[-1].seq:
        raise ValueError(
            f"case {snapshot.id}: snapshot version {snapshot.version} does not match "
            f"the last event's seq {events[-1].seq}"
        )
