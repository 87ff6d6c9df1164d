"""``csflow rules check/test/explain`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import csflow
from csflow.cli.rules import app

PACK = Path(csflow.__file__).parent / "policies" / "complaint"
runner = CliRunner()


def test_check_lists_tables_and_passes() -> None:
    result = runner.invoke(app, ["check", str(PACK)])
    assert result.exit_code == 0, result.output
    assert "compensation_authority" in result.output and "0 errors" in result.output


def test_check_reports_located_errors_and_fails(tmp_path: Path) -> None:
    text = (PACK / "compensation_authority.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text.replace("{role: agent, category: refund",
                                                  "{role: agnet, category: refund", 1))
    result = runner.invoke(app, ["check", str(tmp_path)])
    assert result.exit_code == 1
    assert "a.yaml:" in result.output and "'agnet' is not one of" in result.output


def test_check_strict_fails_on_gaps(tmp_path: Path) -> None:
    text = (PACK / "compensation_authority.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text.replace('{category: goodwill, amount: "> 500"}',
                                                  '{category: goodwill, amount: "> 600"}'))
    assert runner.invoke(app, ["check", str(tmp_path)]).exit_code == 0
    result = runner.invoke(app, ["check", "--strict", str(tmp_path)])
    assert result.exit_code == 1 and "no row matches" in result.output


def test_test_command_passes_and_fails(tmp_path: Path) -> None:
    result = runner.invoke(app, ["test", str(PACK)])
    assert result.exit_code == 0 and "0 failed" in result.output
    text = (PACK / "escalation.yaml").read_text()
    (tmp_path / "e.yaml").write_text(text.replace("expect: {escalate: true, to_level: director, "
                                                  "priority: urgent}",
                                                  "expect: {escalate: false}", 1))
    result = runner.invoke(app, ["test", str(tmp_path)])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "critical goes straight to a director" in result.output
    assert "escalate: expected false, got true" in result.output


def test_explain_shows_rows_hit_and_why_not(tmp_path: Path) -> None:
    facts = {"role": "agent", "category": "refund", "amount": 150.5}
    result = runner.invoke(app, ["explain", str(PACK), "compensation_authority",
                                 "--facts", json.dumps(facts)])
    assert result.exit_code == 0, result.output
    assert "HIT" in result.output and "refer-refund-team_leader" in result.output
    assert "amount: <= 100" in result.output and "escalate_to=team_leader" in result.output
    path = tmp_path / "facts.json"
    path.write_text(json.dumps({**facts, "role": "director"}))
    result = runner.invoke(app, ["explain", str(PACK), "compensation_authority",
                                 "--facts", str(path)])
    assert "matched:  director-any" in result.output


def test_explain_bad_input_exits_2() -> None:
    bad = runner.invoke(app, ["explain", str(PACK), "compensation_authority",
                              "--facts", '{"role": "agent"}'])
    assert bad.exit_code == 2 and "'category'" in bad.output
    unknown = runner.invoke(app, ["explain", str(PACK), "nope", "--facts", "{}"])
    assert unknown.exit_code == 2 and "unknown decision" in unknown.output
    garbage = runner.invoke(app, ["explain", str(PACK), "escalation", "--facts", "{nope"])
    assert garbage.exit_code == 2
