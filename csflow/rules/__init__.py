"""Decision tables: plain YAML rules, checked when loaded, compiled, explained.

A policy team writes one table per file (see ``docs/rules.md``); a ruleset is
a directory of them. ``RuleSet.load(dir)`` checks everything and compiles each
table to Python once; ``decide`` is then a few microseconds and ``explain``
says, row by row, why each did or did not match.
"""

from csflow.rules._ruleset import POLICIES, RuleSet, TestOutcome, bundled_rules
from csflow.rules._table import (
    CellTest,
    Computed,
    Constraint,
    DecisionTable,
    Example,
    Input,
    Output,
    Row,
)

__all__ = [
    "POLICIES",
    "CellTest",
    "Computed",
    "Constraint",
    "DecisionTable",
    "Example",
    "Input",
    "Output",
    "Row",
    "RuleSet",
    "TestOutcome",
    "bundled_rules",
]
