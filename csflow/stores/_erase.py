"""What erasure of personal data does to stored values, shared by every store.

Kept pure and in one place so the memory and SQL stores blank exactly the
same things, and the audit's snapshot check (which replays sealed values,
or :data:`~csflow._data.ERASED` where they are gone) agrees with both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from csflow._data import ERASED, has_path, merge, nest
from csflow.stores.base import AuditRecord


def erased_pii(
    pii: Mapping[str, Any], paths: Sequence[str], record: AuditRecord
) -> tuple[dict[str, Any], int]:
    """``pii`` with the sealed values at ``paths`` blanked, and how many were.

    Value and salt both go: with the salt gone, nobody can confirm a guessed
    value against the digest the chain keeps.
    """
    out = dict(pii)
    count = 0
    for path in paths:
        sealed = out.get(path)
        if isinstance(sealed, Mapping) and "value" in sealed:
            out[path] = {"erased": record.at.isoformat()}
            count += 1
    return out, count


def erased_data(data: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """Snapshot data with every present value at ``paths`` replaced by ERASED."""
    out = dict(data)
    for path in paths:
        if has_path(out, path):
            out = merge(out, nest(path, ERASED))
    return out
