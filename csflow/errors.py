"""Every error csflow raises, under one root.

The tree::

    CsflowError
    ├── DefinitionError          a workflow or rule file is wrong; fix the file
    ├── UnknownDefinition        no workflow / decision of that name (and version)
    ├── InvalidFacts             a decision was asked with missing or ill-typed facts
    ├── TransitionRefused        the engine refused a trigger; nothing was written
    │   ├── UnknownTrigger
    │   ├── NotAllowedInState
    │   ├── RoleNotPermitted
    │   ├── GuardFailed          carries the decision and its trace
    │   └── InvalidData          carries the field errors
    ├── CaseNotFound
    ├── CaseAlreadyExists
    ├── ConcurrencyConflict      stale expected_version; reload and retry
    ├── IdempotencyKeyReused     same key, different request
    ├── StoreError               the database failed; the call may be retried
    ├── ChainBroken              stored history does not verify
    ├── CalendarError            a calendar cannot answer (date outside its years, bad region)
    └── MissingDependency        an optional extra is not installed (also ImportError)

Definition errors are about *files* and are raised when loading; the others
are about *calls* at run time. A caller that wants "the engine said no" catches
:class:`TransitionRefused`; one that wants "anything from csflow" catches
:class:`CsflowError`. Every error carries the ids a caller needs as attributes,
and its message says what to do next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import date

    from csflow.model import Decision


class CsflowError(Exception):
    """Root of every error csflow raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a definition file, located as an editor would."""

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.file or "<definition>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


class DefinitionError(CsflowError):
    """A workflow or rule file cannot be used; the file must be fixed.

    Carries every :class:`Problem` found, so ``csflow ... check`` can list them
    all at once instead of one per run. ``file``, ``line`` and ``column`` are
    those of the first problem.
    """

    def __init__(self, problems: Problem | Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = (
            (problems,) if isinstance(problems, Problem) else tuple(problems)
        )
        if not self.problems:
            raise ValueError("DefinitionError needs at least one problem")
        first = self.problems[0]
        self.file, self.line, self.column = first.file, first.line, first.column
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def at(
        cls,
        message: str,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> DefinitionError:
        return cls(Problem(message, file, line, column))


class UnknownDefinition(CsflowError):
    """No workflow or decision table is registered under that name."""

    def __init__(self, kind: str, name: str, known: Sequence[str], version: object = None) -> None:
        self.kind, self.name, self.version = kind, name, version
        self.known = tuple(known)
        label = f"{name!r}" if version is None else f"{name!r} version {version}"
        super().__init__(
            f"unknown {kind} {label}; known: {', '.join(sorted(self.known)) or 'none'}"
        )


class InvalidFacts(CsflowError):
    """A decision was asked with a fact missing or of the wrong type."""

    def __init__(self, decision: str, input: str, message: str) -> None:
        self.decision, self.input = decision, input
        super().__init__(f"decision {decision!r}, input {input!r}: {message}")


class TransitionRefused(CsflowError):
    """The engine refused to fire a trigger. Nothing was written."""

    def __init__(self, case_id: str, state: str, trigger: str, reason: str) -> None:
        self.case_id, self.state, self.trigger, self.reason = case_id, state, trigger, reason
        super().__init__(f"case {case_id} in state {state!r}: cannot {trigger!r}: {reason}")


class UnknownTrigger(TransitionRefused):
    """The workflow has no trigger of that name."""


class NotAllowedInState(TransitionRefused):
    """The trigger exists but not from the case's current state."""


class RoleNotPermitted(TransitionRefused):
    """The actor's role may not fire this trigger."""

    def __init__(
        self, case_id: str, state: str, trigger: str, role: str, allowed: Sequence[str]
    ) -> None:
        self.role, self.allowed_roles = role, tuple(allowed)
        super().__init__(
            case_id,
            state,
            trigger,
            f"role {role!r} is not permitted; ask one of: {', '.join(allowed)}",
        )


class GuardFailed(TransitionRefused):
    """A guard decision did not give the outputs the transition needs."""

    def __init__(
        self,
        case_id: str,
        state: str,
        trigger: str,
        decision: Decision,
        expected: Mapping[str, Any],
    ) -> None:
        self.decision, self.expected = decision, dict(expected)
        got = {k: decision.outputs.get(k) for k in expected}
        super().__init__(
            case_id,
            state,
            trigger,
            f"guard {decision.name!r} gave {got}, needs {dict(expected)} "
            f"(matched rows: {', '.join(decision.matched) or 'none'})",
        )


class InvalidData(TransitionRefused):
    """The data sent with a trigger is missing fields or has wrong types."""

    def __init__(
        self, case_id: str, state: str, trigger: str, field_errors: Mapping[str, str]
    ) -> None:
        self.field_errors = dict(field_errors)
        detail = "; ".join(f"{k}: {v}" for k, v in self.field_errors.items())
        super().__init__(case_id, state, trigger, f"invalid data: {detail}")


class CaseNotFound(CsflowError):
    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(f"no case with id {case_id!r}")


class CaseAlreadyExists(CsflowError):
    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(f"a case with id {case_id!r} already exists; choose another id")


class ConcurrencyConflict(CsflowError):
    """Someone else changed the case first. Reload it and decide again."""

    def __init__(self, case_id: str, expected: int, actual: int | None) -> None:
        self.case_id, self.expected, self.actual = case_id, expected, actual
        now = "unknown" if actual is None else str(actual)
        super().__init__(
            f"case {case_id}: expected version {expected} but it is now at {now}; "
            "reload the case and retry"
        )


class IdempotencyKeyReused(CsflowError):
    """An idempotency key already recorded for a different request."""

    def __init__(self, key: str, detail: str) -> None:
        self.key = key
        super().__init__(f"idempotency key {key!r} was used for {detail}; use a new key")


class StoreError(CsflowError):
    """The store failed (connection lost, disk full...). Nothing partial is kept."""


class ChainBroken(CsflowError):
    """A case's stored history does not verify."""

    def __init__(self, case_id: str, seq: int, kind: str, detail: str = "") -> None:
        self.case_id, self.seq, self.kind = case_id, seq, kind
        super().__init__(
            f"case {case_id}: history broken at seq {seq} ({kind}){': ' + detail if detail else ''}"
        )


class CalendarError(CsflowError):
    """A business calendar cannot answer for that input.

    Raised rather than guessing: a date outside the calendar's supported years
    (where its holiday tables would be empty, so every weekday would silently
    count as a business day), an unknown holiday region, a naive datetime.
    """

    def __init__(self, calendar: str, message: str, date: date | None = None) -> None:
        self.calendar, self.date = calendar, date
        super().__init__(f"calendar {calendar!r}: {message}")


class MissingDependency(CsflowError, ImportError):
    """An optional extra is needed: ``pip install 'csflow[extra]'``."""

    def __init__(self, extra: str, package: str, purpose: str) -> None:
        self.extra, self.package = extra, package
        super().__init__(
            f"{purpose} needs {package}, which is not installed: pip install 'csflow[{extra}]'"
        )
