"""``csflow report``: the service manager's HTML report from a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from csflow.analytics import LogSpec, build_report, render_html
from csflow.analytics._standards import BUNDLED
from csflow.errors import CsflowError
from csflow.stores import open_store

out = Console(stderr=True)


def report(
    db: Annotated[str, typer.Option(help="store URL, e.g. sqlite:///csflow-demo.db")],
    out_file: Annotated[Path, typer.Option("--out", help="HTML file to write")] = Path(
        "report.html"),
    workflow: Annotated[str, typer.Option(help="workflow to analyse")] = "complaint",
    period: Annotated[str, typer.Option(
        help="service period: auto, day, week or month")] = "auto",
    area: Annotated[list[str] | None, typer.Option(
        help="limit to a business area (repeatable)")] = None,
    standards: Annotated[Path, typer.Option(help="service standards file")] = BUNDLED,
    calendar: Annotated[str, typer.Option(help="business calendar")] = "uk-england-wales",
) -> None:
    """Write KPIs, trends, control charts, step analysis and open reviews as one HTML file."""
    store = None
    try:
        store = open_store(db)
        result = build_report(store.iter_events(), spec=LogSpec(workflow=workflow,
                              calendar=calendar), period=period, areas=area or (),
                              standards=standards)
        html = render_html(result)
    except CsflowError as exc:
        out.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        if store is not None:
            store.close()
    out_file.write_text(html, encoding="utf-8")
    out.print(f"wrote {out_file} ({len(result.log.cases)} cases, {len(result.periods)} periods, "
              f"{len(result.failings)} standard failing(s))")
