"""Erasure of one customer's personal data, and retention of closed cases.

Both change stored history on purpose, so both leave an
:class:`~csflow.stores.base.AuditRecord` written atomically with the change,
and neither breaks a chain: erasure blanks only what lies outside the hashed
payload (see ``docs/audit.md``), and a purge removes whole cases, which
verify then accounts for by their retention record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from csflow._canonical import check_json_value
from csflow._data import get_path
from csflow.audit._history import Workflows, workflow_for, workflows_by_key
from csflow.stores.base import AuditRecord, Store

#: Where the bundled workflows keep the customer's reference in case data.
CUSTOMER_KEY = "customer.id"


@dataclass(frozen=True)
class Erasure:
    """What :func:`erase_customer` did: the cases touched and values blanked."""

    customer: str
    cases: tuple[str, ...]
    values: int


def erase_customer(
    store: Store, customer: str, *, actor: str, at: datetime,
    workflows: Workflows | None = None, key: str = CUSTOMER_KEY,
) -> Erasure:
    """Blank the ``pii`` fields of every case whose data has ``key == customer``.

    One atomic store call per case, each with its own record; a failure
    part-way leaves the cases done so far erased and recorded, and running
    it again finishes the rest (erasing twice blanks nothing more).
    """
    _aware(at)
    known = workflows_by_key() if workflows is None else workflows
    targets = [c for c in store.iter_cases() if get_path(c.data, key) == customer]
    total = 0
    for case in targets:
        paths = workflow_for(known, case.workflow, case.workflow_version).pii
        record = AuditRecord("erasure", at, actor, case.id,
                             {"key": key, "customer": customer, "paths": list(paths)})
        total += store.erase_pii(case.id, paths, record)
    return Erasure(customer, tuple(c.id for c in targets), total)


@dataclass(frozen=True)
class Expired:
    """A closed case past its retention period."""

    case_id: str
    workflow: str
    state: str
    closed_at: datetime
    keep_until: datetime
    events: int


def retention(
    store: Store, years: int, *, now: datetime, purge: bool = False, actor: str = "",
) -> list[Expired]:
    """Closed cases kept longer than ``years`` after closing; with ``purge``, delete them.

    A case's closing time is its last event (the one that made it
    terminal). Each purge is one atomic store call that also records the
    case's last hash and seq, so an old anchor still accounts for it.
    """
    _aware(now)
    if years < 1:
        raise ValueError(f"retention of {years} years: give at least 1")
    due = [
        Expired(c.id, c.workflow, c.state, c.updated_at, until, c.version)
        for c in store.iter_cases()
        if c.terminal and (until := _add_years(c.updated_at, years)) <= now
    ]
    if purge:
        for x in due:
            store.purge_case(x.case_id, AuditRecord(
                "retention_purge", now, actor, x.case_id,
                {"years": years, "closed_at": x.closed_at.isoformat(), "events": x.events,
                 "last_hash": store.load_case(x.case_id).last_hash},
            ))
    return due


def _add_years(t: datetime, years: int) -> datetime:
    try:
        return t.replace(year=t.year + years)
    except ValueError:  # 29 February into a common year: keep until 1 March
        return t.replace(year=t.year + years, month=2, day=28) + timedelta(days=1)


def _aware(t: datetime) -> None:
    problem = check_json_value(t, "time")
    if problem:
        raise ValueError(f"{problem}; give an aware datetime (UTC)")


__all__: Sequence[str] = ["CUSTOMER_KEY", "Erasure", "Expired", "erase_customer", "retention"]
