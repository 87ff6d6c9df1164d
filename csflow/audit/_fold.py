"""Case state and data from raw event fields, as :func:`csflow.replay` builds them.

Whole-store verification works on decoded JSON, not :class:`~csflow.model.Event`
values (building an Event costs more than hashing it), so it needs the
state/data fold on plain dicts. It is the same rule as ``csflow.replay``:
merge each event's public data, then its sealed personal values, or
:data:`~csflow._data.ERASED` where they were erased. A test checks that both
give the same case for every case of a simulated desk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from csflow._data import ERASED, merge, merge_at


def fold(
    data: Mapping[str, Any], delta: Mapping[str, Any], pii: Mapping[str, Any]
) -> Mapping[str, Any]:
    """Case data after one event: ``delta`` merged, then every sealed personal value."""
    if not pii:
        return merge(data, delta) if delta else data
    out = merge(data, delta)
    for path, sealed in pii.items():
        merge_at(out, path, sealed.get("value", ERASED) if isinstance(sealed, Mapping) else ERASED)
    return out


def merge_owned(base: dict[str, Any], delta: dict[str, Any]) -> None:
    """:func:`~csflow._data.merge` in place, for trees nobody else holds (freshly decoded JSON).

    Whole-store verify folds every stored event; copying the case's tree at
    each one (what :func:`fold` must do, as its inputs may be shared) costs
    more than hashing the event. Decoded JSON is all plain dicts, so exact
    type checks replace the slower ABC checks too.
    """
    for key, value in delta.items():
        old = base.get(key)
        if type(value) is dict and type(old) is dict:
            merge_owned(old, value)
        else:
            base[key] = value
