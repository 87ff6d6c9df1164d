"""``csflow rules``: check, test and explain decision tables from the shell.

These are the policy team's tools, so output is about their files: problems
as ``file:line:col: message`` (editors jump to them), test failures with the
row-by-row trace, and explain as a table of rows with the first cell that
failed and the value it saw. Exit codes: 0 fine, 1 errors or failures,
2 bad command-line input (unknown decision, unreadable or ill-typed facts).
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from csflow._yaml import load_yaml
from csflow.errors import DefinitionError, InvalidFacts, UnknownDefinition
from csflow.model import Decision
from csflow.rules import DecisionTable, RuleSet, TestOutcome

app = typer.Typer(
    help="Check, test and explain decision tables (YAML rule files).", no_args_is_help=True
)

RulesDir = Annotated[Path, typer.Argument(help="A rules directory (every *.yaml) or one file.")]


def _console() -> Console:
    return Console(width=shutil.get_terminal_size((140, 24)).columns, highlight=False)


def _load(path: Path, console: Console) -> RuleSet:
    try:
        return RuleSet.load(path)
    except DefinitionError as exc:
        for problem in exc.problems:
            console.print(f"[red]error[/red] {escape(str(problem))}", soft_wrap=True)
        console.print(f"[red]{len(exc.problems)} problem(s); nothing was loaded.[/red]")
        raise typer.Exit(1) from None


@app.command()
def check(
    directory: RulesDir,
    strict: Annotated[bool, typer.Option(help="Also fail (exit 1) on warnings such as gaps.")]
    = False,
) -> None:
    """Load every table, run the static checks, and list the problems with file:line."""
    console = _console()
    rules = _load(directory, console)
    summary = Table("decision", "file", "hit policy", "rows", "tests", title="Decision tables")
    for name in rules.names:
        t = rules.table(name)
        policy = t.hit_policy + (f" {t.aggregate}" if t.aggregate else "")
        summary.add_row(escape(name), escape(t.file), policy, str(len(t.rows)),
                        str(len(t.examples)))
    console.print(summary)
    warnings = rules.check()
    for w in warnings:
        console.print(f"[yellow]warning[/yellow] {escape(str(w))}", soft_wrap=True)
    console.print(f"ruleset version {rules.version}")
    console.print(f"{len(rules.names)} decision(s), 0 errors, {len(warnings)} warning(s)")
    if strict and warnings:
        raise typer.Exit(1)


@app.command()
def test(directory: RulesDir) -> None:
    """Run the `tests:` of every table; show each failure with its row trace."""
    console = _console()
    rules = _load(directory, console)
    outcomes = rules.run_tests()
    failed = [o for o in outcomes if not o.passed]
    for name in rules.names:
        mine = [o for o in outcomes if o.decision == name]
        bad = sum(not o.passed for o in mine)
        mark = "[green]ok[/green]" if not bad else f"[red]{bad} failed[/red]"
        console.print(f"{escape(name)}: {len(mine) - bad}/{len(mine)} passed {mark}")
    for o in failed:
        _show_failure(console, rules.table(o.decision), o)
    console.print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


def _show_failure(console: Console, table: DecisionTable, o: TestOutcome) -> None:
    where = f"{o.file}:{o.line}" if o.line else o.file
    console.print(f"\n[red]FAIL[/red] {escape(f'{where} {o.decision} / {o.label}')}",
                  soft_wrap=True)
    console.print(f"  given:    {escape(_facts_text(o.given))}", soft_wrap=True)
    console.print(f"  problem:  {escape(o.message)}", soft_wrap=True)
    if o.explained is not None:
        console.print(_rows_table(table, o.explained))


@app.command()
def explain(
    directory: RulesDir,
    decision: Annotated[str, typer.Argument(help="Name of the decision table.")],
    facts: Annotated[str, typer.Option(
        "--facts", help="Facts as a JSON object, or the path of a JSON or YAML file.")],
) -> None:
    """Decide once with these facts and show every row: the hit, and why the others failed."""
    console = _console()
    rules = _load(directory, console)
    try:
        given = _read_facts(facts)
        table = rules.table(decision)
        result = table.explain(given)
        seen = table.facts(given)
    except (UnknownDefinition, InvalidFacts, DefinitionError, ValueError) as exc:
        console.print(f"[red]error[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    console.print(f"[bold]{escape(table.title)}[/bold] "
                  f"{escape(f'({decision}, hit policy {table.hit_policy}, {table.file})')}",
                  soft_wrap=True)
    console.print(f"facts:    {escape(_facts_text(seen))}", soft_wrap=True)
    console.print(_rows_table(table, result))
    console.print(f"matched:  {escape(', '.join(result.matched) or 'no row')}", soft_wrap=True)
    console.print(f"outputs:  {escape(_facts_text(result.outputs))}", soft_wrap=True)


def _rows_table(table: DecisionTable, d: Decision) -> Table:
    out = Table("row", "result", "first failing condition", "value seen", "source")
    used = set(d.matched)
    rows = {r.id: r for r in table.rows}
    for check in d.trace:
        if check.row in used:
            result, why = "[green]HIT[/green]", "all conditions hold"
        elif check.matched:
            result, why = "matched", f"not used (hit policy {table.hit_policy})"
        else:
            result, why = "no", escape(f"{check.input}: {check.cell}")
        seen = "" if check.matched else escape(_value(check.seen))
        out.add_row(escape(check.row), result, why, seen, escape(rows[check.row].source or ""))
    return out


def _read_facts(text: str) -> dict[str, Any]:
    """Facts from JSON text or a file; JSON numbers with a point become Decimal, not float."""
    path = Path(text)
    source = text
    if not text.lstrip().startswith("{") and path.is_file():
        source = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml"):
            data = load_yaml(source, str(path)).data
            if not isinstance(data, dict):
                raise ValueError(f"{path} must hold a mapping of fact names to values")
            return data
    try:
        data = json.loads(source, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--facts is neither a JSON object nor a readable file: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("--facts must be a JSON object such as '{\"amount\": \"12.50\"}'")
    return data


def _facts_text(values: Any) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in values.items()) or "(none)"


def _value(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return str(v)
