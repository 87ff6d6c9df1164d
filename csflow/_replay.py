"""Rebuild a case from its events: pure, no store, no rules, no transitions.

Every event records its destination and the full data change (decision
outputs included), so replay applies recorded facts instead of re-running
logic; that makes it both fast and independent of today's rule files.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from csflow._data import ERASED, merge, nest
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
    """
    case: Case | None = None
    terminal = workflow.terminal_states
    for e in events:
        if as_of is not None and e.occurred_at > as_of:
            break
        expected = 1 if case is None else case.version + 1
        if e.seq != expected or (case is not None and e.case_id != case.id):
            raise ChainBroken(e.case_id, e.seq, "gap", f"expected seq {expected}")
        data = merge({} if case is None else case.data, e.data)
        for path, sealed in e.pii.items():
            value = sealed.get("value", ERASED) if isinstance(sealed, dict) else ERASED
            data = merge(data, nest(path, value))
        state = e.dest
        case = Case(
            id=e.case_id,
            workflow=e.workflow,
            workflow_version=e.workflow_version,
            state=state,
            data=data,
            version=e.seq,
            created_at=e.occurred_at if case is None else case.created_at,
            updated_at=e.occurred_at,
            last_hash=e.hash,
            terminal=state in terminal,
        )
    if case is None:
        raise ValueError("no events to replay (the case did not exist at that time)")
    return case


__all__ = ["replay"]
