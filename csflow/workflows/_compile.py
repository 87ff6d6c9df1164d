"""Compile a :class:`WorkflowDef` once into one shared ``transitions`` Machine.

Measured with transitions 0.9.3: ``add_model`` costs 250-800 µs and 7-12 KB
per model and grows with the number attached, and a Machine per case about
1 ms and 50 KB. So the machine is built once per (name, version) with no
models, and cost per call does not depend on how many cases exist.

The machine is the authority on where a trigger leads: :func:`compile_workflow`
reads every (state, trigger) -> destination from the machine's own events
into a table, and a fire looks its destination up there. Running the event's
``trigger`` instead would cost a few microseconds of callback and condition
machinery per fire (as much as the rest of a fire put together) for none of
its features: csflow registers no callbacks or conditions on the machine,
because guards, effects and timers are decided before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from transitions import Machine

from csflow.workflows._definition import STAY, TransitionDef, WorkflowDef
from csflow.workflows._fields import DataValidator


@dataclass(frozen=True, eq=False)
class CompiledWorkflow:
    """A workflow ready to run: the shared machine plus precomputed lookups."""

    definition: WorkflowDef
    machine: Machine
    transitions: Mapping[tuple[str, str], TransitionDef]  # (state, trigger) -> definition
    triggers: frozenset[str]
    validators: Mapping[str, DataValidator | None]  # trigger -> checks its `requires`
    dests: Mapping[tuple[str, str], str]  # (state, trigger) -> state after, read off the machine

    def find(self, state: str, trigger: str) -> TransitionDef | None:
        return self.transitions.get((state, trigger))

    def dest(self, state: str, trigger: str) -> str:
        """Where ``trigger`` leads from ``state`` (the caller has checked it can fire)."""
        return self.dests[(state, trigger)]

    def triggers_from(self, state: str) -> list[TransitionDef]:
        return [t for (s, _), t in self.transitions.items() if s == state]


def compile_workflow(wf: WorkflowDef) -> CompiledWorkflow:
    specs: list[dict[str, Any]] = []
    lookup: dict[tuple[str, str], TransitionDef] = {}
    for t in wf.transitions:
        specs.append(
            {
                "trigger": t.trigger,
                "source": list(t.sources),
                "dest": None if t.dest == STAY else t.dest,
            }
        )
        for src in t.sources:
            lookup[(src, t.trigger)] = t
    machine = Machine(
        model=None,
        states=list(wf.states),
        transitions=specs,
        initial=wf.initial,
        auto_transitions=False,
        name=f"{wf.name}@{wf.version}",
    )
    base = f"{wf.name.title().replace('_', '')}V{wf.version}"
    validators = {
        t.trigger: DataValidator(f"{base}_{t.trigger}", t.requires) if t.requires else None
        for t in (wf.start, *wf.transitions)
    }
    # An internal transition (dest None) keeps the state it fired from.
    dests = {
        (src, name): moves[0].dest or src
        for name, event in machine.events.items()
        for src, moves in event.transitions.items()
    }
    return CompiledWorkflow(
        wf, machine, lookup, frozenset(t.trigger for t in wf.transitions), validators, dests
    )
