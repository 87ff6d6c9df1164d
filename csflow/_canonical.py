"""Canonical JSON, the event codec and the hash chain: the bytes auditors rely on.

Pinned to one serializer (orjson, sorted keys, no spaces, UTF-8) so the same
event always hashes to the same digest on every machine and store:

* times: ISO-8601 UTC with ``Z`` (naive datetimes are refused at the edge),
* decimals: strings, exactly as given (``Decimal("1.10")`` -> ``"1.10"``),
* NaN / infinity and integers beyond 64 bits are refused by :func:`check_json_value`
  before anything is hashed, because orjson would write NaN as ``null``.

``hash = sha256(prev_hash || canonical_json(event without hash and pii))``.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import msgspec
import orjson
from msgspec.structs import astuple

from csflow.errors import ChainBroken
from csflow.model import Actor, Decision, Event

GENESIS = "0" * 64
_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z
_INT64 = 2**63


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` canonically (see module docstring)."""
    return orjson.dumps(value, default=_default, option=_OPTS)


def check_json_value(value: Any, path: str = "") -> str | None:
    """Return why ``value`` cannot be stored canonically, or None if it can.

    Called on every input that will be hashed, because the failures it finds
    would otherwise be silent (NaN -> null) or late (big ints at write time).
    """
    if value is None or isinstance(value, (str, bool)):
        return None
    if isinstance(value, int):
        return None if -_INT64 <= value < _INT64 else f"{path or 'value'}: integer beyond 64 bits"
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path or 'value'}: {value} is not a number"
    if isinstance(value, Decimal):
        return None if value.is_finite() else f"{path or 'value'}: {value} is not a number"
    if isinstance(value, datetime):
        ok = value.tzinfo is not None and value.utcoffset() is not None
        return None if ok else f"{path or 'value'}: datetime without a timezone"
    if isinstance(value, date):
        return None
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"{path or 'value'}: key {k!r} is not a string"
            problem = check_json_value(v, f"{path}.{k}" if path else k)
            if problem:
                return problem
        return None
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            problem = check_json_value(v, f"{path}[{i}]")
            if problem:
                return problem
        return None
    return f"{path or 'value'}: {type(value).__name__} cannot be stored"


def decision_to_dict(d: Decision) -> dict[str, Any]:
    return {
        "name": d.name,
        "title": d.title,
        "ruleset_version": d.ruleset_version,
        "inputs": d.inputs,
        "outputs": d.outputs,
        "matched": list(d.matched),
    }


def _payload(e: Event) -> dict[str, Any]:
    """The hashed part of an event: everything but ``hash`` and ``pii``."""
    return {
        "case_id": e.case_id,
        "seq": e.seq,
        "type": e.type,
        "workflow": e.workflow,
        "workflow_version": e.workflow_version,
        "trigger": e.trigger,
        "source": e.source,
        "dest": e.dest,
        "actor": None if e.actor is None else {"id": e.actor.id, "role": e.actor.role},
        "data": e.data,
        "decisions": [decision_to_dict(d) for d in e.decisions],
        "occurred_at": e.occurred_at,
        "recorded_at": e.recorded_at,
        "idempotency_key": e.idempotency_key,
        "prev_hash": e.prev_hash,
        "pii_digests": e.pii_digests,
    }


def chain_hash(prev_hash: str, payload_json: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + payload_json).hexdigest()


def event_hash(e: Event) -> str:
    """The hash ``e`` must carry given its content and ``prev_hash``."""
    return chain_hash(e.prev_hash, canonical_json(_payload(e)))


def event_to_dict(e: Event) -> dict[str, Any]:
    """Lossless JSON-able form (the JSON Lines export and the SQL row payload)."""
    out = _payload(e)
    out["hash"] = e.hash
    out["pii"] = e.pii
    return out


def event_from_dict(d: Mapping[str, Any]) -> Event:
    """Inverse of :func:`event_to_dict` (times may be ISO strings or datetimes)."""
    actor = d.get("actor")
    return Event(
        case_id=d["case_id"],
        seq=int(d["seq"]),
        type=d["type"],
        workflow=d["workflow"],
        workflow_version=int(d["workflow_version"]),
        trigger=d["trigger"],
        source=d.get("source"),
        dest=d["dest"],
        actor=None if actor is None else Actor(actor["id"], actor["role"]),
        data=d.get("data") or {},
        decisions=tuple(
            Decision(
                name=x["name"],
                title=x.get("title", ""),
                ruleset_version=x["ruleset_version"],
                inputs=x.get("inputs") or {},
                outputs=x.get("outputs") or {},
                matched=tuple(x.get("matched") or ()),
            )
            for x in d.get("decisions") or ()
        ),
        occurred_at=_time(d["occurred_at"]),
        recorded_at=_time(d["recorded_at"]),
        idempotency_key=d.get("idempotency_key"),
        prev_hash=d["prev_hash"],
        hash=d["hash"],
        pii_digests=d.get("pii_digests") or {},
        pii=d.get("pii") or {},
    )


