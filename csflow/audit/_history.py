"""One case as it was at any instant, and its timeline, from its events alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from csflow._canonical import first_break
from csflow._replay import replay
from csflow.errors import CaseNotFound, ChainBroken, UnknownDefinition
from csflow.model import Case, Event
from csflow.stores.base import Store
from csflow.workflows import WorkflowDef, bundled_workflows

Workflows = Mapping[tuple[str, int], WorkflowDef]


def workflows_by_key(defs: Iterable[WorkflowDef] | None = None) -> Workflows:
    """``{(name, version): definition}`` of ``defs`` (the bundled workflows by default)."""
    return {wf.key: wf for wf in (bundled_workflows() if defs is None else defs)}


def workflow_for(workflows: Workflows, name: str, version: int) -> WorkflowDef:
    try:
        return workflows[(name, version)]
    except KeyError:
        raise UnknownDefinition("workflow", name, sorted({n for n, _ in workflows}),
                                version) from None


@dataclass(frozen=True)
class CaseHistory:
    """A case rebuilt at ``as_of`` (None: now) from ``events`` (those up to then).

    ``broken`` is the first broken link of the stored history, if any: the
    history is still shown, because an auditor needs to see what is there.
    """

    case: Case
    events: tuple[Event, ...]
    as_of: datetime | None
    broken: ChainBroken | None


def case_history(
    store: Store, case_id: str, *, as_of: datetime | None = None,
    workflows: Workflows | None = None,
) -> CaseHistory:
    """Rebuild ``case_id`` as of ``as_of`` (aware datetime) from its stored events.

    Raises :class:`CaseNotFound` when the case has no events, and
    ``ValueError`` when it did not exist yet at ``as_of``.
    """
    if as_of is not None and as_of.utcoffset() is None:
        raise ValueError(f"as_of {as_of.isoformat()} has no time zone; give one, e.g. ...Z")
    events = store.load_events(case_id)
    if not events:
        raise CaseNotFound(case_id)
    wf = workflow_for(workflows_by_key() if workflows is None else workflows,
                      events[0].workflow, events[0].workflow_version)
    broken = first_break(events, case_id)
    usable: Sequence[Event] = events if broken is None else events[: broken.seq - 1]
    if not usable:
        raise broken or CaseNotFound(case_id)
    case = replay(wf, usable, as_of=as_of)
    shown = tuple(e for e in usable if e.seq <= case.version)
    return CaseHistory(case, shown, as_of, broken)
