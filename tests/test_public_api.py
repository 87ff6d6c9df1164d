"""The exported names are exactly the public API (as httpx tests its own)."""

from __future__ import annotations

import types

import csflow

EXPECTED = {
    "Backoff", "BusinessCalendar", "BusinessDuration", "CalendarError", "CalendarRegistry",
    "DispatchReport", "Dispatcher", "DueReport", "JsonlSender", "LoggingSender",
    "OutboxMessage", "RuleSet", "Sender", "Timer",
    "Actor",
    "Allowed",
    "Case",
    "CaseAlreadyExists",
    "CaseNotFound",
    "ChainBroken",
    "Clock",
    "ConcurrencyConflict",
    "CsflowError",
    "Decision",
    "DefinitionError",
    "Engine",
    "Event",
    "FixedClock",
    "GuardFailed",
    "IdempotencyKeyReused",
    "InvalidData",
    "InvalidFacts",
    "MemoryStore",
    "MissingDependency",
    "NotAllowedInState",
    "Problem",
    "RoleNotPermitted",
    "RowCheck",
    "SQLStore",
    "Store",
    "StoreError",
    "SystemClock",
    "TransitionRefused",
    "UnknownDefinition",
    "UnknownTrigger",
    "WorkflowDef",
    "__version__",
    "load_workflow",
    "open_store",
    "parse_workflow",
    "replay",
}


def test_all_is_exactly_the_public_api() -> None:
    assert set(csflow.__all__) == EXPECTED
    assert len(csflow.__all__) == len(set(csflow.__all__))


def test_every_exported_name_exists_and_nothing_else_is_public() -> None:
    for name in csflow.__all__:
        assert hasattr(csflow, name), name
    public = {
        n
        for n, v in vars(csflow).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert public <= set(csflow.__all__), public - set(csflow.__all__)


def test_errors_share_one_root() -> None:
    for name in csflow.__all__:
        value = getattr(csflow, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, csflow.CsflowError), name
