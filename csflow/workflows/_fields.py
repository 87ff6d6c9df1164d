"""Typed data fields declared in workflow files, and the pydantic models built from them.

A transition's ``requires:`` lists the data the caller must send, in a type
language a policy or operations person can read::

    requires:
      reason: str                      # required text
      note: str?                       # optional
      compensation: money              # Decimal; numbers or numeric strings accepted
      csat: {type: int, min: 1, max: 5}
      to_level: {type: enum, values: [team_leader, manager, director]}
      solutions:
        type: list
        items: {type: object, fields: {option: str, cost: money, customer_impact: str}}

Each spec becomes a pydantic validator once, at compile time. Validated values
are in JSON form (money and dates as strings), so case data is plain JSON
whether it came from memory, SQLite or PostgreSQL.

The validator checks against a ``TypedDict`` rather than a ``BaseModel``:
pydantic validates into a plain dict, holding exactly the keys sent, with no
model instance to build and dump again. Measured on a two-field trigger: 0.6
µs against 6.7 µs for ``model_validate`` plus ``model_dump``, on every fire.
Only specs with money, dates or times need the JSON-mode dump after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, NotRequired

from pydantic import AwareDatetime, ConfigDict, Field, Strict, TypeAdapter, with_config

# pydantic reads TypedDicts only from typing_extensions before Python 3.12.
from typing_extensions import TypedDict

_INT64 = 2**63
SCALARS = ("str", "int", "decimal", "money", "bool", "date", "datetime")
# Validated as Python objects that JSON has no type for: dumped in JSON mode after.
_NOT_JSON = frozenset({"decimal", "money", "date", "datetime"})
KINDS = (*SCALARS, "enum", "list", "object")


@dataclass(frozen=True)
class FieldSpec:
    """One declared field. ``fields`` for objects, ``items`` for lists."""

    kind: str
    optional: bool = False
    values: tuple[str, ...] = ()
    min: Decimal | None = None
    max: Decimal | None = None
    fields: tuple[tuple[str, FieldSpec], ...] = ()
    items: FieldSpec | None = None
    description: str = ""


def parse_field(raw: Any) -> FieldSpec:
    """Parse the short (``"int?"``) or long (``{type: int, min: 1}``) form.

    Raises ValueError with a message meant for the author of the file.
    """
    if isinstance(raw, str):
        text = raw.strip()
        optional = text.endswith("?")
        kind = text.rstrip("?").strip()
        if kind not in SCALARS:
            raise ValueError(
                f"unknown type {kind!r}; use one of {', '.join(SCALARS)}, "
                "or the long form {type: enum|list|object, ...}"
            )
        return FieldSpec(kind, optional)
    if not isinstance(raw, dict):
        raise ValueError("a field is a type name such as 'str' or a mapping with 'type:'")
    allowed = {"type", "optional", "values", "min", "max", "fields", "items", "description"}
    unknown = set(raw) - allowed
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    kind = str(raw.get("type", "")).rstrip("?")
    if kind not in KINDS:
        raise ValueError(f"unknown type {raw.get('type')!r}; use one of {', '.join(KINDS)}")
    optional = bool(raw.get("optional", False)) or str(raw.get("type", "")).endswith("?")
    values: tuple[str, ...] = ()
    if kind == "enum":
        vals = raw.get("values")
        if not isinstance(vals, list) or not vals:
            raise ValueError("an enum needs a non-empty list of 'values'")
        values = tuple(str(v) for v in vals)
        if len(set(values)) != len(values):
            raise ValueError("enum values must be unique")
    fields: tuple[tuple[str, FieldSpec], ...] = ()
    if kind == "object":
        sub = raw.get("fields")
        if not isinstance(sub, dict) or not sub:
            raise ValueError("an object needs a mapping of 'fields'")
        fields = parse_fields(sub)
    items = None
    if kind == "list":
        if "items" not in raw:
            raise ValueError("a list needs 'items' (the type of each element)")
        items = parse_field(raw["items"])
    bounds = {}
    for key in ("min", "max"):
        if raw.get(key) is not None:
            if kind not in ("int", "decimal", "money", "str", "list"):
                raise ValueError(f"'{key}' applies to numbers, text length and lists only")
            bounds[key] = Decimal(str(raw[key]))
    return FieldSpec(
        kind,
        optional,
        values,
        bounds.get("min"),
        bounds.get("max"),
        fields,
        items,
        str(raw.get("description", "")),
    )


def parse_fields(raw: dict[str, Any]) -> tuple[tuple[str, FieldSpec], ...]:
    out = []
    for name, spec in raw.items():
        try:
            out.append((name, parse_field(spec)))
        except FieldError as exc:  # nested object: prefix the inner path
            raise FieldError(f"{name}.{exc.path}", exc.message) from None
        except ValueError as exc:
            raise FieldError(name, str(exc)) from None
    return tuple(out)


class FieldError(ValueError):
    """A field spec is wrong; ``path`` names the field (dotted when nested)."""

    def __init__(self, path: str, message: str) -> None:
        self.path, self.message = path, message
        super().__init__(f"field {path}: {message}")


def _annotation(spec: FieldSpec, name: str) -> Any:
    lo, hi = spec.min, spec.max
    t: Any
    if spec.kind == "str":
        t = Annotated[
            str,
            Field(
                min_length=None if lo is None else int(lo),
                max_length=None if hi is None else int(hi),
            ),
        ]
    elif spec.kind == "int":
        # Strict so True/False and "5" are not silently taken for numbers;
        # bounded to 64 bits so every stored value hashes and round-trips.
        low = -_INT64 if lo is None else lo
        high = _INT64 - 1 if hi is None else hi
        t = Annotated[int, Strict(), Field(ge=low, le=high)]
    elif spec.kind in ("decimal", "money"):
        t = Annotated[Decimal, Field(ge=lo, le=hi, allow_inf_nan=False)]
    elif spec.kind == "bool":
        t = Annotated[bool, Strict()]
    elif spec.kind == "date":
        t = date
    elif spec.kind == "datetime":
        t = AwareDatetime
    elif spec.kind == "enum":
        t = Literal[spec.values]
    elif spec.kind == "list":
        assert spec.items is not None
        t = Annotated[
            list[_annotation(spec.items, name + "_item")],  # type: ignore[misc]
            Field(
                min_length=None if lo is None else int(lo),
                max_length=None if hi is None else int(hi),
            ),
        ]
    else:
        t = _typed_dict(name, spec.fields)
    return t


def _typed_dict(name: str, fields: tuple[tuple[str, FieldSpec], ...]) -> Any:
    """A TypedDict (extra keys forbidden) for a set of declared fields; optional
    ones may be left out or sent as null."""
    annotations: dict[str, Any] = {}
    for fname, spec in fields:
        ann = _annotation(spec, f"{name}_{fname}")
        annotations[fname] = NotRequired[ann | None] if spec.optional else ann
    return with_config(ConfigDict(extra="forbid"))(TypedDict(name, annotations))  # type: ignore[operator]


def _json_native(spec: FieldSpec) -> bool:
    """Whether every value the spec admits validates to a JSON type already."""
    if spec.kind in _NOT_JSON:
        return False
    nested = [s for _, s in spec.fields] + ([spec.items] if spec.items is not None else [])
    return all(_json_native(s) for s in nested)


class DataValidator:
    """Validates the data sent with a trigger against its ``requires:`` fields.

    Calling it returns the data as a new dict in JSON form, or raises
    pydantic's ``ValidationError`` (``TypeError`` for input pydantic cannot
    read at all).
    """

    __slots__ = ("_adapter", "_json_native", "_validate")

    def __init__(self, name: str, fields: tuple[tuple[str, FieldSpec], ...]) -> None:
        self._adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(_typed_dict(name, fields))
        # The core validator itself: the adapter's wrapper adds half a microsecond.
        self._validate = self._adapter.validator.validate_python
        self._json_native = all(_json_native(spec) for _, spec in fields)

    def __call__(self, data: Mapping[str, Any]) -> dict[str, Any]:
        value: dict[str, Any] = self._validate(data)
        if self._json_native:
            return value
        dumped: dict[str, Any] = self._adapter.dump_python(value, mode="json")
        return dumped


def describe(spec: FieldSpec) -> str:
    """Short human text for a spec, used by ``csflow workflows show`` and docs."""
    if spec.kind == "enum":
        text = "one of " + "|".join(spec.values)
    elif spec.kind == "list" and spec.items is not None:
        text = f"list of {describe(spec.items)}"
    elif spec.kind == "object":
        text = "{" + ", ".join(f"{n}: {describe(s)}" for n, s in spec.fields) + "}"
    else:
        text = spec.kind
    return text + ("?" if spec.optional else "")
