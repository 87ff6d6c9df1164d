"""Verify finds and locates every kind of damage, in the stores tampered with directly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from csflow._canonical import canonical_json, event_from_dict, event_hash, event_to_dict
from csflow._replay import replay
from csflow.audit import Anchor, AnchorError, Damage, verify_store
from csflow.model import Event

from .conftest import Desk


def _longest(desk: Desk) -> tuple[str, list[Event]]:
    case_id = max(desk.case_ids, key=lambda c: desk.store.load_case(c).version)
    return case_id, desk.store.load_events(case_id)


def _only(desk: Desk, anchor: Anchor | None = None) -> Damage:
    report = verify_store(desk.store, anchor=anchor)
    assert len(report.damage) == 1, report.damage
    return report.damage[0]


def test_an_untouched_desk_verifies(desk: Desk) -> None:
    seen: list[tuple[int, int]] = []
    report = verify_store(desk.store, progress=lambda done, total: seen.append((done, total)))
    assert report.ok, report.damage
    assert report.cases == len(desk.case_ids)
    assert report.events == sum(desk.store.load_case(c).version for c in desk.case_ids)
    assert seen[-1] == (report.events, report.events)
    assert set(report.heads) == set(desk.case_ids)


def test_edited_field_is_found(sql_desk: Desk) -> None:
    case_id, _ = _longest(sql_desk)
    sql_desk.sql("UPDATE csflow_events SET payload = replace(payload, '\"dest\":\"', "
                 "'\"dest\":\"X') "
                 "WHERE case_id = :c AND seq = 2", c=case_id)
    damage = _only(sql_desk)
    assert (damage.case_id, damage.seq, damage.kind) == (case_id, 2, "edited")


def test_payload_stripped_of_its_hash_is_found(sql_desk: Desk) -> None:
    # Without its hash field the payload hashes like the body it now is, but
    # no reader can load the event any more.
    case_id, events = _longest(sql_desk)
    sql_desk.sql("UPDATE csflow_events SET payload = replace(payload, :field, '') "
                 "WHERE case_id = :c AND seq = 2", field=f',"hash":"{events[1].hash}"',
                 c=case_id)
    damage = _only(sql_desk)
    assert (damage.case_id, damage.seq, damage.kind) == (case_id, 2, "edited")
    assert "cannot be read" in damage.detail


def test_deleted_event_is_found(sql_desk: Desk) -> None:
    case_id, _ = _longest(sql_desk)
    sql_desk.sql("DELETE FROM csflow_events WHERE case_id = :c AND seq = 3", c=case_id)
    damage = _only(sql_desk)
    assert (damage.case_id, damage.seq, damage.kind) == (case_id, 3, "deleted")


def test_swapped_events_are_found(sql_desk: Desk) -> None:
    case_id, _ = _longest(sql_desk)
    for a, b in ((2, -2), (3, 2), (-2, 3)):
        sql_desk.sql("UPDATE csflow_events SET seq = :b WHERE case_id = :c AND seq = :a",
                     a=a, b=b, c=case_id)
    damage = _only(sql_desk)
    assert (damage.case_id, damage.seq, damage.kind) == (case_id, 2, "reordered")


def test_inserted_event_is_found(sql_desk: Desk) -> None:
    """A forged event, validly chained to seq 2, slipped in before the real seq 3."""
    case_id, events = _longest(sql_desk)
    sql_desk.sql("UPDATE csflow_events SET seq = seq + 1000 WHERE case_id = :c AND seq >= 3",
                 c=case_id)
    sql_desk.sql("UPDATE csflow_events SET seq = seq - 999 WHERE case_id = :c AND seq > 1000",
                 c=case_id)
    forged = _rehashed(events[2], data={"note": "forged"}, prev_hash=events[1].hash,
                       idempotency_key=None, pii={}, pii_digests={})
    _insert(sql_desk, forged)
    damage = _only(sql_desk)
    assert (damage.case_id, damage.seq, damage.kind) == (case_id, 3, "inserted")


def test_edited_and_rehashed_event_is_found_by_the_next_link(sql_desk: Desk) -> None:
    case_id, events = _longest(sql_desk)
    changed = _rehashed(events[1], data={"note": "rewritten"})
    sql_desk.sql("DELETE FROM csflow_events WHERE case_id = :c AND seq = 2", c=case_id)
    _insert(sql_desk, changed)
    damage = _only(sql_desk)
    assert (damage.case_id, damage.seq, damage.kind) == (case_id, 2, "edited")


def test_truncated_tail_is_found_by_the_snapshot(sql_desk: Desk) -> None:
    case_id, events = _longest(sql_desk)
    sql_desk.sql("DELETE FROM csflow_events WHERE case_id = :c AND seq >= :s",
                 c=case_id, s=len(events) - 1)
    damage = _only(sql_desk)
    assert (damage.case_id, damage.seq, damage.kind) == (case_id, len(events) - 1, "truncated")


def test_truncated_tail_with_rewound_snapshot_needs_an_anchor(
    sql_desk: Desk, tmp_path: Path
) -> None:
    case_id, events = _longest(sql_desk)
    before = verify_store(sql_desk.store)
    before.anchor(events[-1].recorded_at).write(tmp_path / "anchor.json")
    keep = events[-3]
    sql_desk.sql("DELETE FROM csflow_events WHERE case_id = :c AND seq > :s",
                 c=case_id, s=keep.seq)
    _rewind_snapshot(sql_desk, case_id)

    assert verify_store(sql_desk.store).ok  # the limit of a chain alone: see docs/audit.md
    damage = _only(sql_desk, Anchor.read(tmp_path / "anchor.json"))
    assert (damage.case_id, damage.seq, damage.kind) == (case_id, keep.seq + 1, "truncated")


def test_snapshot_disagreeing_with_the_events_is_found(sql_desk: Desk) -> None:
    # Any case whose complaint is still handled at agent level will do.
    case_id = next(c for c in sql_desk.case_ids
                   if sql_desk.store.load_case(c).data.get("handling_level") == "agent")
    sql_desk.sql("UPDATE csflow_cases SET data = replace(data, '\"agent\"', '\"director\"') "
                 "WHERE id = :c", c=case_id)
    damage = _only(sql_desk)
    assert (damage.case_id, damage.kind) == (case_id, "snapshot")
    assert "handling_level" in damage.detail


def test_edited_personal_data_is_found(sql_desk: Desk) -> None:
    case_id = sql_desk.case_ids[0]
    sql_desk.sql("UPDATE csflow_events SET pii = replace(pii, '@example.com', '@evil.example') "
                 "WHERE case_id = :c AND seq = 1", c=case_id)
    damage = _only(sql_desk)
    assert (damage.case_id, damage.seq, damage.kind) == (case_id, 1, "edited")
    assert "personal data" in damage.detail


def test_case_gone_without_a_retention_record_is_found_by_the_anchor(
    sql_desk: Desk, tmp_path: Path
) -> None:
    anchor = verify_store(sql_desk.store).anchor(events_time(sql_desk))
    case_id = sql_desk.case_ids[1]
    sql_desk.sql("DELETE FROM csflow_events WHERE case_id = :c", c=case_id)
    sql_desk.sql("DELETE FROM csflow_cases WHERE id = :c", c=case_id)
    assert verify_store(sql_desk.store).ok
    damage = _only(sql_desk, anchor)
    assert (damage.case_id, damage.kind) == (case_id, "missing")


def test_edited_anchor_file_is_refused(desk: Desk, tmp_path: Path) -> None:
    path = tmp_path / "anchor.json"
    verify_store(desk.store).anchor(events_time(desk)).write(path)
    assert Anchor.read(path).root == verify_store(desk.store).anchor(events_time(desk)).root
    path.write_text(path.read_text().replace('"cases": {', '"cases": {\n    "x": [1, "00"],'))
    with pytest.raises(AnchorError, match="edited"):
        Anchor.read(path)
    path.write_text("{}")
    with pytest.raises(AnchorError, match="csflow-anchor/1"):
        Anchor.read(path)
    with pytest.raises(AnchorError, match="cannot read"):
        Anchor.read(tmp_path / "missing.json")


def events_time(desk: Desk) -> object:
    return desk.store.load_case(desk.case_ids[-1]).updated_at


def _rehashed(e: Event, **changes: Any) -> Event:
    """``e`` with ``changes``, re-hashed as a forger would (built from its dict form, so
    whatever kind of class Event is)."""
    forged = event_from_dict({**event_to_dict(e), **changes})
    return event_from_dict({**event_to_dict(forged), "hash": event_hash(forged)})


def _insert(desk: Desk, e: Event) -> None:
    payload = event_to_dict(e)
    payload.pop("pii")
    desk.sql(
        "INSERT INTO csflow_events (case_id, seq, type, trigger, occurred_at, recorded_at, "
        "idempotency_key, hash, payload, pii) VALUES (:case_id, :seq, :type, :trigger, "
        ":occurred_at, :recorded_at, NULL, :hash, :payload, NULL)",
        case_id=e.case_id, seq=e.seq, type=e.type, trigger=e.trigger,
        occurred_at=e.occurred_at, recorded_at=e.recorded_at, hash=e.hash,
        payload=canonical_json(payload).decode(),
    )


def _rewind_snapshot(desk: Desk, case_id: str) -> None:
    """What a careful forger does after deleting a tail: make the snapshot agree."""
    events = desk.store.load_events(case_id)
    case = replay(desk.engine.workflow("complaint"), events)
    desk.sql("UPDATE csflow_cases SET version = :v, last_hash = :h, state = :s, data = :d, "
             "terminal = :t WHERE id = :c", v=case.version, h=case.last_hash, s=case.state,
             d=canonical_json(case.data).decode(), t=case.terminal, c=case_id)
