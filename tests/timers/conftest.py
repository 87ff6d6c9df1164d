"""Fixtures for timer tests: a small desk workflow with every kind of clock, and stores."""

from __future__ import annotations

import textwrap

import pytest

from csflow import Engine
from csflow.clock import FixedClock
from csflow.stores import Store
from csflow.testing import DEFAULT_START
from csflow.workflows import WorkflowDef, parse_workflow

# Monday 2026-01-05 09:00 UTC is 09:00 in London (GMT): the desk has just opened.
DESK_YAML = textwrap.dedent("""\
    workflow: desk
    version: 1
    initial: open
    roles: [agent, system]
    start:
      requires: {respond_by: "datetime?", note: "str?"}
      emit:
        - {message: acknowledge, to: customer, data: {note: $data.note}}
    deadlines:
      respond_by: {on_breach: notify, met_in: [review]}
    states:
      open:
        sla: {target: 2 business hours, calendar: uk-england-wales, warn_at: 50%, on_breach: notify}
      working:
        sla:
          {target: 1 business days, calendar: uk-england-wales, warn_at: 75%,
           on_breach: escalate}
      waiting: {pauses_sla: true}
      review:
        sla: {target: 30 business minutes, calendar: uk-england-wales, on_breach: expire}
      expired: {terminal: true}
      done: {terminal: true}
    transitions:
      - {trigger: take, source: open, dest: working}
      - {trigger: ask, source: working, dest: waiting}
      - {trigger: answer, source: waiting, dest: working}
      - {trigger: submit, source: working, dest: review}
      - {trigger: expire, source: review, dest: expired, roles: [system]}
      - {trigger: finish, source: [review, working], dest: done}
      - trigger: note
        source: "*"
        dest: "="
        requires: {text: "str?", respond_by: "datetime?"}
        emit:
          - {message: noted, to: team}
""")
DESK: WorkflowDef = parse_workflow(DESK_YAML, "desk.yaml")




@pytest.fixture
def desk(store: Store) -> tuple[Engine, FixedClock]:
    """An engine on the desk workflow over each store, with a clock on Monday 09:00."""
    clock = FixedClock(DEFAULT_START)
    return Engine(store, workflows=[DESK], clock=clock), clock
