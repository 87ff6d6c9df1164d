"""Safe YAML loading that remembers where every value came from.

Workflow and rule files are edited by people, so every error must point at
file:line:column. This module parses YAML into plain Python values plus a map
from each value's path (``("transitions", 3, "dest")``) to its position, and
turns pydantic validation errors into located :class:`~csflow.errors.Problem`
values.

It is also safe by default, in the ways YAML 1.1 is not:

* ``on``/``off``/``yes``/``no`` stay strings (only ``true``/``false`` are
  booleans), so a trigger called ``on`` or an enum value ``no`` survives;
* duplicate keys are an error instead of the last one silently winning;
* only plain data is built (no Python tags).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from csflow.errors import DefinitionError, Problem

Path = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class _Loader(yaml.SafeLoader):
    """SafeLoader whose booleans are only true/false (YAML 1.2 style)."""


# Copy the resolver table before editing it so SafeLoader itself is untouched.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass(frozen=True)
class Located:
    """Parsed YAML plus the (line, column) of every value, both 1-based."""

    data: Any
    file: str
    marks: dict[Path, tuple[int, int]]

    def where(self, path: Sequence[str | int]) -> tuple[int | None, int | None]:
        """Position of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while True:
            if p in self.marks:
                return self.marks[p]
            if not p:
                return None, None
            p = p[:-1]

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        line, col = self.where(path)
        return Problem(message, self.file, line, col)


def read_definition(path: str | os.PathLike[str], kind: str, shown: str | None = None) -> str:
    """The text of a definition file, or a DefinitionError naming the file.

    One place for this so every loader refuses unreadable and non-UTF-8 files
    the same way, as a definition problem rather than a stray OSError.
    """
    try:
        return FilePath(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise DefinitionError.at(f"cannot read {kind} file: {why}", shown or str(path)) from None


def load_yaml(text: str, file: str = "<string>") -> Located:
    """Parse one YAML document. Raises DefinitionError with the position of bad syntax."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        marks: dict[Path, tuple[int, int]] = {}
        data = _build(loader, node, (), marks, file) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise DefinitionError.at(
            f"not valid YAML: {exc.problem or exc.context}", file, line, col
        ) from None
    except yaml.YAMLError as exc:
        raise DefinitionError.at(f"not valid YAML: {exc}", file) from None
    finally:
        loader.dispose()
    return Located(data, file, marks)


def _build(
    loader: _Loader, node: yaml.Node, path: Path, marks: dict[Path, tuple[int, int]], file: str
) -> Any:
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves << merge keys
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int)):
                raise DefinitionError.at(
                    f"keys must be plain text, not {type(key).__name__}",
                    file,
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            key = str(key)
            if key in out:
                raise DefinitionError.at(
                    f"duplicate key {key!r}; each key may appear once in a mapping",
                    file,
                    key_node.start_mark.line + 1,
                    key_node.start_mark.column + 1,
                )
            out[key] = _build(loader, value_node, (*path, key), marks, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, child, (*path, i), marks, file) for i, child in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def validate(model: type[M], doc: Located, path: Path = ()) -> M:
    """Validate ``doc`` (or the part at ``path``) against a pydantic model.

    Each pydantic error becomes a Problem at the position of the offending
    value, with pydantic's message and the dotted field name.
    """
    data = doc.data
    for part in path:
        data = data[part]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DefinitionError(validation_problems(exc, doc, path)) from None


def validation_problems(exc: ValidationError, doc: Located, prefix: Path = ()) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc: Path = tuple(p for p in err["loc"] if isinstance(p, (str, int)))
        # pydantic puts union member names into loc; skip parts that are not
        # keys in the document so the position found is the value's own.
        located: Path = prefix
        for part in loc:
            if (*located, part) in doc.marks:
                located = (*located, part)
        field = ".".join(str(p) for p in (*prefix, *loc)) or "document"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown field; check its spelling or remove it"
        elif err["type"] == "missing":
            message = "required field is missing"
        problems.append(doc.problem(located, f"{field}: {message}"))
    return problems
