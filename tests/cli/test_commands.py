"""The csflow command: demo, workflow checks and diagrams, error exits."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from csflow import Engine
from csflow.cli import app
from csflow.testing import assert_chain_valid

runner = CliRunner(env={"COLUMNS": "200"})


def test_demo_creates_a_database_with_a_realistic_week(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = runner.invoke(app, ["demo", "--db", str(db), "--cases", "60", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "60 complaints" in result.output
    assert str(db.resolve()) in result.output.replace("\n", "")
    engine = Engine(f"sqlite:///{db}")
    cases = [engine.get(c) for c in engine.store.case_ids()]
    assert len(cases) == 60
    states = {c.state for c in cases}
    assert {"closed", "withdrawn"} <= states and len(states) >= 4
    triggers = {e.trigger for e in engine.store.iter_events()}
    assert {"escalate", "reopen", "resolve_on_first_contact", "approve_solution"} <= triggers
    for c in cases:
        assert_chain_valid(engine.history(c.id))
    # Replacing the file on a second run gives the same week again.
    again = runner.invoke(app, ["demo", "--db", str(db), "--cases", "60", "--seed", "3"])
    assert again.exit_code == 0
    assert len(list(Engine(f"sqlite:///{db}").store.case_ids())) == 60


def test_workflows_check_reports_located_errors(tmp_path: Path) -> None:
    assert runner.invoke(app, ["workflows", "check", "complaint"]).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("workflow: x\nversion: 1\ninitial: a\nstates: {a: {}}\ntransitions: []\n")
    result = runner.invoke(app, ["workflows", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:4:9: no terminal state" in result.output.replace("\n", "")


def test_workflows_show_and_diagram() -> None:
    shown = runner.invoke(app, ["workflows", "show", "complaint"])
    assert shown.exit_code == 0 and "approve_solution" in shown.output
    mermaid = runner.invoke(app, ["diagram", "complaint", "--format", "mermaid"])
    assert mermaid.exit_code == 0 and mermaid.output.startswith("stateDiagram-v2")
    dot = runner.invoke(app, ["diagram", "complaint", "--format", "dot"])
    assert dot.exit_code == 0 and dot.output.startswith('digraph "complaint"')
    wrong = runner.invoke(app, ["diagram", "complaint", "--format", "png"])
    assert wrong.exit_code == 2


def test_csflow_errors_end_in_one_line_and_exit_1(tmp_path: Path) -> None:
    """The installed command, run for real: a store error is a message, not a traceback."""
    import subprocess
    import sys

    bad = tmp_path / "missing-dir" / "x.db"
    done = subprocess.run(
        [sys.executable, "-c", "from csflow.cli import main; main()", "demo", "--db", str(bad)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
