"""``csflow workflows ...`` and ``csflow diagram``: check and draw workflow files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from csflow.errors import DefinitionError
from csflow.workflows import DEFINITIONS, FORMATS, WorkflowDef, diagram, load_workflow
from csflow.workflows._fields import describe

app = typer.Typer(help="Check and inspect workflow definitions.", no_args_is_help=True)


def out() -> Console:
    """A console per call, so the width is the terminal's at that moment."""
    return Console()


def err() -> Console:
    return Console(stderr=True)


def _load(target: str) -> WorkflowDef:
    """A file path, or the name of a bundled workflow (e.g. 'complaint')."""
    path = Path(target)
    if not path.exists() and (DEFINITIONS / f"{target}.yaml").exists():
        path = DEFINITIONS / f"{target}.yaml"
    try:
        return load_workflow(path)
    except DefinitionError as exc:
        for p in exc.problems:
            err().print(f"[red]error[/red] {p}", highlight=False)
        raise typer.Exit(1) from None


@app.command()
def check(
    files: Annotated[list[str], typer.Argument(help="workflow YAML files or bundled names")],
) -> None:
    """Validate workflow files; print every problem as file:line:col. Exit 1 on errors."""
    for f in files:
        wf = _load(f)
        out().print(
            f"[green]ok[/green] {f}: workflow {wf.name!r} v{wf.version}, "
            f"{len(wf.states)} states, {len(wf.transitions)} transitions"
        )


@app.command()
def show(name: Annotated[str, typer.Argument(help="workflow file or bundled name")]) -> None:
    """List a workflow's transitions: who may fire them and the data they need."""
    wf = _load(name)
    table = Table(title=f"{wf.name} v{wf.version} — {wf.title}")
    for col in ("trigger", "from", "to", "roles", "requires", "guard"):
        table.add_column(col)
    for t in (wf.start, *wf.transitions):
        table.add_row(
            t.trigger,
            ", ".join(t.sources) or "(new case)",
            t.dest if t.trigger != "start" else wf.initial,
            ", ".join(t.roles or wf.roles),
            "\n".join(f"{n}: {describe(s)}" for n, s in t.requires),
            t.guard.decision if t.guard else "",
        )
    out().print(table)


def diagram_command(
    name: Annotated[str, typer.Argument(help="workflow file or bundled name")],
    format: Annotated[str, typer.Option("--format", "-f", help="mermaid or dot")] = "mermaid",
) -> None:
    """Print a state diagram of a workflow (Mermaid or Graphviz DOT)."""
    if format not in FORMATS:
        err().print(f"[red]error[/red] unknown format {format!r}; use {' or '.join(FORMATS)}")
        raise typer.Exit(2)
    typer.echo(diagram(_load(name), format), nl=False)
