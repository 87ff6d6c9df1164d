"""structlog set up the way a library should: the host decides where logs go.

The engine's default logger wraps the stdlib logger ``csflow``, so with no
logging configured nothing is printed, and a host that routes stdlib logging
gets csflow's events too. :func:`configure` is for our own CLI and for hosts
that want csflow's recommended output: JSON in production, key-value in dev.
Data fields are never logged, so personal data never reaches a log.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_PROCESSORS: list[Any] = [
    structlog.stdlib.filter_by_level,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def default_logger() -> Any:
    """A structlog logger over stdlib ``logging.getLogger("csflow")``."""
    # bind() once: wrap_logger gives a lazy proxy that builds a new bound
    # logger on every attribute access, which the engine makes on every fire.
    return structlog.wrap_logger(
        logging.getLogger("csflow"),
        wrapper_class=structlog.stdlib.BoundLogger,
        processors=[*_PROCESSORS, structlog.processors.KeyValueRenderer(sort_keys=True)],
    ).bind()


def configure(*, json: bool = False, level: int = logging.INFO) -> Any:
    """Send csflow's logs to stderr (JSON lines if ``json``); returns the logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("csflow")
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False
    renderer = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.processors.KeyValueRenderer(sort_keys=True)
    )
    return structlog.wrap_logger(
        log, wrapper_class=structlog.stdlib.BoundLogger, processors=[*_PROCESSORS, renderer]
    ).bind()
