"""The YAML shape of correlation files and the frozen values they compile to.

Kept apart from the correlators so that both implementations (durable-rules
and plain Python) read one validated :class:`CorrelationSpec` and cannot
drift in how they interpret a file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from csflow._yaml import load_yaml, read_definition, validate
from csflow.errors import DefinitionError

# durable-rules keeps at most 1,024 live sessions per ruleset and the
# durable correlator uses one session per correlation.
MAX_CORRELATIONS = 1024

_UNITS = {"minute": "minutes", "hour": "hours", "day": "days", "week": "weeks"}
_DURATION = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week)s?\s*$")
_DOTTED = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"

Kind = Literal["repeat", "spike"]
ThenValue = StrictStr | StrictInt | StrictBool


def parse_duration(text: str) -> timedelta:
    """``"30 days"`` -> ``timedelta(days=30)``; calendar time, not business time.

    Windows are about how often something happens, not about service levels,
    so they count elapsed time including weekends and holidays.
    """
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not a duration; write '<whole number> <unit>' with unit "
            "minutes, hours, days or weeks, e.g. '30 days'"
        )
    amount = int(match.group(1))
    if amount == 0:
        raise ValueError("the window must be longer than zero")
    return timedelta(**{_UNITS[match.group(2)]: amount})


class _CorrelationYaml(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[StrictStr, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    kind: Kind
    key: Annotated[StrictStr, Field(pattern=_DOTTED)]
    count: Annotated[StrictInt, Field(ge=1)]
    within: StrictStr
    then: Annotated[dict[str, ThenValue], Field(min_length=1)]
    title: StrictStr = ""

    @field_validator("within")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class _FileYaml(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    correlations: Annotated[
        list[_CorrelationYaml], Field(min_length=1, max_length=MAX_CORRELATIONS)
    ]


@dataclass(frozen=True, slots=True)
class Correlation:
    """One rule: ``count`` events with the same ``key`` value ``within`` a window.

    ``key`` is a dotted path into the event's attributes (``customer.id``).
    ``kind`` does not change the counting; it tells whoever handles the
    :class:`Signal` what it means (``repeat``: one customer complaining again,
    ``spike``: many complaints about one category or product).
    """

    id: str
    kind: Kind
    key: str
    count: int
    within: timedelta
    then: Mapping[str, Any]
    title: str = ""


@dataclass(frozen=True, slots=True)
class CorrelationSpec:
    """A validated correlation file: its rules, in file order, and where it came from."""

    correlations: tuple[Correlation, ...]
    file: str = "<string>"


def load_correlations(source: str | os.PathLike[str]) -> CorrelationSpec:
    """Load and validate a correlation file.

    ``source`` is a path (``os.PathLike``, or a ``str`` without a newline) or
    the YAML text itself (a ``str`` with a newline). Every problem is a
    located :class:`~csflow.errors.DefinitionError`.
    """
    if isinstance(source, str) and "\n" in source:
        text, file = source, "<string>"
    else:
        text, file = read_definition(source, "correlation"), str(source)
    doc = load_yaml(text, file)
    parsed = validate(_FileYaml, doc)
    seen: dict[str, int] = {}
    problems = []
    for index, item in enumerate(parsed.correlations):
        if item.id in seen:
            problems.append(doc.problem(
                ("correlations", index, "id"),
                f"correlations.{index}.id: {item.id!r} is already used by "
                f"correlations.{seen[item.id]}; give each correlation its own id",
            ))
        seen.setdefault(item.id, index)
    if problems:
        raise DefinitionError(problems)
    return CorrelationSpec(
        tuple(
            Correlation(
                id=item.id, kind=item.kind, key=item.key, count=item.count,
                within=parse_duration(item.within), then=dict(item.then), title=item.title,
            )
            for item in parsed.correlations
        ),
        file,
    )
