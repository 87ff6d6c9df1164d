"""The shape of a decision-table file, as pydantic models.

Only the shape is checked here (field names, required fields, basic types);
whether cells fit their inputs, names resolve and rows can fire is checked
by the table compiler, which knows the positions of every value.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TypeName = Literal[
    "enum", "bool", "integer", "money", "decimal", "date", "datetime", "string", "list",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ItemSpec(_Strict):
    """The element type of a list input."""

    type: TypeName
    values: list[str] | None = None


class InputSpec(_Strict):
    type: TypeName
    values: list[str] | None = None
    of: ItemSpec | None = None
    optional: bool = False
    default: Any = None
    description: str | None = None


class ComputedSpec(_Strict):
    expr: str
    type: TypeName | None = None
    values: list[str] | None = None
    description: str | None = None


class OutputSpec(_Strict):
    type: TypeName
    values: list[str] | None = None
    of: ItemSpec | None = None
    optional: bool = False
    description: str | None = None


class RowSpec(_Strict):
    id: str = Field(min_length=1)
    when: dict[str, Any] = Field(default_factory=dict)
    then: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None
    source: str | None = None


class ConstraintSpec(_Strict):
    """A fact-consistency check: facts for which ``check`` is false are impossible."""

    check: str = Field(min_length=1)
    message: str = Field(min_length=1)
    fact: str | None = None


class ExampleSpec(_Strict):
    name: str | None = None
    given: dict[str, Any] = Field(default_factory=dict)
    expect: dict[str, Any] = Field(default_factory=dict)
    matched: list[str] | None = None
    error: str | None = None


class TableSpec(_Strict):
    decision: str = Field(min_length=1)
    title: str = Field(min_length=1)
    version: str | int | None = None
    description: str | None = None
    hit_policy: Literal["first", "unique", "priority", "any", "collect"]
    aggregate: Literal["sum", "min", "max", "count"] | None = None
    inputs: dict[str, InputSpec] = Field(min_length=1)
    constraints: list[ConstraintSpec] = Field(default_factory=list)
    computed: dict[str, str | ComputedSpec] = Field(default_factory=dict)
    outputs: dict[str, OutputSpec] = Field(min_length=1)
    rules: list[RowSpec] = Field(min_length=1)
    tests: list[ExampleSpec] = Field(default_factory=list)
