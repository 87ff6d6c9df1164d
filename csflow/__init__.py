"""csflow: rule-driven, auditable complaint-handling workflows for service desks.

The public API is exactly ``__all__`` below (a test keeps it so); everything
in modules whose name starts with ``_`` is private and may change.
"""

from csflow._outbox import (
    Backoff,
    Dispatcher,
    DispatchReport,
    JsonlSender,
    LoggingSender,
    OutboxMessage,
    Sender,
)
from csflow._replay import replay
from csflow._timers import Timer
from csflow.calendars import BusinessCalendar, BusinessDuration, CalendarRegistry
from csflow.clock import Clock, FixedClock, SystemClock
from csflow.engine import Allowed, DueReport, Engine
from csflow.errors import (
    CalendarError,
    CaseAlreadyExists,
    CaseNotFound,
    ChainBroken,
    ConcurrencyConflict,
    CsflowError,
    DefinitionError,
    GuardFailed,
    IdempotencyKeyReused,
    InvalidData,
    InvalidFacts,
    MissingDependency,
    NotAllowedInState,
    Problem,
    RoleNotPermitted,
    StoreError,
    TransitionRefused,
    UnknownDefinition,
    UnknownTrigger,
)
from csflow.model import Actor, Case, Decision, Event, RowCheck
from csflow.rules import RuleSet
from csflow.stores import MemoryStore, SQLStore, Store, open_store
from csflow.workflows import WorkflowDef, load_workflow, parse_workflow

__version__ = "0.1.0"

__all__ = [
    "Actor",
    "Allowed",
    "Backoff",
    "BusinessCalendar",
    "BusinessDuration",
    "CalendarError",
    "CalendarRegistry",
    "Case",
    "CaseAlreadyExists",
    "CaseNotFound",
    "ChainBroken",
    "Clock",
    "ConcurrencyConflict",
    "CsflowError",
    "Decision",
    "DefinitionError",
    "DispatchReport",
    "Dispatcher",
    "DueReport",
    "Engine",
    "Event",
    "FixedClock",
    "GuardFailed",
    "IdempotencyKeyReused",
    "InvalidData",
    "InvalidFacts",
    "JsonlSender",
    "LoggingSender",
    "MemoryStore",
    "MissingDependency",
    "NotAllowedInState",
    "OutboxMessage",
    "Problem",
    "RoleNotPermitted",
    "RowCheck",
    "RuleSet",
    "SQLStore",
    "Sender",
    "Store",
    "StoreError",
    "SystemClock",
    "Timer",
    "TransitionRefused",
    "UnknownDefinition",
    "UnknownTrigger",
    "WorkflowDef",
    "__version__",
    "load_workflow",
    "open_store",
    "parse_workflow",
    "replay",
]
