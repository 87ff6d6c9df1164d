"""Workflows as data: YAML state machines compiled onto a shared ``transitions`` Machine."""

import functools
from pathlib import Path

from csflow.workflows._compile import CompiledWorkflow, compile_workflow
from csflow.workflows._definition import (
    ANY_OPEN,
    SLA,
    STAY,
    DecisionCall,
    Ref,
    StateDef,
    TransitionDef,
    WorkflowDef,
)
from csflow.workflows._diagram import FORMATS, diagram
from csflow.workflows._load import load_workflow, parse_workflow

DEFINITIONS = Path(__file__).parent / "definitions"


@functools.cache
def bundled_workflows() -> tuple[WorkflowDef, ...]:
    """The workflows shipped with csflow (complaint, process_review, ...).

    Read once per process: the definitions are immutable values.
    """
    return tuple(load_workflow(p) for p in sorted(DEFINITIONS.glob("*.yaml")))


__all__ = [
    "ANY_OPEN",
    "DEFINITIONS",
    "FORMATS",
    "SLA",
    "STAY",
    "CompiledWorkflow",
    "DecisionCall",
    "Ref",
    "StateDef",
    "TransitionDef",
    "WorkflowDef",
    "bundled_workflows",
    "compile_workflow",
    "diagram",
    "load_workflow",
    "parse_workflow",
]
