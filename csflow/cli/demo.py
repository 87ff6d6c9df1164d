"""``csflow demo``: a simulated week of a service desk on a fresh SQLite file."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from csflow.calendars import CalendarRegistry
from csflow.clock import FixedClock
from csflow.demo import run_demo
from csflow.engine import Engine
from csflow.model import Case, Event


def out() -> Console:
    """A console per call, so the width is the terminal's at that moment."""
    return Console()


def _monday(weeks_ago: int) -> datetime:
    today = datetime.now(UTC).replace(hour=8, minute=30, second=0, microsecond=0)
    return today - timedelta(days=today.weekday() + 7 * weeks_ago)


def demo(
    db: Annotated[Path, typer.Option(help="SQLite file to create (replaced if it exists)")] = Path(
        "csflow-demo.db"
    ),
    cases: Annotated[int, typer.Option(min=1, max=100_000, help="complaints to simulate")] = 300,
    weeks: Annotated[int, typer.Option(min=1, max=52, help="working weeks they arrive over")] = 1,
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same week")] = 7,
) -> None:
    """Simulate a working week of complaints on a fresh SQLite database and summarise it.

    The clock starts on last week's Monday; complaints arrive through the week,
    staff work in business hours, and the latest complaints are still open at
    the end.
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    clock = FixedClock(_monday(weeks))
    engine = Engine(f"sqlite:///{db}", clock=clock)
    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out(),
        transient=True,
    ) as bar:
        task = bar.add_task("week", total=None)
        result = run_demo(
            engine, clock, cases=cases, seed=seed, progress=lambda n: bar.advance(task, n)
        )
    snapshots = [engine.get(c) for c in result.case_ids]
    histories = {c.id: engine.history(c.id) for c in snapshots}
    _summary(db, snapshots, histories, result.fires, result.refusals)
    engine.store.close()


def _summary(
    db: Path, cases: list[Case], histories: dict[str, list[Event]], fires: int, refusals: int
) -> None:
    by_state = Counter(c.state for c in cases)
    table = Table(title=f"{len(cases)} complaints, {fires} transitions recorded")
    table.add_column("state")
    table.add_column("cases", justify="right")
    for state, n in by_state.most_common():
        table.add_row(state, str(n))
    out().print(table)
    escalated = sum(1 for h in histories.values() if any(e.trigger == "escalate" for e in h))
    reopened = sum(1 for h in histories.values() if any(e.trigger == "reopen" for e in h))
    fcr = sum(1 for c in cases if c.data.get("first_contact_resolution"))
    cal = CalendarRegistry.bundled()["uk-england-wales"]
    hours = [
        cal.business_time_between(c.created_at, c.updated_at).total_seconds() / 3600
        for c in cases
        if c.state == "closed"
    ]
    median = f"{statistics.median(hours):.1f} business hours" if hours else "n/a"
    out().print(
        f"escalated: {escalated}   reopened: {reopened}   resolved at first contact: {fcr}   "
        f"refused approvals (over authority): {refusals}"
    )
    out().print(f"median time to resolution (closed cases): {median}")
    milestones = Counter(e.trigger for h in histories.values() for e in h if e.type == "timer")
    out().print(
        f"SLA clocks: {milestones['sla_met']} met, {milestones['sla_breached']} breached, "
        f"{milestones['sla_warning']} warnings (fired by the timer worker during the week)"
    )
    example = max(
        histories.values(),
        key=lambda h: (
            any(e.trigger == "escalate" for e in h) + any(e.trigger == "reopen" for e in h),
            len(h),
        ),
    )
    hist = Table(title=f"history of case {example[0].case_id}")
    for col in ("#", "when (UTC)", "role", "trigger", "state after", "rule rows matched"):
        hist.add_column(col, overflow="fold")
    for e in example:
        hist.add_row(
            str(e.seq),
            e.occurred_at.strftime("%a %H:%M"),
            e.actor.role if e.actor else "-",
            e.trigger,
            e.dest,
            ", ".join(", ".join(d.matched) for d in e.decisions),
        )
    out().print(hist)
    out().print(f"database: [bold]{db.resolve()}[/bold]  (try: csflow workflows show complaint)")
