"""The ``csflow`` command: one Typer app, one sub-app per area."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console

from csflow._logging import configure
from csflow.cli import audit, demo, report, rules, worker, workflows
from csflow.errors import CsflowError

app = typer.Typer(
    no_args_is_help=True,
    help="Rule-driven, auditable complaint-handling workflows.",
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log each transition")] = False,
    json_logs: Annotated[bool, typer.Option("--json-logs", help="log as JSON lines")] = False,
) -> None:
    """Rule-driven, auditable complaint-handling workflows."""
    configure(json=json_logs, level=logging.INFO if verbose else logging.WARNING)


app.add_typer(workflows.app, name="workflows")
app.add_typer(rules.app, name="rules")
app.add_typer(audit.app, name="audit")
app.command("diagram")(workflows.diagram_command)
app.command("demo")(demo.demo)
app.command("report")(report.report)
app.command("worker")(worker.worker_command)
app.add_typer(worker.outbox_app, name="outbox")


def main() -> None:
    """Entry point: csflow's own errors end in one line saying what to fix, exit 1.

    Anything else is a bug in csflow and keeps its traceback.
    """
    try:
        app()
    except CsflowError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}", highlight=False)
        raise SystemExit(1) from None
