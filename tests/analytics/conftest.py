"""Shared logs for the analytics tests: a small simulated week, and hand-made cases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csflow.demo import run_demo
from csflow.model import Event
from csflow.testing import memory_engine

MONDAY = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)  # a working Monday in England


@pytest.fixture(scope="session")
def demo_events() -> list[Event]:
    """A simulated week of 80 complaints, run through the real engine."""
    engine, clock = memory_engine(start=MONDAY)
    run_demo(engine, clock, cases=80, seed=3)
    return list(engine.store.iter_events())
