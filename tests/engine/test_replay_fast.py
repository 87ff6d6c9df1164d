"""Replay folds data in place and builds one Case; it must give what folding copies gives."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csflow._data import ERASED, merge, merge_into, nest
from csflow._replay import replay
from csflow.errors import ChainBroken
from csflow.model import Actor, Case, Event
from csflow.workflows import bundled_workflows

WF = next(w for w in bundled_workflows() if w.name == "complaint")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
STATES = sorted(WF.states)

keys = st.sampled_from(["a", "b", "c", "customer"])
leaves = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=3),
                   st.lists(st.integers(0, 3), max_size=2))
trees = st.recursive(leaves, lambda inner: st.dictionaries(keys, inner, max_size=3), max_leaves=8)
deltas = st.dictionaries(keys, trees, max_size=4)
sealed = st.one_of(
    st.builds(lambda v: {"salt": "00", "value": v}, trees),
    st.just({"erased_at": "2024-01-02T00:00:00Z"}),
    st.just("not a mapping"),
)
piis = st.dictionaries(st.sampled_from(["customer.name", "customer.email", "a.b.c"]), sealed,
                       max_size=2)


def _event(seq: int, data: dict[str, Any], pii: dict[str, Any], dest: str) -> Event:
    at = T0 + timedelta(hours=seq)
    return Event(case_id="c1", seq=seq, type="start" if seq == 1 else "transition",
                 workflow="complaint", workflow_version=1, trigger="t", source=None, dest=dest,
                 actor=Actor("a", "agent"), data=data, decisions=(), occurred_at=at,
                 recorded_at=at, idempotency_key=None, prev_hash="0" * 64, hash=f"{seq:064x}",
                 pii_digests={}, pii=pii)


def _reference(events: list[Event]) -> Case:
    """The plain definition: copy-merge every event, a new Case after each."""
    case: Case | None = None
    for e in events:
        data = merge({} if case is None else case.data, e.data)
        for path, s in e.pii.items():
            data = merge(data, nest(path, s.get("value", ERASED) if isinstance(s, dict)
                                    else ERASED))
        case = Case(id=e.case_id, workflow=e.workflow, workflow_version=e.workflow_version,
                    state=e.dest, data=data, version=e.seq,
                    created_at=e.occurred_at if case is None else case.created_at,
                    updated_at=e.occurred_at, last_hash=e.hash,
                    terminal=e.dest in WF.terminal_states)
    assert case is not None
    return case


@settings(deadline=None)  # a loaded CI machine must not fail it
@given(st.lists(st.tuples(deltas, piis, st.sampled_from(STATES)), min_size=1, max_size=6),
       st.integers(0, 7))
def test_replay_equals_copy_merging_and_leaves_events_alone(
    steps: list[tuple[dict[str, Any], dict[str, Any], str]], cut: int
) -> None:
    events = [_event(i + 1, d, p, s) for i, (d, p, s) in enumerate(steps)]
    before = copy.deepcopy(events)
    assert replay(WF, events) == _reference(events)
    assert events == before  # nested values are shared, never written through
    as_of = T0 + timedelta(hours=cut, minutes=30)
    if cut == 0:
        with pytest.raises(ValueError, match="did not exist"):
            replay(WF, events, as_of=as_of)
    else:
        assert replay(WF, events, as_of=as_of) == _reference(events[:cut])


def test_replay_refuses_gaps_and_foreign_events() -> None:
    e1, e2, e3 = (_event(i, {}, {}, "recorded") for i in (1, 2, 3))
    with pytest.raises(ChainBroken, match="expected seq 2"):
        replay(WF, [e1, e3])
    with pytest.raises(ChainBroken, match="expected seq 1"):
        replay(WF, [e2])
    foreign = Event(**{**{f: getattr(e2, f) for f in e2.__slots__}, "case_id": "c2"})
    with pytest.raises(ChainBroken):
        replay(WF, [e1, foreign])


def test_merge_into_changes_only_the_target() -> None:
    shared = {"x": 1}
    target: dict[str, Any] = {"a": shared, "b": 2}
    merge_into(target, {"a": {"y": 2}, "b": {"z": 3}})
    assert target == {"a": {"x": 1, "y": 2}, "b": {"z": 3}}
    assert shared == {"x": 1}
    # any Mapping merges, not only dicts
    merge_into(target, MappingProxyType({"a": MappingProxyType({"x": 5})}))
    assert target["a"] == {"x": 5, "y": 2}
    base = {"a": {"x": 1}}
    assert merge(base, {"a": {"y": 1}}) == {"a": {"x": 1, "y": 1}}
    assert base == {"a": {"x": 1}}
