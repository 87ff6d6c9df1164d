"""The transactional outbox: messages written with the event that caused them, sent later.

A transition's ``emit:`` lines (acknowledge the complaint, tell the customer
the proposed action, ask them to confirm the outcome) and SLA alerts become
:class:`OutboxMessage` rows in the same store transaction as the event, so a
message exists if and only if its event does. :class:`Dispatcher` then hands
pending messages to a :class:`Sender`, marks them delivered, and retries
failures with exponential backoff.

Delivery is at least once: a dispatcher that dies after sending but before
marking sends again once its lease runs out. Message ids are stable
(``case:seq:index``), so a receiver drops duplicates by id.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from csflow._canonical import canonical_json
from csflow._logging import default_logger
from csflow.clock import Clock, SystemClock

if TYPE_CHECKING:
    from csflow.stores.base import Store

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One message to deliver, and how its delivery is going.

    ``payload`` is a JSON tree: the message name, audience, case, state and
    the fields the workflow's ``emit:`` asked for. ``status`` is ``pending``
    until a sender accepts it (``delivered``) or ``max_attempts`` failures
    give up on it (``failed``, kept with ``last_error`` for someone to look at).
    """

    id: str
    case_id: str
    seq: int
    message: str
    to: str
    payload: Mapping[str, Any]
    created_at: datetime
    status: str = PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_error: str | None = None


@runtime_checkable
class Sender(Protocol):
    """Delivers one message (email, SMS, a queue...). Raise to have it retried later."""

    def send(self, message: OutboxMessage) -> None: ...


class LoggingSender:
    """Logs each message instead of sending it: for development and demos.

    The payload is not logged, because it may carry personal data (a
    customer's email address) that logs must not keep.
    """

    def __init__(self, logger: Any = None) -> None:
        self._log = logger if logger is not None else default_logger()

    def send(self, message: OutboxMessage) -> None:
        self._log.info(
            "csflow.outbox.sent",
            message_id=message.id,
            message=message.message,
            to=message.to,
            case_id=message.case_id,
        )


class JsonlSender:
    """Appends each message as one JSON line to a file another system picks up.

    Each line is written and fsynced before the message is marked delivered,
    so a crash can duplicate a line (same ``id``) but never lose one.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def send(self, message: OutboxMessage) -> None:
        line = canonical_json(
            {
                "id": message.id,
                "case_id": message.case_id,
                "seq": message.seq,
                "message": message.message,
                "to": message.to,
                "payload": message.payload,
                "created_at": message.created_at,
            }
        )
        with self._lock, self.path.open("ab") as f:
            f.write(line + b"\n")
            f.flush()
            os.fsync(f.fileno())


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before retry ``n`` (1-based): ``first * factor**(n-1)``, at most ``cap``."""

    first: timedelta = timedelta(seconds=10)
    factor: float = 2.0
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempt: int) -> timedelta:
        return min(self.cap, self.first * self.factor ** max(attempt - 1, 0))


@dataclass(frozen=True, slots=True)
class DispatchReport:
    """What one :meth:`Dispatcher.run_once` did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    errors: tuple[str, ...] = field(default=())


class Dispatcher:
    """Delivers pending outbox messages through ``sender``; several may run at once.

    Messages are claimed with a lease (``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL), so two dispatchers never send the same message at the same
    time; one that dies leaves its messages to be claimed again when the
    lease ends.
    """

    def __init__(
        self,
        store: Store,
        sender: Sender,
        *,
        clock: Clock | None = None,
        lease: timedelta = timedelta(minutes=2),
        max_attempts: int = 8,
        backoff: Backoff | None = None,
        logger: Any = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.store, self.sender = store, sender
        self.clock = clock or SystemClock()
        self.lease, self.max_attempts = lease, max_attempts
        self.backoff = backoff or Backoff()
        self._log = logger if logger is not None else default_logger()

    def run_once(self, limit: int = 100) -> DispatchReport:
        """Claim up to ``limit`` due messages and try each once."""
        now = self.clock.now()
        claimed = self.store.claim_outbox(now, limit=limit, lease_until=now + self.lease)
        delivered = retried = failed = 0
        errors: list[str] = []
        for m in claimed:
            try:
                self.sender.send(m)
            except Exception as exc:  # a sender's failure of any kind means "try again later"
                error = f"{type(exc).__name__}: {exc}"
                errors.append(f"{m.id}: {error}")
                attempts = m.attempts + 1
                retry_at = (
                    None
                    if attempts >= self.max_attempts
                    else self.clock.now() + self.backoff.delay(attempts)
                )
                self.store.outbox_failed(m.id, error=error, retry_at=retry_at)
                if retry_at is None:
                    failed += 1
                    self._log.error("csflow.outbox.gave_up", message_id=m.id, error=error)
                else:
                    retried += 1
                    self._log.warning("csflow.outbox.retry", message_id=m.id, error=error)
                continue
            self.store.outbox_delivered(m.id, at=self.clock.now())
            delivered += 1
        return DispatchReport(len(claimed), delivered, retried, failed, tuple(errors))


__all__ = [
    "DELIVERED",
    "FAILED",
    "PENDING",
    "Backoff",
    "DispatchReport",
    "Dispatcher",
    "JsonlSender",
    "LoggingSender",
    "OutboxMessage",
    "Sender",
]
