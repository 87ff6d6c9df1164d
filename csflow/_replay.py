"""Rebuild a case from its events: pure, no store, no rules, no transitions.

Every event records its destination and the full data change (decision
outputs included), so replay applies recorded facts instead of re-running
logic; that makes it both fast and independent of today's rule files.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from csflow._data import ERASED, merge_at, merge_into
from csflow.errors import ChainBroken
from csflow.model import Case, Event
from csflow.workflows._definition import WorkflowDef


def replay(
    workflow: WorkflowDef, events: Iterable[Event], *, as_of: datetime | None = None
) -> Case:
    """The case as it was after its last event (or the last one at or before ``as_of``).

    Raises :class:`ChainBroken` when the seqs are not 1, 2, 3, ... or the
    events belong to another case, and ``ValueError`` when there is no event
    to replay (the case did not exist yet at ``as_of``).

    The data is folded into one dict owned by this call and the :class:`Case`
    built once at the end: per event, that is a few dict writes instead of a
    copy of the tree and a new Case (audit replays whole stores).
    """
    first: Event | None = None
    last: Event | None = None
    data: dict[str, Any] = {}
    expected = 1
    for e in events:
        if as_of is not None and e.occurred_at > as_of:
            break
        if first is None:
            first = e
        if e.seq != expected or e.case_id != first.case_id:
            raise ChainBroken(e.case_id, e.seq, "gap", f"expected seq {expected}")
        # Most events change little and seal nothing: skip the calls then.
        if e.data:
            merge_into(data, e.data)
        if e.pii:
            _unseal(data, e.pii)
        last = e
        expected += 1
    if first is None or last is None:
        raise ValueError("no events to replay (the case did not exist at that time)")
    return Case(
        id=last.case_id,
        workflow=last.workflow,
        workflow_version=last.workflow_version,
        state=last.dest,
        data=data,
        version=last.seq,
        created_at=first.occurred_at,
        updated_at=last.occurred_at,
        last_hash=last.hash,
        terminal=last.dest in workflow.terminal_states,
    )


def _unseal(data: dict[str, Any], pii: Mapping[str, Any]) -> None:
    """Put each sealed value (:data:`ERASED` where it was erased) at its dotted path."""
    for path, sealed in pii.items():
        merge_at(data, path, sealed.get("value", ERASED) if isinstance(sealed, dict) else ERASED)


__all__ = ["replay"]