def event_from_json(payload: str, pii: str | None = None) -> Event:
    """The event stored as ``payload`` (its canonical JSON) with ``pii`` kept beside it.

    The same event as :func:`event_from_dict` on the parsed text, built
    several times faster, because audit replays whole stores. msgspec parses
    the text and the times in C and, for an event without decisions, builds
    the Event struct directly. A :class:`Decision` is a NamedTuple, which
    msgspec reads only from arrays, so an event with decisions is read into a
    struct of the same fields first.
    Text that msgspec would not take exactly as typed goes through
    :func:`event_from_dict`, so what is accepted (and how) stays its rules.
    """
    try:
        if _NO_DECISIONS in payload:
            event = _decode_event(payload)
        else:
            stored = _decode_stored(payload)
            stored.decisions = tuple(Decision(*astuple(d)) for d in stored.decisions)
            event = Event(*astuple(stored))
    except msgspec.DecodeError:
        d = orjson.loads(payload)
        if pii is not None:
            d["pii"] = orjson.loads(pii)
        return event_from_dict(d)
    if pii is not None:
        # Set after decoding: the pii column is not hashed, so it must not be
        # able to pose as payload keys.
        event = msgspec.structs.replace(event, pii=orjson.loads(pii) or {})
    return event


class _StoredDecision(msgspec.Struct):
    """A decision as stored (an object), its fields in :class:`Decision`'s order."""

    name: str
    ruleset_version: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    matched: tuple[str, ...]
    title: str


def _stored_event() -> type[msgspec.Struct]:
    """A struct with Event's fields in Event's order, decisions read as stored."""
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for f in msgspec.structs.fields(Event):
        kind = tuple[_StoredDecision, ...] if f.name == "decisions" else f.type
        if f.default_factory is msgspec.NODEFAULT:
            fields.append((f.name, kind))
        else:
            fields.append((f.name, kind, msgspec.field(default_factory=f.default_factory)))
    return msgspec.defstruct("_StoredEvent", fields)


_decode_event = msgspec.json.Decoder(Event).decode
_decode_stored: Callable[[str], Any] = msgspec.json.Decoder(_stored_event()).decode
# Keys are sorted and unspaced, so this is the top-level key unless a data
# object has a key "decisions" too; then decoding fails and the dict path runs.
_NO_DECISIONS = '"decisions":[]'


def _time(v: Any) -> datetime:
    return v if isinstance(v, datetime) else datetime.fromisoformat(v)


def seal_pii(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Salt and commit personal data: returns (``pii``, ``pii_digests``).

    A fresh random salt per value stops anyone guessing an erased value by
    hashing candidates against the digest kept in the chain.
    """
    pii: dict[str, Any] = {}
    digests: dict[str, str] = {}
    for path, value in values.items():
        salt = secrets.token_hex(16)
        pii[path] = {"salt": salt, "value": value}
        digests[path] = pii_digest(salt, value)
    return pii, digests


def pii_digest(salt: str, value: Any) -> str:
    return hashlib.sha256(salt.encode("ascii") + canonical_json(value)).hexdigest()


def first_break(events: Iterable[Event], expected_case: str | None = None) -> ChainBroken | None:
    """The first place one case's events stop verifying, or None if they all do.

    Finds edited events (hash mismatch), deleted, inserted or reordered ones
    (seq gap or a prev_hash that is not the previous event's hash).
    """
    prev, expected_seq = GENESIS, 1
    for e in events:
        case = expected_case or e.case_id
        if e.case_id != case:
            return ChainBroken(case, e.seq, "foreign", f"event of case {e.case_id} in this history")
        if e.seq != expected_seq:
            return ChainBroken(case, expected_seq, "gap", f"found seq {e.seq} instead")
        if e.prev_hash != prev:
            return ChainBroken(
                case, e.seq, "relinked", "prev_hash is not the previous event's hash"
            )
        if event_hash(e) != e.hash:
            return ChainBroken(case, e.seq, "edited", "content does not match its hash")
        for path, sealed in e.pii.items():
            if (
                isinstance(sealed, dict)
                and "value" in sealed
                and e.pii_digests.get(path) != pii_digest(sealed["salt"], sealed["value"])
            ):
                return ChainBroken(case, e.seq, "edited", f"personal data at {path} was changed")
        prev, expected_seq, expected_case = e.hash, expected_seq + 1, case
    return None
