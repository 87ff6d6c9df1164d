"""Verify's fast pass (stored text, msgspec) must agree with the slow pass (Events, orjson)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from csflow._canonical import canonical_json, chain_hash, event_to_dict
from csflow.audit import erase_customer, verify_store
from csflow.audit._verify import _decode_hashed

from .conftest import Desk

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
              st.floats(allow_nan=False, allow_infinity=False), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=12,
)


@settings(deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5))
def test_the_fast_decoder_reads_canonical_json_as_orjson_does(data: dict[str, Any]) -> None:
    """Snapshots are compared by canonical bytes, so both decoders must give the same tree."""
    payload = {"case_id": "c", "seq": 1, "dest": "s", "data": data, "pii_digests": {},
               "decisions": [{"inputs": data}]}
    decoded = _decode_hashed(canonical_json(payload))
    assert canonical_json(decoded.data) == canonical_json(data)
    assert all(not isinstance(v, float) or math.isfinite(v) for v in decoded.data.values())


def test_a_rehashed_event_the_engine_could_not_have_written_is_found(sql_desk: Desk) -> None:
    """Valid hash, but ``seq`` as text: the fast pass hands it to the slow pass, no crash."""
    case_id = max(sql_desk.case_ids, key=lambda c: sql_desk.store.load_case(c).version)
    last = sql_desk.store.load_events(case_id)[-1]
    payload = event_to_dict(last)
    del payload["pii"], payload["hash"]
    payload["seq"] = str(last.seq)
    h = chain_hash(last.prev_hash, canonical_json(payload))
    payload["hash"] = h
    sql_desk.sql("UPDATE csflow_events SET payload = :p, hash = :h WHERE case_id = :c AND "
                 "seq = :s", p=canonical_json(payload).decode(), h=h, c=case_id, s=last.seq)
    report = verify_store(sql_desk.store)
    assert [(d.case_id, d.seq, d.kind) for d in report.damage] == [(case_id, last.seq, "edited")]
    assert case_id not in report.heads


def test_stored_text_that_is_not_byte_canonical_but_sound_keeps_its_head(
    sql_desk: Desk,
) -> None:
    """The fast pass doubts it, the slow pass clears it: no damage, and it is anchored."""
    case_id = sql_desk.case_ids[0]
    sql_desk.sql("UPDATE csflow_events SET payload = replace(payload, '\"seq\":', '\"seq\": ') "
                 "WHERE case_id = :c AND seq = 1", c=case_id)
    report = verify_store(sql_desk.store)
    assert report.ok, report.damage
    assert set(report.heads) == set(sql_desk.case_ids)


def test_snapshot_text_that_is_not_byte_canonical_but_sound_keeps_its_head(
    sql_desk: Desk,
) -> None:
    """Snapshots are compared by the digest of their stored text: the slow pass clears this."""
    case_id = sql_desk.case_ids[0]
    sql_desk.sql("UPDATE csflow_cases SET data = ' ' || data WHERE id = :c", c=case_id)
    report = verify_store(sql_desk.store)
    assert report.ok, report.damage
    assert set(report.heads) == set(sql_desk.case_ids)


def test_nested_data_and_erased_personal_data_fold_as_replay_does(desk: Desk) -> None:
    """Deltas that merge into nested data (the desk has some), and erased values."""
    case = desk.store.load_case(desk.case_ids[0])
    customer = case.data["customer"]["id"]
    erase_customer(desk.store, customer, actor="dpo", at=case.updated_at)
    assert verify_store(desk.store).ok
