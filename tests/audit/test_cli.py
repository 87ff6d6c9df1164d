"""``csflow audit ...`` end to end on an SQLite desk, as docs/audit.md walks through it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from csflow.cli.audit import app
from csflow.rules import POLICIES

from .conftest import Desk

runner = CliRunner()


@pytest.fixture
def lite(make_desk: Callable[[str], Desk]) -> Desk:
    return make_desk("sqlite")


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_verify_writes_and_checks_an_anchor(lite: Desk, tmp_path: Path) -> None:
    assert lite.url
    anchor = tmp_path / "anchor.json"
    code, out = run("verify", "--db", lite.url, "--write-anchor", str(anchor))
    assert code == 0, out
    root = orjson.loads(anchor.read_bytes())["root"]
    assert root in out
    assert [r.kind for r in lite.store.audit_records()] == ["anchor"]
    assert run("verify", "--db", lite.url, "--anchor", str(anchor))[0] == 0

    case_id = lite.case_ids[0]
    lite.sql("DELETE FROM csflow_events WHERE case_id = :c AND seq = 1", c=case_id)
    code, out = run("verify", "--db", lite.url, "--write-anchor", str(tmp_path / "no.json"))
    assert code == 1
    assert case_id[:12] in out and "deleted" in out
    assert not (tmp_path / "no.json").exists()


def test_bad_input_exits_2_with_what_to_fix(tmp_path: Path) -> None:
    code, out = run("verify", "--db", f"sqlite:///{tmp_path / 'typo.db'}")
    assert code == 2 and "no database file" in out
    assert not (tmp_path / "typo.db").exists()
    code, out = run("verify", "--db", "not a url")
    assert code == 2 and "not a database URL" in out


def test_replay_shows_the_timeline_as_of(lite: Desk) -> None:
    assert lite.url
    case_id = max(lite.case_ids, key=lambda c: lite.store.load_case(c).version)
    events = lite.store.load_events(case_id)
    code, out = run("replay", "--db", lite.url, case_id)
    assert code == 0, out
    assert f"seq {events[-1].seq}," in out
    second = events[1].occurred_at
    shown = [e for e in events if e.occurred_at < second + timedelta(seconds=1)]
    at = (second + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
    code, out = run("replay", "--db", lite.url, case_id, "--as-of", at)
    assert code == 0, out
    assert f"state {shown[-1].dest}" in out and f"seq {shown[-1].seq}," in out
    assert run("replay", "--db", lite.url, "nope")[0] == 2


def test_recheck_and_whatif(lite: Desk, tmp_path: Path) -> None:
    assert lite.url
    code, out = run("recheck", "--db", lite.url)
    assert code == 0, out
    assert "every recorded decision reproduces" in out
    same = tmp_path / "same"
    shutil.copytree(POLICIES, same)
    assert run("whatif", "--db", lite.url, "--rules", str(same))[0] == 0
    code, out = run("whatif", "--db", lite.url, "--rules", str(tmp_path / "missing"))
    assert code == 2 and "does not exist" in out


def test_export_each_format(lite: Desk, tmp_path: Path) -> None:
    assert lite.url
    for fmt in ("jsonl", "csv", "xes", "ocel"):
        out_file = tmp_path / f"log.{fmt}"
        code, out = run("export", "--db", lite.url, "--format", fmt, "--out", str(out_file))
        assert code == 0, out
        assert out_file.stat().st_size > 0
    assert run("export", "--db", lite.url, "--format", "pdf", "--out", "x")[0] == 2


def test_erase_and_retention(lite: Desk) -> None:
    assert lite.url
    customer = lite.store.load_case(lite.case_ids[0]).data["customer"]["id"]
    code, out = run("erase", "--db", lite.url, "--customer", customer, "--actor", "dpo")
    assert code == 0, out
    assert "erased" in out
    assert run("verify", "--db", lite.url)[0] == 0
    assert run("erase", "--db", lite.url, "--customer", "nobody")[0] == 2
    code, out = run("retention", "--db", lite.url, "--years", "3")
    assert code == 0 and "0 case(s) due" in out
