"""``csflow audit``: verify, replay, re-check, what-if, export, erase, retention.

For auditors and complaint reviewers, so every command reads the store
directly and says what it found in their terms. Exit codes: 0 all well,
1 damage or differences found, 2 bad input (no such database, case or file).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from csflow._canonical import canonical_json
from csflow.audit import (
    FORMATS,
    Anchor,
    DecisionReport,
    case_history,
    erase_customer,
    export,
    recheck,
    retention,
    verify_store,
    whatif,
    workflows_by_key,
)
from csflow.errors import CsflowError, DefinitionError
from csflow.rules import RuleSet
from csflow.stores import Store, open_store
from csflow.stores.base import AuditRecord
from csflow.workflows import load_workflow

app = typer.Typer(
    help="Verify, replay, re-check and export the stored history (for auditors).",
    no_args_is_help=True,
)

Db = Annotated[str, typer.Option("--db", help="Database URL, e.g. sqlite:///csflow-demo.db")]
Actor = Annotated[str, typer.Option(help="Who is doing this (kept in the audit record)")]
Workflows = Annotated[list[Path] | None, typer.Option(
    "--workflow", help="Workflow file(s) of cases not in the bundled workflows")]


def _console() -> Console:
    return Console(width=shutil.get_terminal_size((140, 24)).columns, highlight=False)


def _fail(console: Console, message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def _open(db: str, console: Console) -> Store:
    """Open an existing store; an audit must never create an empty database by a typo."""
    try:
        url = sa.make_url(db)
    except sa.exc.ArgumentError:
        raise _fail(console, f"{db!r} is not a database URL; e.g. sqlite:///csflow-demo.db") \
            from None
    if url.get_backend_name() == "sqlite" and (
            not url.database or not Path(url.database).is_file()):
        raise _fail(console, f"no database file at {url.database!r}; create one with "
                             "`csflow demo` or give the right path")
    try:
        return open_store(db)
    except CsflowError as e:
        raise _fail(console, str(e)) from None


def _workflows(files: list[Path] | None, console: Console) -> Any:
    try:
        extra = [load_workflow(f) for f in files or ()]
    except DefinitionError as e:
        raise _fail(console, str(e)) from None
    return {**workflows_by_key(), **workflows_by_key(extra)}


def _when(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@app.command()
def verify(
    db: Db,
    anchor: Annotated[Path | None, typer.Option(
        help="Anchor file written earlier: also finds deleted tails and vanished cases")] = None,
    write_anchor: Annotated[Path | None, typer.Option(
        help="After a clean verify, write the latest hash of every case here")] = None,
    actor: Actor = "auditor",
) -> None:
    """Check every case's hash chain, seqs and snapshot; exit 1 on any damage."""
    console = _console()
    store = _open(db, console)
    try:
        pinned = Anchor.read(anchor) if anchor is not None else None
    except CsflowError as e:
        raise _fail(console, str(e)) from None
    with Progress(TextColumn("verifying"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("events", total=None)
        report = verify_store(store, anchor=pinned, progress=lambda done, total: bar.update(
            task, completed=done, total=total))
    console.print(f"{report.cases} cases, {report.events} events checked"
                  + (f" against anchor {report.anchor_root}" if report.anchor_root else ""))
    if not report.ok:
        table = Table("case", "seq", "damage", "detail", title="Damage found")
        for d in report.damage:
            table.add_row(d.case_id, "" if d.seq is None else str(d.seq), d.kind, d.detail)
        console.print(table)
        console.print(f"[red]{len(report.damage)} case(s) damaged[/red]")
        if write_anchor is not None:
            console.print("[yellow]anchor not written: verify found damage[/yellow]")
        store.close()
        raise typer.Exit(1)
    console.print("[green]every chain, seq and snapshot verifies[/green]")
    if write_anchor is not None:
        now = datetime.now(UTC)
        written = report.anchor(now)
        written.write(write_anchor)
        store.add_audit_record(AuditRecord("anchor", now, actor, None, {
            "root": written.root, "cases": len(written.heads), "file": write_anchor.name}))
        console.print(f"anchor written to {write_anchor}; root [bold]{written.root}[/bold] "
                      "(keep this value somewhere the database cannot reach)")
    store.close()


@app.command()
def replay(
    db: Db,
    case_id: Annotated[str, typer.Argument(help="The case to rebuild")],
    as_of: Annotated[datetime | None, typer.Option(
        help="Rebuild as of this instant (ISO 8601; UTC if no offset)",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z",
                 "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f%z"])] = None,
    workflow: Workflows = None,
) -> None:
    """Rebuild a case's state and data as of any instant, with its timeline."""
    console = _console()
    store = _open(db, console)
    when = None if as_of is None else (
        as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of)
    try:
        history = case_history(store, case_id, as_of=when,
                               workflows=_workflows(workflow, console))
    except (CsflowError, ValueError) as exc:
        raise _fail(console, str(exc)) from None
    finally:
        store.close()
    if history.broken is not None:
        console.print(f"[red]warning[/red] {escape(str(history.broken))}; "
                      "showing the history up to the break")
    table = Table("seq", "when (UTC)", "type", "trigger", "from → to", "actor", "role",
                  "decisions", title=f"case {case_id}")
    for e in history.events:
        table.add_row(
            str(e.seq), _when(e.occurred_at), e.type, e.trigger, f"{e.source or '·'} → {e.dest}",
            e.actor.id if e.actor else "-", e.actor.role if e.actor else "-",
            "\n".join(f"{d.name} [{d.ruleset_version[:8]}]: "
                      f"{canonical_json(d.outputs).decode()} rows {', '.join(d.matched) or '-'}"
                      for d in e.decisions),
        )
    console.print(table)
    c = history.case
    at = f"as of {_when(when)}" if when else "now"
    console.print(f"{at}: state [bold]{c.state}[/bold]{' (closed)' if c.terminal else ''}, "
                  f"seq {c.version}, last event {_when(c.updated_at)}")
    console.print_json(canonical_json(c.data).decode())


def _report(console: Console, report: DecisionReport, title: str) -> None:
    summary = Table("decision", "re-derived", "different", title=title)
    for name, n in sorted(report.checked.items()):
        summary.add_row(name, str(n), str(report.changed(name)))
    console.print(summary)
    for version, why in report.unusable.items():
        n = sum(1 for d in report.differences if d.ruleset_version == version)
        console.print(f"[red]ruleset {version[:12]}[/red] {escape(why)}: "
                      f"{n} decision(s) cannot be re-derived")
    shown = [d for d in report.differences if d.ruleset_version not in report.unusable]
    if shown:
        table = Table("case", "seq", "trigger", "decision", "before", "after",
                      "rows before → after")
        for d in shown:
            after = d.problem if d.after is None else canonical_json(d.after).decode()
            rows = (f"{', '.join(d.rows_before) or '-'} → "
                    f"{'?' if d.rows_after is None else ', '.join(d.rows_after) or '-'}")
            table.add_row(d.case_id, str(d.seq), d.trigger, d.decision,
                          canonical_json(d.before).decode(), after or "", rows)
        console.print(table)
    total = sum(report.checked.values())
    console.print(f"{total} decisions, {len(report.differences)} different, "
                  f"in {len(report.cases)} case(s)")


@app.command("recheck")
def recheck_command(db: Db) -> None:
    """Re-evaluate every recorded decision under the ruleset version then in force."""
    console = _console()
    store = _open(db, console)
    try:
        report = recheck(store)
    finally:
        store.close()
    _report(console, report, "Decisions re-derived under the rules then in force")
    if not report.ok:
        raise typer.Exit(1)
    console.print("[green]every recorded decision reproduces[/green]")


@app.command("whatif")
def whatif_command(
    db: Db,
    rules: Annotated[Path, typer.Option(help="Candidate rules directory")],
) -> None:
    """Re-run every recorded decision under candidate rules; writes nothing."""
    console = _console()
    try:
        candidate = RuleSet.load(rules)
    except DefinitionError as e:
        raise _fail(console, str(e)) from None
    store = _open(db, console)
    try:
        report = whatif(store, candidate)
    finally:
        store.close()
    _report(console, report, f"Decisions under candidate rules {candidate.version[:12]}")
    if not report.ok:
        raise typer.Exit(1)
    console.print("[green]the candidate rules decide every recorded case the same way[/green]")


@app.command("export")
def export_command(
    db: Db,
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}")],
    out: Annotated[Path, typer.Option(help="File to write")],
) -> None:
    """Export every event: jsonl (lossless), csv, xes or ocel (OCEL 2.0 JSON)."""
    console = _console()
    if fmt not in FORMATS:
        raise _fail(console, f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    store = _open(db, console)
    try:
        with out.open("w", encoding="utf-8", newline="") as f:
            n = export(store, fmt, f)
    except OSError as e:
        raise _fail(console, f"cannot write {out}: {e.strerror}") from None
    finally:
        store.close()
    console.print(f"{n} events written to {out} ({fmt})")


@app.command()
def erase(
    db: Db,
    customer: Annotated[str, typer.Option(help="The customer's id (data field customer.id)")],
    actor: Actor = "auditor",
    workflow: Workflows = None,
) -> None:
    """Erase one customer's personal data (the workflow's pii fields); chains still verify."""
    console = _console()
    store = _open(db, console)
    try:
        done = erase_customer(store, customer, actor=actor, at=datetime.now(UTC),
                              workflows=_workflows(workflow, console))
    except CsflowError as exc:
        raise _fail(console, str(exc)) from None
    finally:
        store.close()
    if not done.cases:
        raise _fail(console, f"no case has customer.id {customer!r}")
    console.print(f"erased {done.values} personal value(s) in {len(done.cases)} case(s): "
                  f"{', '.join(done.cases)}; recorded")


@app.command("retention")
def retention_command(
    db: Db,
    years: Annotated[int, typer.Option(min=1, help="Keep closed cases this many years")],
    purge: Annotated[bool, typer.Option(help="Delete them (recorded); default: list only")]
    = False,
    actor: Actor = "auditor",
) -> None:
    """List (or purge) closed cases kept longer than the retention period."""
    console = _console()
    store = _open(db, console)
    try:
        due = retention(store, years, now=datetime.now(UTC), purge=purge, actor=actor)
    finally:
        store.close()
    table = Table("case", "state", "closed (UTC)", "kept until", "events",
                  title=f"Closed cases past {years} year(s)")
    for x in due:
        table.add_row(x.case_id, x.state, _when(x.closed_at), _when(x.keep_until), str(x.events))
    console.print(table)
    verb = "purged and recorded" if purge else "due (use --purge to delete them)"
    console.print(f"{len(due)} case(s) {verb}")
