"""Case data as plain JSON trees: merging deltas and reading dotted paths.

Kept apart from the engine because replay, audit and analytics apply the very
same merge to recorded events; one implementation keeps them in agreement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeGuard

ERASED = "[erased]"
_MISSING = object()


# Types that are never mappings: checking ``type(v) in`` this is far cheaper than
# ``isinstance(v, Mapping)`` (an ABC check), and these are most values in case data.
_LEAVES = frozenset({str, int, float, bool, type(None), list, tuple})


def merge(base: Mapping[str, Any], delta: Mapping[str, Any]) -> dict[str, Any]:
    """A new tree: mappings merge recursively, anything else in ``delta`` replaces."""
    out = dict(base)
    merge_into(out, delta)
    return out


def is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    # Mostly strings, numbers and None here, which the ABC check is slow to turn down.
    return type(value) not in _LEAVES and isinstance(value, Mapping)


def merge_into(target: dict[str, Any], delta: Mapping[str, Any]) -> None:
    """:func:`merge` ``delta`` into ``target`` itself.

    Only ``target`` changes: a mapping merged into one of its values is
    merged into a copy (see :func:`merge`), because nested values may be
    shared with the events or cases they came from. Replay folds every event
    of a case this way instead of copying the whole tree at each one.
    """
    for key, value in delta.items():
        if is_mapping(value):
            old = target.get(key)
            if isinstance(old, Mapping):
                target[key] = merge(old, value)
                continue
        target[key] = value


def merge_at(target: dict[str, Any], path: str, value: Any) -> None:
    """``merge_into(target, nest(path, value))`` without building the nest.

    Every node on the path is replaced by a copy (a fresh dict where there was
    none), as that merge would, because it may be shared with an event. Replay
    and audit put each sealed personal value back this way.
    """
    *parents, leaf = path.split(".")
    node = target
    for part in parents:
        old = node.get(part)
        child = dict(old) if is_mapping(old) else {}
        node[part] = child
        node = child
    old = node.get(leaf)
    node[leaf] = merge(old, value) if is_mapping(value) and is_mapping(old) else value


def nest(path: str, value: Any) -> dict[str, Any]:
    """``nest("a.b", 1)`` -> ``{"a": {"b": 1}}``."""
    out: Any = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return dict(out)


def get_path(data: Mapping[str, Any], path: str | tuple[str, ...], default: Any = None) -> Any:
    """The value at a dotted path; ``default`` if any part is missing.

    A part ``name[*]`` takes every item of the list ``name`` and applies the rest
    of the path to each (``assessments[*].step`` -> the step of every row), so a
    guard can check a whole table of rows; it is missing if any item lacks it.
    """
    parts = tuple(path.split(".")) if isinstance(path, str) else path
    node: Any = data
    for i, part in enumerate(parts):
        if part.endswith("[*]"):
            items = node.get(part[:-3], default) if isinstance(node, Mapping) else default
            if not isinstance(items, list):
                return default
            plucked = [get_path(item, parts[i + 1 :], _MISSING) for item in items]
            return default if any(p is _MISSING for p in plucked) else plucked
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def has_path(data: Mapping[str, Any], path: str | tuple[str, ...]) -> bool:
    return get_path(data, path, _MISSING) is not _MISSING


def split_paths(
    delta: Mapping[str, Any], paths: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Remove ``paths`` from ``delta``: returns (delta without them, {path: value})."""
    taken: dict[str, Any] = {}
    rest: Any = delta
    for path in paths:
        if has_path(rest, path):
            taken[path] = get_path(rest, path)
            rest = _without(rest, path.split("."))
    return dict(rest), taken


def _without(data: Mapping[str, Any], parts: list[str]) -> dict[str, Any]:
    out = dict(data)
    if len(parts) == 1:
        out.pop(parts[0], None)
    else:
        out[parts[0]] = _without(out[parts[0]], parts[1:])
    return out
