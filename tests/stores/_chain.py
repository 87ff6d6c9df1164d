"""Build valid hash-chained batches for store tests, and compare stores by value.

Stores keep values in their JSON form (a Decimal comes back from SQL as the
string it was hashed as), so comparisons go through canonical JSON: equal
there means equal for everything csflow hashes, replays or exports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import orjson

from csflow._canonical import GENESIS, canonical_json, event_hash, event_to_dict, seal_pii
from csflow.model import Actor, Case, Decision, Event
from csflow.stores.base import Store

T0 = datetime(2024, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)

RICH_DATA: Mapping[str, Any] = {
    "amount": Decimal("1234.50"),
    "due": date(2024, 2, 29),
    "seen_at": datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
    "summary": "Zoë's parcel \u2013 東京 ✓ \"quoted\" \\ back\nslash",
    "big": 2**62,
    "ratio": 0.1,
    "flags": [True, False, None],
    "nested": {"z": 1, "a": [{"b": Decimal("-0.01")}]},
}

RICH_DECISION = Decision(
    name="compensation_authority",
    ruleset_version="ab" * 32,
    inputs={"role": "agent", "amount": Decimal("50.00")},
    outputs={"approve": True, "escalate_to": None},
    matched=("agent-refund",),
    title="Who may approve compensation",
)


def events(
    case_id: str,
    first_seq: int,
    n: int,
    prev_hash: str = GENESIS,
    *,
    keys: Sequence[str | None] = (),
    trigger: str = "step",
    data: Mapping[str, Any] | None = None,
    decisions: tuple[Decision, ...] = (),
    pii: Mapping[str, Any] | None = None,
) -> list[Event]:
    """``n`` chained events of ``case_id`` from ``first_seq``, carrying real hashes."""
    out: list[Event] = []
    sealed, digests = seal_pii(pii or {})
    for i in range(n):
        seq = first_seq + i
        at = T0 + timedelta(minutes=seq)
        e = Event(
            case_id=case_id,
            seq=seq,
            type="created" if seq == 1 else "transition",
            workflow="complaint",
            workflow_version=1,
            trigger="start" if seq == 1 else trigger,
            source=None if seq == 1 else "recorded",
            dest="recorded",
            actor=Actor("u7", "agent"),
            data=data if data is not None else {"step": seq},
            decisions=decisions,
            occurred_at=at,
            recorded_at=at + timedelta(microseconds=5),
            idempotency_key=keys[i] if i < len(keys) else None,
            prev_hash=prev_hash,
            hash="",
            pii_digests=digests,
            pii=sealed,
        )
        e = msgspec.structs.replace(e, hash=event_hash(e))
        out.append(e)
        prev_hash = e.hash
    return out


def snapshot_after(base: Case | None, batch: Sequence[Event]) -> Case:
    """The snapshot a store should hold once ``batch`` is appended after ``base``."""
    last = batch[-1]
    data = dict(base.data) if base else {}
    data.update(last.data)
    return Case(
        id=last.case_id,
        workflow=last.workflow,
        workflow_version=last.workflow_version,
        state=last.dest,
        data=data,
        version=last.seq,
        created_at=base.created_at if base else batch[0].occurred_at,
        updated_at=last.occurred_at,
        last_hash=last.hash,
        terminal=False,
    )


def start(case_id: str, n: int = 1, **kw: Any) -> tuple[Case, list[Event]]:
    """A new case's first batch: append it with ``expected_version=0``."""
    batch = events(case_id, 1, n, **kw)
    return snapshot_after(None, batch), batch


def extend(case: Case, n: int = 1, **kw: Any) -> tuple[Case, list[Event]]:
    """The next batch after ``case``: append it with ``expected_version=case.version``."""
    batch = events(case.id, case.version + 1, n, case.last_hash, **kw)
    return snapshot_after(case, batch), batch


def as_json(value: Event | Case) -> Any:
    """What a store must preserve of ``value``: its canonical JSON form."""
    d = event_to_dict(value) if isinstance(value, Event) else msgspec.structs.asdict(value)
    return orjson.loads(canonical_json(d))


def assert_chain(history: Sequence[Event]) -> None:
    """Seqs run 1..n, every hash matches its content and links to the one before."""
    prev = GENESIS
    for want, e in enumerate(history, start=1):
        assert e.seq == want
        assert e.prev_hash == prev
        assert event_hash(e) == e.hash
        prev = e.hash


def dump(store: Store) -> dict[str, Any]:
    """Everything a store exposes, in JSON form: equal dumps mean equal stores."""
    ids = list(store.case_ids())
    log = list(store.iter_events())
    keys = sorted(e.idempotency_key for e in log if e.idempotency_key is not None)
    return {
        "case_ids": ids,
        "cases": [as_json(store.load_case(i)) for i in ids],
        "per_case": {i: [as_json(e) for e in store.load_events(i)] for i in ids},
        "log": [as_json(e) for e in log],
        "keys": {k: store.find_idempotency_key(k) for k in keys},
    }
