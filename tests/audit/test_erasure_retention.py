"""Erasure of one customer's personal data, and retention purges: recorded, chains intact."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from csflow._data import ERASED, get_path
from csflow.audit import erase_customer, export, retention, verify_store

from .conftest import Desk


def test_erasing_a_customer_keeps_chains_and_records_it(desk: Desk) -> None:
    first = desk.store.load_case(desk.case_ids[0])
    customer = first.data["customer"]["id"]
    name = first.data["customer"]["name"]
    theirs = [c for c in desk.case_ids
              if desk.store.load_case(c).data["customer"]["id"] == customer]
    others = [c for c in desk.case_ids if c not in theirs]
    at = datetime(2024, 6, 1, tzinfo=UTC)

    done = erase_customer(desk.store, customer, actor="dpo-1", at=at)

    assert set(done.cases) == set(theirs)
    assert done.values >= 2 * len(theirs)  # name and e-mail at least
    assert verify_store(desk.store).ok
    for case_id in theirs:
        case = desk.store.load_case(case_id)
        assert get_path(case.data, "customer.name") == ERASED
        assert get_path(case.data, "customer.id") == customer
        for e in desk.store.load_events(case_id):
            assert all("value" not in v and "salt" not in v for v in e.pii.values())
    for case_id in others:
        assert get_path(desk.store.load_case(case_id).data, "customer.name") != ERASED
    records = desk.store.audit_records()
    assert {r.case_id for r in records} == set(theirs)
    assert all(r.kind == "erasure" and r.actor == "dpo-1" and r.at == at for r in records)
    archive = io.StringIO()
    export(desk.store, "jsonl", archive)
    assert name not in archive.getvalue() or any(
        desk.store.load_case(c).data["customer"]["name"] == name for c in others)
    # erasing again blanks nothing more, and still records the request
    assert erase_customer(desk.store, customer, actor="dpo-1", at=at).values == 0


def test_erasure_refuses_a_naive_time(desk: Desk) -> None:
    with pytest.raises(ValueError, match="timezone"):
        erase_customer(desk.store, "x", actor="a", at=datetime(2024, 1, 1))


def test_retention_lists_then_purges_closed_cases_past_the_period(
    desk: Desk, tmp_path: Path
) -> None:
    closed = {c for c in desk.case_ids if desk.store.load_case(c).terminal}
    assert closed and closed != set(desk.case_ids)
    last_close = max(desk.store.load_case(c).updated_at for c in closed)
    anchor = verify_store(desk.store).anchor(last_close)

    assert retention(desk.store, 3, now=last_close) == []
    later = last_close + timedelta(days=3 * 366)
    due = retention(desk.store, 3, now=later)
    assert {x.case_id for x in due} == closed
    assert set(desk.store.case_ids()) == set(desk.case_ids)  # listing deletes nothing

    retention(desk.store, 3, now=later, purge=True, actor="records-officer")

    assert set(desk.store.case_ids()) == set(desk.case_ids) - closed
    records = [r for r in desk.store.audit_records() if r.kind == "retention_purge"]
    assert {r.case_id for r in records} == closed
    assert all(r.detail["years"] == 3 and r.detail["last_hash"] for r in records)
    report = verify_store(desk.store, anchor=anchor)
    assert report.ok, report.damage  # purged cases are accounted for by their records
    with pytest.raises(ValueError, match="at least 1"):
        retention(desk.store, 0, now=later)
