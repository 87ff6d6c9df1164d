"""``csflow worker`` and ``csflow outbox dispatch``: the background half of a service desk.

Web workers call ``engine.fire``; one or more ``csflow worker`` processes fire
due SLA and deadline timers (and, with ``--outbox``, deliver messages). Any
number may run against one database: claims are leased, so each timer fires
once and a killed worker's timers are picked up when its lease ends.

Exposes ``worker_command`` (for ``csflow worker``) and ``outbox_app`` (for
``csflow outbox``).
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from csflow._logging import default_logger
from csflow._outbox import Dispatcher, JsonlSender, LoggingSender, Sender
from csflow.engine import DueReport, Engine
from csflow.errors import CsflowError, StoreError
from csflow.stores import open_store

outbox_app = typer.Typer(help="Deliver the messages transitions emit.", no_args_is_help=True)

DB = Annotated[
    str,
    typer.Option("--db", envvar="CSFLOW_DB", help="database URL, e.g. postgresql://u@host/db"),
]


class SenderKind(StrEnum):
    log = "log"
    jsonl = "jsonl"


def run_worker(
    engine: Engine,
    *,
    dispatcher: Dispatcher | None = None,
    batch: int = 100,
    lease: timedelta = timedelta(minutes=5),
    interval: float = 5.0,
    stop: threading.Event | None = None,
    max_seconds: float | None = None,
    once: bool = False,
    log: Any = None,
) -> int:
    """Fire due timers (and dispatch the outbox) until ``stop`` is set; returns timers fired.

    A full batch is followed at once by the next; otherwise the worker waits
    ``interval`` seconds. A database that fails (restarting, unreachable) is
    logged and retried after ``interval``: the worker outlives outages.
    """
    stop = stop or threading.Event()
    log = log if log is not None else default_logger()
    ends = None if max_seconds is None else time.monotonic() + max_seconds
    fired = 0
    while not stop.is_set():
        busy = False
        try:
            report: DueReport = engine.run_due(limit=batch, lease=lease)
            fired += report.fired
            busy = report.claimed >= batch
            if dispatcher is not None:
                busy = dispatcher.run_once(batch).claimed >= batch or busy
        except StoreError as exc:
            log.warning("csflow.worker.store_unavailable", error=str(exc))
        if once or (ends is not None and time.monotonic() >= ends):
            break
        if not busy:
            stop.wait(interval if ends is None else min(interval, max(ends - time.monotonic(), 0)))
    return fired


def _sender(kind: SenderKind, file: Path | None) -> Sender:
    if kind is SenderKind.jsonl:
        if file is None:
            raise typer.BadParameter("--sender jsonl needs --file PATH")
        return JsonlSender(file)
    return LoggingSender()


def _stop_on_signals() -> threading.Event:
    """SIGTERM / SIGINT finish the timer in hand, then stop (no half-fired timer)."""
    stop = threading.Event()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)
    return stop


def _open(db: str, workflows: list[Path] | None, rules: Path | None) -> Engine:
    try:
        return Engine(open_store(db), workflows=workflows or None, rules=rules)
    except CsflowError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def worker_command(
    db: DB,
    workflow: Annotated[
        list[Path] | None,
        typer.Option(help="workflow YAML file (repeat); default: the bundled workflows"),
    ] = None,
    rules: Annotated[Path | None, typer.Option(help="rules directory; default: bundled")] = None,
    interval: Annotated[float, typer.Option(help="seconds between polls when idle")] = 5.0,
    batch: Annotated[int, typer.Option(help="timers claimed per pass")] = 100,
    lease: Annotated[
        float, typer.Option(help="seconds a claim lasts before another worker may retry it")
    ] = 300.0,
    outbox: Annotated[
        SenderKind | None, typer.Option(help="also deliver the outbox through this sender")
    ] = None,
    file: Annotated[Path | None, typer.Option(help="file for --outbox jsonl")] = None,
    once: Annotated[bool, typer.Option(help="one pass, then exit")] = False,
    max_seconds: Annotated[
        float | None, typer.Option(help="stop after this many seconds")
    ] = None,
) -> None:
    """Fire due SLA and deadline timers until stopped (SIGTERM finishes the current one)."""
    engine = _open(db, workflow, rules)
    dispatcher = None if outbox is None else Dispatcher(engine.store, _sender(outbox, file))
    try:
        fired = run_worker(
            engine,
            dispatcher=dispatcher,
            batch=batch,
            lease=timedelta(seconds=lease),
            interval=interval,
            stop=_stop_on_signals(),
            max_seconds=max_seconds,
            once=once,
        )
    finally:
        engine.store.close()
    typer.echo(f"fired {fired} timer(s)")


@outbox_app.command("dispatch")
def dispatch_command(
    db: DB,
    sender: Annotated[SenderKind, typer.Option(help="where messages go")] = SenderKind.log,
    file: Annotated[Path | None, typer.Option(help="file for --sender jsonl")] = None,
    batch: Annotated[int, typer.Option(help="messages claimed per pass")] = 100,
    max_attempts: Annotated[int, typer.Option(help="attempts before giving up on one")] = 8,
    loop: Annotated[bool, typer.Option(help="keep delivering until stopped")] = False,
    interval: Annotated[float, typer.Option(help="seconds between polls when idle")] = 5.0,
) -> None:
    """Deliver pending outbox messages (once, or with --loop until SIGTERM)."""
    store = open_store(db)
    dispatcher = Dispatcher(store, _sender(sender, file), max_attempts=max_attempts)
    stop = _stop_on_signals()
    delivered = failed = 0
    try:
        while not stop.is_set():
            report = dispatcher.run_once(batch)
            delivered, failed = delivered + report.delivered, failed + report.failed
            if report.claimed < batch:  # nothing more is due now
                if not loop:
                    break
                stop.wait(interval)
    finally:
        store.close()
    typer.echo(f"delivered {delivered} message(s), gave up on {failed}")
