"""Timers and the outbox for :class:`~csflow.stores.sql.SQLStore`.

Claims are one statement: an UPDATE of the rows chosen by a sub-SELECT,
returning what it leased::

    UPDATE csflow_timers SET lease_until = :until, attempts = attempts + 1 ...
    WHERE id IN (SELECT id FROM csflow_timers WHERE due_at <= :now AND <lease free>
                 ORDER BY due_at LIMIT :n FOR UPDATE SKIP LOCKED)
    RETURNING ...

On PostgreSQL ``FOR UPDATE SKIP LOCKED`` makes concurrent claimers pass over
each other's rows instead of queueing on them; on SQLite (which renders no
``FOR UPDATE``) the statement runs in csflow's ``BEGIN IMMEDIATE`` write
transaction, so claims are serialised by the database lock and two never see
the same free lease. A claimer that dies leaves only a lease that runs out.

The append path (:meth:`SQLTimers._write_timers`) runs inside the append's
transaction, on its DBAPI cursor like the rest of the append, so a timer
change or a message exists exactly when its event does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from csflow._canonical import canonical_json
from csflow._outbox import DELIVERED, FAILED, PENDING, OutboxMessage
from csflow._timers import Timer, TimerChanges, timer_from_dict, timer_to_dict
from csflow.stores import _dialect
from csflow.stores._compiled import Compiled
from csflow.stores._schema import outbox, timers

_NOW: sa.BindParameter[datetime] = sa.bindparam("now")
_LEASE_FREE = sa.or_(timers.c.lease_until.is_(None), timers.c.lease_until <= _NOW)
_DELETE_TIMER = timers.delete().where(timers.c.id == sa.bindparam("b_id"))
_TIMER_KEYS = [c.key for c in timers.c]
# inline(): no RETURNING of the generated position, which nothing reads.
_INSERT_MESSAGES = outbox.insert().inline()
_MESSAGE_KEYS = [c.key for c in outbox.c if c.key != "position"]
_CASE_TIMERS = sa.select(timers.c.spec, timers.c.attempts).where(
    timers.c.case_id == sa.bindparam("case_id")
)
_ALL_TIMERS = (
    sa.select(timers.c.spec, timers.c.attempts)
    .order_by(timers.c.due_at.is_(None), timers.c.due_at, timers.c.id)
    .execution_options(stream_results=True, yield_per=1000)
)
_CLAIM_TIMERS = (
    timers.update()
    .where(
        timers.c.id.in_(
            sa.select(timers.c.id)
            .where(timers.c.due_at <= _NOW, _LEASE_FREE)
            .order_by(timers.c.due_at)
            .limit(sa.bindparam("limit"))
            .with_for_update(skip_locked=True)
        )
    )
    .values(
        lease_until=sa.bindparam("until"),
        claimed_by=sa.bindparam("worker"),
        attempts=timers.c.attempts + 1,
    )
    .returning(timers.c.spec, timers.c.attempts)
)
_OUTBOX_COLUMNS = (
    outbox.c.id,
    outbox.c.case_id,
    outbox.c.seq,
    outbox.c.message,
    outbox.c.recipient,
    outbox.c.payload,
    outbox.c.created_at,
    outbox.c.status,
    outbox.c.attempts,
    outbox.c.next_attempt_at,
    outbox.c.delivered_at,
    outbox.c.last_error,
)
_CLAIM_OUTBOX = (
    outbox.update()
    .where(
        outbox.c.position.in_(
            sa.select(outbox.c.position)
            .where(
                outbox.c.status == PENDING,
                outbox.c.next_attempt_at <= _NOW,
                sa.or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= _NOW),
            )
            .order_by(outbox.c.position)
            .limit(sa.bindparam("limit"))
            .with_for_update(skip_locked=True)
        )
    )
    .values(lease_until=sa.bindparam("until"))
    .returning(outbox.c.position, *_OUTBOX_COLUMNS)
)
_SETTLE_OUTBOX = outbox.update().where(outbox.c.id == sa.bindparam("b_id"))
_MESSAGES = sa.select(*_OUTBOX_COLUMNS).order_by(outbox.c.position)


class SQLTimers:
    """Mixed into SQLStore, whose connection helpers it uses."""

    if TYPE_CHECKING:

        def _writing(self) -> AbstractContextManager[Connection]: ...
        def _reading(self) -> AbstractContextManager[Connection]: ...
        def _errors(self, action: str) -> AbstractContextManager[None]: ...

    def _compile_timer_writes(self, dialect: sa.Dialect) -> None:
        self._delete_timers = Compiled(_DELETE_TIMER, dialect, ["b_id"])
        self._insert_timers = Compiled(timers.insert(), dialect, _TIMER_KEYS)
        self._insert_messages = Compiled(_INSERT_MESSAGES, dialect, _MESSAGE_KEYS)

    def _write_timers(
        self, cursor: Any, changes: TimerChanges, messages: Sequence[OutboxMessage]
    ) -> None:
        """An append's timer changes and messages, on the append's DBAPI cursor."""
        gone = [*changes.drop, *(t.id for t in changes.put)]
        if gone:
            self._delete_timers.run(cursor, [{"b_id": i} for i in gone])
        if changes.put:
            self._insert_timers.run(cursor, [_timer_row(t) for t in changes.put])
        if messages:
            self._insert_messages.run(cursor, [_message_row(m) for m in messages])

    def load_timers(self, case_id: str) -> list[Timer]:
        with self._errors("read timers from"), self._reading() as conn:
            return [_timer(r) for r in conn.execute(_CASE_TIMERS, {"case_id": case_id})]

    def iter_timers(self) -> Iterator[Timer]:
        with self._errors("read timers from"), self._reading() as conn:
            for r in conn.execute(_ALL_TIMERS):
                yield _timer(r)

    def claim_timers(
        self, now: datetime, *, limit: int, lease_until: datetime, worker: str
    ) -> list[Timer]:
        params = {
            "now": _dialect.utc(now),
            "limit": limit,
            "until": _dialect.utc(lease_until),
            "worker": worker,
        }
        with self._errors("claim timers in"), self._writing() as conn:
            claimed = [_timer(r) for r in conn.execute(_CLAIM_TIMERS, params)]
        return sorted(claimed, key=lambda t: (t.due_at, t.id))

    def claim_outbox(
        self, now: datetime, *, limit: int, lease_until: datetime
    ) -> list[OutboxMessage]:
        params = {"now": _dialect.utc(now), "limit": limit, "until": _dialect.utc(lease_until)}
        with self._errors("claim outbox messages in"), self._writing() as conn:
            rows = sorted(conn.execute(_CLAIM_OUTBOX, params), key=lambda r: r.position)
        return [_message(r) for r in rows]

    def outbox_delivered(self, message_id: str, *, at: datetime) -> None:
        self._settle(
            message_id,
            status=DELIVERED,
            delivered_at=_dialect.utc(at),
            next_attempt_at=None,
            last_error=None,
        )

    def outbox_failed(self, message_id: str, *, error: str, retry_at: datetime | None) -> None:
        self._settle(
            message_id,
            status=PENDING if retry_at is not None else FAILED,
            next_attempt_at=None if retry_at is None else _dialect.utc(retry_at),
            last_error=error,
        )

    def _settle(self, message_id: str, **values: Any) -> None:
        stmt = _SETTLE_OUTBOX.values(attempts=outbox.c.attempts + 1, lease_until=None, **values)
        with self._errors("update the outbox in"), self._writing() as conn:
            conn.execute(stmt, {"b_id": message_id})

    def outbox_messages(self, case_id: str | None = None) -> list[OutboxMessage]:
        stmt = _MESSAGES if case_id is None else _MESSAGES.where(outbox.c.case_id == case_id)
        with self._errors("read the outbox of"), self._reading() as conn:
            return [_message(r) for r in conn.execute(stmt)]


def _timer_row(t: Timer) -> dict[str, Any]:
    return {
        "id": t.id,
        "case_id": t.case_id,
        "due_at": None if t.due_at is None else _dialect.utc(t.due_at),
        "lease_until": None,
        "claimed_by": None,
        "attempts": 0,
        "spec": canonical_json(timer_to_dict(t)).decode(),
    }


def _timer(row: Row[Any, Any]) -> Timer:
    return timer_from_dict(orjson.loads(row.spec), attempts=row.attempts)


def _message_row(m: OutboxMessage) -> dict[str, Any]:
    created = _dialect.utc(m.created_at)
    return {
        "id": m.id,
        "case_id": m.case_id,
        "seq": m.seq,
        "message": m.message,
        "recipient": m.to,
        "payload": canonical_json(m.payload).decode(),
        "created_at": created,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": created,
        "lease_until": None,
        "delivered_at": None,
        "last_error": None,
    }


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row.id,
        case_id=row.case_id,
        seq=row.seq,
        message=row.message,
        to=row.recipient,
        payload=orjson.loads(row.payload),
        created_at=_dialect.utc(row.created_at),
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=None if row.next_attempt_at is None else _dialect.utc(row.next_attempt_at),
        delivered_at=None if row.delivered_at is None else _dialect.utc(row.delivered_at),
        last_error=row.last_error,
    )
