"""Exports: JSON Lines round-trips, CSV reads back, XES and OCEL 2.0 load in pm4py."""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import orjson
import pytest

from csflow._canonical import canonical_json, event_from_dict, event_to_dict
from csflow.audit import export
from csflow.audit._export import CSV_COLUMNS

from .conftest import Desk


def _events(desk: Desk) -> int:
    return sum(1 for _ in desk.store.iter_events())


def test_jsonl_is_lossless(desk: Desk) -> None:
    out = io.StringIO()
    assert export(desk.store, "jsonl", out) == _events(desk)
    lines = out.getvalue().splitlines()
    stored = list(desk.store.iter_events())
    assert [orjson.loads(line) for line in lines] == [
        orjson.loads(canonical_json(event_to_dict(e))) for e in stored]
    assert [event_from_dict(orjson.loads(line)).hash for line in lines] == [
        e.hash for e in stored]


def test_csv_has_one_row_per_event(desk: Desk) -> None:
    out = io.StringIO()
    export(desk.store, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == _events(desk)
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["seq"] == "1" and rows[0]["actor_role"]
    assert "@example.com" not in out.getvalue()  # personal data stays out


def _pm4py() -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("pm4py")


def test_xes_loads_in_pm4py(desk: Desk, tmp_path: Path) -> None:
    pm4py = _pm4py()
    path = tmp_path / "log.xes"
    with path.open("w", encoding="utf-8") as f:
        n = export(desk.store, "xes", f)
    log = pm4py.read_xes(str(path))  # type: ignore[attr-defined]
    assert len(log) == n
    assert set(log["case:concept:name"]) == set(desk.case_ids)
    assert {"concept:name", "time:timestamp", "org:resource", "org:role"} <= set(log.columns)
    assert "@example.com" not in path.read_text()


def test_ocel2_loads_in_pm4py(desk: Desk, tmp_path: Path) -> None:
    pm4py = _pm4py()
    path = tmp_path / "log.jsonocel"
    with path.open("w", encoding="utf-8") as f:
        n = export(desk.store, "ocel", f)
    ocel = pm4py.read_ocel2_json(str(path))  # type: ignore[attr-defined]
    assert len(ocel.events) == n
    assert set(ocel.objects["ocel:type"]) == {"complaint", "actor"}
    assert len(ocel.relations) >= n


def test_unknown_format_is_refused(desk: Desk) -> None:
    with pytest.raises(ValueError, match="jsonl, csv, xes, ocel"):
        export(desk.store, "xlsx", io.StringIO())
