"""The Store contract (csflow/stores/base.py), run against every store."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csflow._canonical import GENESIS, canonical_json
from csflow._data import ERASED
from csflow.errors import CaseAlreadyExists, CaseNotFound, ConcurrencyConflict
from csflow.model import Case, Event
from csflow.stores import Store
from csflow.stores.base import AuditRecord

from ._chain import (
    RICH_DATA,
    RICH_DECISION,
    T0,
    as_json,
    assert_chain,
    dump,
    events,
    extend,
    snapshot_after,
    start,
)


def test_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)


def test_round_trip_keeps_everything_hashed_and_personal(store: Store) -> None:
    case, batch = start(
        "c-1", 2, keys=["web-1", None], data=RICH_DATA, decisions=(RICH_DECISION,),
        pii={"customer.name": "Zoë Ångström", "customer.email": "zoe@example.org"},
    )
    store.append(case, batch, 0)

    loaded = store.load_events("c-1")
    assert [as_json(e) for e in loaded] == [as_json(e) for e in batch]
    assert_chain(loaded)
    assert loaded[0].pii["customer.name"]["value"] == "Zoë Ångström"
    assert loaded[0].decisions[0].matched == ("agent-refund",)
    assert as_json(store.load_case("c-1")) == as_json(case)
    assert store.find_idempotency_key("web-1") == ("c-1", 1)


def test_append_continues_a_case(store: Store) -> None:
    case, batch = start("c-1")
    store.append(case, batch, 0)
    case2, batch2 = extend(case, 2, trigger="escalate", data={"reason": "late"})
    store.append(case2, batch2, 1)

    assert store.load_case("c-1").version == 3
    assert store.load_case("c-1").data == {"step": 1, "reason": "late"}
    history = store.load_events("c-1")
    assert [e.trigger for e in history] == ["start", "escalate", "escalate"]
    assert_chain(history)


def test_unknown_case(store: Store) -> None:
    with pytest.raises(CaseNotFound) as info:
        store.load_case("nope")
    assert info.value.case_id == "nope"
    assert store.load_events("nope") == []
    assert store.find_idempotency_key("nope") is None


@pytest.mark.parametrize("stale", [0, 1, 3])
def test_stale_expected_version_conflicts(store: Store, stale: int) -> None:
    case, batch = start("c-1", 2)
    store.append(case, batch, 0)
    before = dump(store)
    batch = events("c-1", stale + 1, 1, GENESIS)
    snapshot = msgspec.structs.replace(case, version=stale + 1)

    with pytest.raises((ConcurrencyConflict, CaseAlreadyExists)) as info:
        store.append(snapshot, batch, stale)

    if stale == 0:
        assert type(info.value) is CaseAlreadyExists
    else:
        assert isinstance(info.value, ConcurrencyConflict)
        assert (info.value.case_id, info.value.expected, info.value.actual) == ("c-1", stale, 2)
    assert dump(store) == before


def test_expected_version_for_a_missing_case_conflicts(store: Store) -> None:
    case, _ = start("c-1")
    batch = events("c-1", 3, 1)
    with pytest.raises(ConcurrencyConflict) as info:
        store.append(msgspec.structs.replace(case, version=3), batch, 2)
    assert info.value.actual == 0
    assert list(store.case_ids()) == []


def test_existing_case_cannot_be_created_again(store: Store) -> None:
    case, batch = start("c-1")
    store.append(case, batch, 0)
    before = dump(store)
    with pytest.raises(CaseAlreadyExists) as info:
        store.append(case, batch, 0)
    assert info.value.case_id == "c-1"
    assert dump(store) == before


def test_recorded_idempotency_key_conflicts_and_nothing_is_kept(store: Store) -> None:
    a, batch = start("a", keys=["k1"])
    store.append(a, batch, 0)
    b, batch_b = start("b")
    store.append(b, batch_b, 0)
    before = dump(store)

    new, batch_new = start("c", keys=["k1"])
    with pytest.raises(ConcurrencyConflict):
        store.append(new, batch_new, 0)
    # the key clash is on the second event: the first and the snapshot must go too
    more, batch_more = extend(b, 2, keys=["k2", "k1"])
    with pytest.raises(ConcurrencyConflict):
        store.append(more, batch_more, 1)

    assert dump(store) == before
    assert store.find_idempotency_key("k1") == ("a", 1)
    assert store.find_idempotency_key("k2") is None


def _gap(case: Case, batch: list[Event]) -> tuple[Case, list[Event], int]:
    return msgspec.structs.replace(case, version=3), events("c-1", 3, 1, case.last_hash), 1


def _other_case(case: Case, batch: list[Event]) -> tuple[Case, list[Event], int]:
    return msgspec.structs.replace(case, version=2), events("c-2", 2, 1), 1


def _snapshot_behind(case: Case, batch: list[Event]) -> tuple[Case, list[Event], int]:
    nxt, more = extend(case, 2)
    return msgspec.structs.replace(nxt, version=2), more, 1


def _no_events(case: Case, batch: list[Event]) -> tuple[Case, list[Event], int]:
    return case, [], 1


def _key_twice(case: Case, batch: list[Event]) -> tuple[Case, list[Event], int]:
    nxt, more = extend(case, 2, keys=["dup", "dup"])
    return nxt, more, 1


def _negative(case: Case, batch: list[Event]) -> tuple[Case, list[Event], int]:
    return case, batch, -1


@pytest.mark.parametrize(
    "malformed", [_gap, _other_case, _snapshot_behind, _no_events, _key_twice, _negative]
)
def test_malformed_batch_is_refused_before_writing(
    store: Store, malformed: Callable[[Case, list[Event]], tuple[Case, list[Event], int]]
) -> None:
    case, batch = start("c-1")
    store.append(case, batch, 0)
    before = dump(store)
    snapshot, bad, expected = malformed(case, batch)
    with pytest.raises(ValueError, match="c-1"):
        store.append(snapshot, bad, expected)
    assert dump(store) == before


@pytest.mark.parametrize(
    ("lo", "hi", "seqs"),
    [(1, None, [1, 2, 3, 4]), (2, None, [2, 3, 4]), (2, 3, [2, 3]), (0, 2, [1, 2]),
     (4, 4, [4]), (5, None, []), (3, 2, []), (1, 99, [1, 2, 3, 4])],
)
def test_load_events_ranges(store: Store, lo: int, hi: int | None, seqs: list[int]) -> None:
    case, batch = start("c-1", 4)
    store.append(case, batch, 0)
    assert [e.seq for e in store.load_events("c-1", lo, hi)] == seqs


def test_iter_events_and_case_ids_follow_recording_order(store: Store) -> None:
    z, bz = start("z")
    a, ba = start("a", 2)
    store.append(z, bz, 0)
    store.append(a, ba, 0)
    z2, bz2 = extend(z)
    store.append(z2, bz2, 1)
    m, bm = start("m")
    store.append(m, bm, 0)

    assert list(store.case_ids()) == ["z", "a", "m"]
    assert [(e.case_id, e.seq) for e in store.iter_events()] == [
        ("z", 1), ("a", 1), ("a", 2), ("z", 2), ("m", 1),
    ]


# -- random histories against a model -----------------------------------------


@dataclasses.dataclass
class Model:
    cases: dict[str, Case] = dataclasses.field(default_factory=dict)
    per_case: dict[str, list[Event]] = dataclasses.field(default_factory=dict)
    log: list[Event] = dataclasses.field(default_factory=list)
    keys: dict[str, tuple[str, int]] = dataclasses.field(default_factory=dict)

    def outcome(self, case_id: str, batch: list[Event], expected: int) -> type[Exception] | None:
        keys = [e.idempotency_key for e in batch if e.idempotency_key]
        if len(keys) != len(set(keys)):
            return ValueError
        current = self.cases.get(case_id)
        if expected == 0 and current is not None:
            return CaseAlreadyExists
        if expected != (current.version if current else 0) or any(k in self.keys for k in keys):
            return ConcurrencyConflict
        return None

    def apply(self, snapshot: Case, batch: list[Event]) -> None:
        self.cases[snapshot.id] = snapshot
        self.per_case.setdefault(snapshot.id, []).extend(batch)
        self.log.extend(batch)
        for e in batch:
            if e.idempotency_key:
                self.keys[e.idempotency_key] = (e.case_id, e.seq)

    def dump(self) -> dict[str, Any]:
        return {
            "case_ids": list(self.cases),
            "cases": [as_json(c) for c in self.cases.values()],
            "per_case": {i: [as_json(e) for e in es] for i, es in self.per_case.items()},
            "log": [as_json(e) for e in self.log],
            "keys": dict(sorted(self.keys.items())),
        }


_step = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from([0, 0, 0, -1, 1]),  # expected version: right, or off by one
    st.lists(st.sampled_from([None, None, "k1", "k2", "k3"]), min_size=1, max_size=3),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(_step, max_size=12))
def test_random_histories_match_a_model(
    new_store: Callable[[], Store], steps: list[tuple[str, int, list[str | None]]]
) -> None:
    store, model = new_store(), Model()
    for case_id, skew, keys in steps:
        base = model.cases.get(case_id)
        expected = max(0, (base.version if base else 0) + skew)
        prev = base.last_hash if base and expected == base.version else GENESIS
        batch = events(case_id, expected + 1, len(keys), prev, keys=keys)
        snapshot = snapshot_after(base if base and expected else None, batch)
        want = model.outcome(case_id, batch, expected)
        if want is None:
            store.append(snapshot, batch, expected)
            model.apply(snapshot, batch)
        else:
            with pytest.raises(want):
                store.append(snapshot, batch, expected)
    assert dump(store) == model.dump()
    for case_id in model.cases:
        assert_chain(store.load_events(case_id))
    store.close()


# -- what audit relies on --------------------------------------------------------

RECORD_AT = T0


def _record(kind: str, case_id: str | None = "c-1", **detail: Any) -> AuditRecord:
    return AuditRecord(kind=kind, at=RECORD_AT, actor="auditor-1", case_id=case_id,
                       detail=detail)


def test_iter_cases_and_raw_events_mirror_what_is_stored(store: Store) -> None:
    a, ba = start("a", 2, pii={"customer.email": "a@example.org"})
    z, bz = start("z")
    store.append(a, ba, 0)
    store.append(z, bz, 0)

    assert [as_json(c) for c in store.iter_cases()] == [as_json(a), as_json(z)]
    raw = list(store.iter_raw_events())
    assert [(r[0], r[1], r[2]) for r in raw] == [(e.case_id, e.seq, e.hash) for e in [*ba, *bz]]
    for (_, _, _, payload, pii), e in zip(raw, [*ba, *bz], strict=True):
        want = as_json(e)
        assert (orjson.loads(pii) if pii else {}) == want.pop("pii")
        assert orjson.loads(payload) == want
        assert payload == canonical_json(want).decode()


def test_rulesets_are_kept_once_by_version(store: Store) -> None:
    files = {"complaint/escalation.yaml": "decision: escalation\n# Zoë ✓\n"}
    assert store.load_ruleset("v1") is None
    store.save_ruleset("v1", files)
    store.save_ruleset("v1", {"other.yaml": "ignored: the version is already kept"})
    store.save_ruleset("v2", {})
    assert dict(store.load_ruleset("v1") or {}) == files
    assert store.load_ruleset("v2") == {}
    assert store.load_ruleset("v3") is None


def test_erase_pii_blanks_values_keeps_the_chain_and_logs(store: Store) -> None:
    pii = {"customer.name": "Zoë", "customer.email": "zoe@example.org"}
    case, batch = start("c-1", 2, pii=pii, data={"customer": {"id": "cust-1"}})
    case = msgspec.structs.replace(case, data={"customer": {"id": "cust-1", "name": "Zoë",
                                                        "email": "zoe@example.org"}})
    store.append(case, batch, 0)
    other, other_batch = start("c-2", pii=pii)
    store.append(other, other_batch, 0)

    erased = store.erase_pii("c-1", ["customer.name", "customer.phone"],
                             _record("erasure", paths=["customer.name"]))

    assert erased == 2
    history = store.load_events("c-1")
    assert_chain(history)
    for e in history:
        assert "value" not in e.pii["customer.name"] and "salt" not in e.pii["customer.name"]
        assert e.pii["customer.email"]["value"] == "zoe@example.org"
        assert e.pii_digests == batch[0].pii_digests
    assert store.load_case("c-1").data == {"customer": {
        "id": "cust-1", "name": ERASED, "email": "zoe@example.org"}}
    assert store.load_events("c-2")[0].pii["customer.name"]["value"] == "Zoë"
    [record] = store.audit_records()
    assert as_json_record(record) == as_json_record(
        _record("erasure", paths=["customer.name"]))
    with pytest.raises(CaseNotFound):
        store.erase_pii("nope", ["customer.name"], _record("erasure", "nope"))
    assert len(store.audit_records()) == 1


def test_purge_case_deletes_everything_of_one_case_and_logs(store: Store) -> None:
    a, ba = start("a", 2, keys=["k-a", None])
    b, bb = start("b", keys=["k-b"])
    store.append(a, ba, 0)
    store.append(b, bb, 0)

    store.purge_case("a", _record("retention_purge", "a", events=2))

    assert list(store.case_ids()) == ["b"]
    with pytest.raises(CaseNotFound):
        store.load_case("a")
    assert store.load_events("a") == []
    assert [e.case_id for e in store.iter_events()] == ["b"]
    assert [r[0] for r in store.iter_raw_events()] == ["b"]
    assert store.find_idempotency_key("k-a") is None
    assert store.find_idempotency_key("k-b") == ("b", 1)
    assert [(r.kind, r.case_id, dict(r.detail)) for r in store.audit_records()] == [
        ("retention_purge", "a", {"events": 2})]
    with pytest.raises(CaseNotFound):
        store.purge_case("a", _record("retention_purge", "a"))
    # the id is free again, as for a case never created
    again, batch = start("a")
    store.append(again, batch, 0)


def test_audit_records_keep_their_order(store: Store) -> None:
    store.add_audit_record(_record("anchor", None, root="ab" * 32))
    store.add_audit_record(_record("erasure", "c-9"))
    assert [(r.kind, r.case_id) for r in store.audit_records()] == [
        ("anchor", None), ("erasure", "c-9")]


def as_json_record(r: AuditRecord) -> Any:
    return orjson.loads(canonical_json(dataclasses.asdict(r)))


def test_iter_raw_cases_mirror_the_snapshots_as_stored(store: Store) -> None:
    """Verify compares snapshots by these rows, so the data must be its canonical text."""
    a, ba = start("a", 2, data=RICH_DATA)
    z, bz = start("z")
    store.append(a, ba, 0)
    store.append(z, bz, 0)
    a2, ba2 = extend(a, data={"reason": "late"})
    store.append(a2, ba2, 2)

    assert list(store.iter_raw_cases()) == [
        (c.id, c.version, c.last_hash, c.state, canonical_json(c.data).decode())
        for c in (a2, z)
    ]
