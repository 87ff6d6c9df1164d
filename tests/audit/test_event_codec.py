"""Stored text -> Event: the fast decoder (msgspec) must give what the dict path gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csflow._canonical import canonical_json, event_from_dict, event_from_json, event_to_dict
from csflow.model import Actor, Decision, Event

from .test_verify_fast import json_values

T0 = datetime(2024, 1, 1, tzinfo=UTC)

objects = st.dictionaries(st.text(max_size=6), json_values, max_size=4)
decisions = st.builds(
    Decision, name=st.text(max_size=5), ruleset_version=st.text(max_size=5), inputs=objects,
    outputs=objects, matched=st.lists(st.text(max_size=3), max_size=2).map(tuple),
    title=st.text(max_size=5), trace=st.just(()),
)
sealed = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(st.fixed_dictionaries({"salt": st.just("ab"), "value": json_values}),
              st.fixed_dictionaries({"erased": st.just("2024-01-02T00:00:00+00:00")})),
    max_size=2,
)
times = st.integers(0, 10**12).map(lambda us: T0 + timedelta(microseconds=us))
events = st.builds(
    Event, case_id=st.text(max_size=6), seq=st.integers(1, 2**31), type=st.just("transition"),
    workflow=st.just("complaint"), workflow_version=st.integers(1, 9),
    trigger=st.text(max_size=6), source=st.none() | st.text(max_size=6),
    dest=st.text(max_size=6), actor=st.none() | st.builds(Actor, st.text(max_size=4),
                                                           st.text(max_size=4)),
    data=objects, decisions=st.lists(decisions, max_size=2).map(tuple), occurred_at=times,
    recorded_at=times, idempotency_key=st.none() | st.text(max_size=6),
    prev_hash=st.just("0" * 64), hash=st.just("1" * 64),
    pii_digests=st.dictionaries(st.text(max_size=6), st.just("2" * 64), max_size=2),
    pii=sealed,
)


def stored(e: Event) -> tuple[str, str | None]:
    """The payload and pii columns, as the SQL store writes them."""
    payload = event_to_dict(e)
    pii = payload.pop("pii")
    return canonical_json(payload).decode(), canonical_json(pii).decode() if pii else None


def by_dict(payload: str, pii: str | None) -> Event:
    d = orjson.loads(payload)
    if pii is not None:
        d["pii"] = orjson.loads(pii)
    return event_from_dict(d)


@settings(deadline=None, max_examples=300)
@given(events)
def test_every_event_comes_back_as_it_was_stored(e: Event) -> None:
    payload, pii = stored(e)
    decoded = event_from_json(payload, pii)
    assert decoded == e == by_dict(payload, pii)
    assert all(type(d) is Decision for d in decoded.decisions)
    assert decoded.occurred_at.tzinfo is UTC and decoded.recorded_at.tzinfo is UTC


def test_a_data_key_named_decisions_does_not_hide_the_events_own() -> None:
    decision = Decision("d", "v", {"a": 1}, {"b": 2}, ("r",), "t")
    nested: list[dict[str, Any]] = [{"decisions": []}, {"x": {"decisions": []}}]
    for data in nested:
        event = Event("c", 1, "start", "w", 1, "start", None, "s", None, data, (decision,), T0,
                      T0, None, "0" * 64, "1" * 64)
        assert event_from_json(*stored(event)) == event


def test_text_the_engine_would_not_write_is_read_as_the_dict_path_reads_it() -> None:
    """Lenient where event_from_dict is (numbers as text, nulls, missing keys), and no more."""
    payload = orjson.loads(stored(
        Event("c", 3, "start", "w", 1, "start", None, "s", Actor("a", "r"), {}, (), T0, T0,
              None, "0" * 64, "1" * 64))[0])
    variants: list[dict[str, Any]] = [
        {**payload, "seq": "3"},
        {**payload, "workflow_version": 1.0},
        {**payload, "data": None, "pii_digests": None},
        {k: v for k, v in payload.items() if k not in ("source", "decisions", "data")},
        {**payload, "decisions": [{"name": "d", "ruleset_version": "v"}]},
        {**payload, "occurred_at": "2024-01-01T02:00:00+02:00"},
    ]
    for variant in variants:
        text = orjson.dumps(variant).decode()
        for pii in (None, "null", '{"p":{"salt":"ab","value":1}}'):
            assert event_from_json(text, pii) == by_dict(text, pii)
    missing = orjson.dumps({k: v for k, v in payload.items() if k != "dest"}).decode()
    for decode in (event_from_json, by_dict):
        with pytest.raises(KeyError, match="dest"):
            decode(missing, None)
