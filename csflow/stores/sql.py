"""The SQL store: SQLite (the embedded default) and PostgreSQL, on SQLAlchemy Core.

One append is one transaction holding one connection: an INSERT (new case) or
a version-checked UPDATE of the snapshot row, then one ``executemany`` for the
events. The version check is the UPDATE's own ``WHERE version = :expected``,
so the happy path needs no SELECT, and the database's row lock (PostgreSQL)
or write lock (SQLite, taken by ``BEGIN IMMEDIATE``) makes the second of two
concurrent writers find the version moved and raise ConcurrencyConflict.
Unique constraints on ``(case_id, seq)`` and ``idempotency_key`` back this up.

Reading a case and appending are what every ``fire`` does, so they skip
Core's ``Connection``: their statements are compiled once per dialect and run
on a pooled DBAPI connection (see :class:`~csflow.stores._compiled.Compiled`),
in a transaction begun and committed on the driver (a Core transaction and its
pool reset cost more than the SQLite write itself). Everything else
(savepoints, streaming reads, audit, migrations) is plain Core.

A host application can pass its own ``Engine`` or ``Connection``. With a
Connection already in a transaction, csflow writes inside a SAVEPOINT and
never commits: the host's commit or rollback decides for both, and a csflow
failure (a conflict, say) rolls back only the savepoint, so the host's
transaction stays usable.

Event rows keep the canonical JSON that was hashed (``payload``) and personal
data in a separate ``pii`` column, so erasure can blank ``pii`` without
touching what the chain covers. Dialect differences live in ``_dialect``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from itertools import starmap
from types import TracebackType
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import PoolProxiedConnection

from csflow._canonical import canonical_json, event_from_json, event_to_dict
from csflow._outbox import OutboxMessage
from csflow._timers import NO_CHANGES, TimerChanges
from csflow.errors import CaseAlreadyExists, CaseNotFound, ConcurrencyConflict, StoreError
from csflow.model import Case, Event
from csflow.stores import _dialect
from csflow.stores._check import check_append
from csflow.stores._compiled import Compiled
from csflow.stores._erase import erased_data, erased_pii
from csflow.stores._schema import audit_records, cases, events, rulesets
from csflow.stores._sql_timers import SQLTimers
from csflow.stores.base import AuditRecord, RawCase, RawEvent

__all__ = ["SQLStore", "upgrade"]

Target = str | URL | Engine | Connection

_STREAM_CHUNK = 1000

_CASE_KEYS = [c.key for c in cases.c if c.key != "position"]
_EVENT_KEYS = [c.key for c in events.c if c.key != "position"]
# inline(): no RETURNING of the generated position, which nothing reads.
_INSERT_CASE = cases.insert().inline()
# SET columns come from the parameters; b_* only feed the WHERE clause.
_UPDATE_CASE = cases.update().where(
    cases.c.id == sa.bindparam("b_id"), cases.c.version == sa.bindparam("b_expected")
)
_UPDATE_KEYS = [k for k in _CASE_KEYS if k != "id"] + ["b_id", "b_expected"]
_INSERT_EVENTS = events.insert().inline()
_CASE_VERSION = sa.select(cases.c.version).where(cases.c.id == sa.bindparam("id"))
_CASE_COLUMNS = (
    cases.c.id,
    cases.c.workflow,
    cases.c.workflow_version,
    cases.c.state,
    cases.c.data,
    cases.c.version,
    cases.c.created_at,
    cases.c.updated_at,
    cases.c.last_hash,
    cases.c.terminal,
)
_LOAD_CASE = sa.select(*_CASE_COLUMNS).where(cases.c.id == sa.bindparam("id"))
_FIND_KEY = sa.select(events.c.case_id, events.c.seq).where(
    events.c.idempotency_key == sa.bindparam("key")
)
_CASE_EVENTS = (
    sa.select(events.c.payload, events.c.pii)
    .where(events.c.case_id == sa.bindparam("case_id"), events.c.seq >= sa.bindparam("lo"))
    .order_by(events.c.seq)
)
_CASE_EVENTS_TO = _CASE_EVENTS.where(events.c.seq <= sa.bindparam("hi"))
_ALL_EVENTS = sa.select(events.c.payload, events.c.pii).order_by(events.c.position)
_ALL_RAW_EVENTS = sa.select(
    events.c.case_id, events.c.seq, events.c.hash, events.c.payload, events.c.pii
).order_by(events.c.position)
_ALL_CASES = (
    sa.select(*_CASE_COLUMNS)
    .order_by(cases.c.position)
    .execution_options(stream_results=True, yield_per=_STREAM_CHUNK)
)
_RULESET_SAVED = sa.select(rulesets.c.version).where(
    rulesets.c.version == sa.bindparam("version"))
_LOAD_RULESET = sa.select(rulesets.c.files).where(rulesets.c.version == sa.bindparam("version"))
_LOCK_CASE = sa.select(cases.c.data).where(cases.c.id == sa.bindparam("id")).with_for_update()
_CASE_PII = sa.select(events.c.position, events.c.pii).where(
    events.c.case_id == sa.bindparam("case_id"), events.c.pii.is_not(None))
_UPDATE_PII = events.update().where(events.c.position == sa.bindparam("b_position"))
_UPDATE_DATA = cases.update().where(cases.c.id == sa.bindparam("b_id"))
_ALL_RECORDS = sa.select(audit_records).order_by(audit_records.c.position)
_ALL_CASE_IDS = (
    sa.select(cases.c.id)
    .order_by(cases.c.position)
    .execution_options(stream_results=True, yield_per=_STREAM_CHUNK)
)


class SQLStore(SQLTimers):
    """Cases and events in SQLite or PostgreSQL.

    ``target`` is a URL (``sqlite:///desk.db``, ``postgresql+psycopg://...``;
    plain ``postgresql://`` also means psycopg 3), or the host application's
    own ``Engine`` or ``Connection``. With ``create=True`` the csflow tables
    are created or upgraded to the latest migration first (inside the host's
    transaction when given a Connection in one).

    A store made from a URL owns its engine and :meth:`close` disposes of it;
    a host Engine or Connection is never closed, committed or configured by
    csflow.
    """

    def __init__(self, target: Target, *, create: bool = True) -> None:
        self._host: Connection | None = None
        self._owned = False
        if isinstance(target, Connection):
            self._host, engine = target, target.engine
        elif isinstance(target, Engine):
            engine = target
        else:
            engine = _dialect.create_engine(_dialect.parse_url(target))
            self._owned = True
        _dialect.check_backend(engine.dialect.name, engine.url)
        self._engine = engine
        dialect = engine.dialect
        self._insert_case = Compiled(_INSERT_CASE, dialect, _CASE_KEYS)
        self._update_case = Compiled(_UPDATE_CASE, dialect, _UPDATE_KEYS)
        self._case_version = Compiled(_CASE_VERSION, dialect)
        self._load_case = Compiled(_LOAD_CASE, dialect)
        self._insert_events = Compiled(_INSERT_EVENTS, dialect, _EVENT_KEYS)
        self._compile_timer_writes(dialect)
        # The hooks csflow set itself (SQLite's BEGIN): any other makes _direct false.
        self._own_hooks = _hooks(engine) if self._owned else (0, 0, 0, 0)
        self._driver_errors = (DBAPIError, dialect.loaded_dbapi.Error)
        # Connections kept between calls (see _dialect.idle_connections); not
        # of a host's engine, whose pool may be too small to lend any.
        self._idle: list[PoolProxiedConnection] = []
        self._idle_max = _dialect.idle_connections(engine) if self._owned else 0
        self._raw_events_sql = str(_ALL_RAW_EVENTS.compile(dialect=dialect))
        self._writer = engine.execution_options(**{_dialect.WRITE: True})
        self._closed = False
        if create:
            try:
                with self._errors("create or upgrade the tables of"), self._writing() as conn:
                    _dialect.lock_for_migration(conn)
                    _migrate(conn)
            except BaseException:
                self.close()
                raise

    def __repr__(self) -> str:
        return f"SQLStore({self._engine.url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> SQLStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the Store protocol -------------------------------------------------

    def append(
        self,
        snapshot: Case,
        events: Sequence[Event],
        expected_version: int,
        *,
        timers: TimerChanges = NO_CHANGES,
        outbox: Sequence[OutboxMessage] = (),
    ) -> None:
        check_append(snapshot, events, expected_version)
        # Serialise before touching the database: a value that cannot be
        # encoded fails here, with nothing begun.
        case_row = _case_row(snapshot)
        event_rows = [_event_row(e) for e in events]
        with self._errors("append to"), self._write_cursor() as cursor:
            if expected_version == 0:
                try:
                    self._insert_case.run(cursor, [case_row])
                except IntegrityError as e:
                    if not _dialect.is_unique_violation(e):
                        raise
                    raise CaseAlreadyExists(snapshot.id) from None
            else:
                case_row["b_id"], case_row["b_expected"] = snapshot.id, expected_version
                if self._update_case.run(cursor, [case_row]) != 1:
                    found = self._case_version.first(cursor, {"id": snapshot.id})
                    actual = 0 if found is None else found[0]
                    raise ConcurrencyConflict(snapshot.id, expected_version, actual)
            try:
                self._insert_events.run(cursor, event_rows)
            except IntegrityError as e:
                if not _dialect.is_unique_violation(e):
                    raise
                # A seq taken (a writer the version check did not see) or an
                # idempotency key already recorded: either way someone else won.
                raise ConcurrencyConflict(snapshot.id, expected_version, None) from None
            if timers or outbox:
                self._write_timers(cursor, timers, outbox)

    def load_case(self, case_id: str) -> Case:
        with self._errors("read a case from"), self._read_cursor() as cursor:
            row = self._load_case.first(cursor, {"id": case_id})
        if row is None:
            raise CaseNotFound(case_id)
        return _case(row)

    def load_events(
        self, case_id: str, from_seq: int = 1, to_seq: int | None = None
    ) -> list[Event]:
        params: dict[str, Any] = {"case_id": case_id, "lo": from_seq}
        stmt = _CASE_EVENTS
        if to_seq is not None:
            stmt, params["hi"] = _CASE_EVENTS_TO, to_seq
        with self._errors("read events from"), self._reading() as conn:
            return [event_from_json(payload, pii) for payload, pii in conn.execute(stmt, params)]

    def find_idempotency_key(self, key: str) -> tuple[str, int] | None:
        with self._errors("look up an idempotency key in"), self._reading() as conn:
            row = conn.execute(_FIND_KEY, {"key": key}).first()
        return None if row is None else (row.case_id, row.seq)

    def case_ids(self) -> Iterator[str]:
        """Streams in chunks from one consistent read; holds a connection until exhausted."""
        with self._errors("list the cases in"), self._reading() as conn:
            for (case_id,) in conn.execute(_ALL_CASE_IDS):
                yield case_id

    def iter_cases(self) -> Iterator[Case]:
        """Streams in chunks from one consistent read; holds a connection until exhausted."""
        with self._errors("read cases from"), self._reading() as conn:
            for row in conn.execute(_ALL_CASES):
                yield _case(row)

    def iter_events(self) -> Iterator[Event]:
        """Streams in chunks from one consistent read; holds a connection until exhausted.

        One read (not a page per query) because PostgreSQL hands out positions
        before commit: a later page could miss an event committed late with a
        lower position.
        """
        with self._errors("read events from"), self._reading() as conn:
            # Past Core, like iter_raw_events: whole-store replay reads every
            # row, and Core's per-row work would cost a tenth of decoding it.
            sql = str(_ALL_EVENTS.compile(dialect=conn.dialect))
            for rows in _chunks(conn, sql):
                yield from starmap(event_from_json, rows)

    def iter_raw_events(self) -> Iterator[RawEvent]:
        """Like :meth:`iter_events`, as the rows are stored (see :data:`RawEvent`).

        Straight from the DBAPI cursor: these columns need no type processing,
        and Core's per-row work would cost as much as verifying the row.
        """
        with self._errors("read events from"), self._reading() as conn:
            for rows in _chunks(conn, self._raw_events_sql):
                yield from rows

    def iter_raw_cases(self) -> Iterator[RawCase]:
        """Like :meth:`iter_cases`, as the rows are stored (see :data:`RawCase`).

        Straight from the DBAPI cursor, as :meth:`iter_raw_events`: none of
        these columns needs type processing, and the times (which do) are
        not read at all.
        """
        c = cases.c
        stmt = sa.select(c.id, c.version, c.last_hash, c.state, c.data).order_by(c.position)
        with self._errors("read cases from"), self._reading() as conn:
            for rows in _chunks(conn, str(stmt.compile(dialect=conn.dialect))):
                yield from rows

    # -- what audit relies on -----------------------------------------------

    def save_ruleset(self, version: str, files: Mapping[str, str]) -> None:
        row = {"version": version, "files": canonical_json(dict(files)).decode(),
               "saved_at": datetime.now(UTC)}
        try:
            with self._errors("save a ruleset in"), self._writing() as conn:
                if conn.execute(_RULESET_SAVED, {"version": version}).first() is None:
                    conn.execute(rulesets.insert(), row)
        except StoreError as e:
            # Two engines starting at once may both find it missing; content
            # addressing makes the loser's insert a duplicate of the winner's.
            cause = e.__cause__
            if not (isinstance(cause, IntegrityError) and _dialect.is_unique_violation(cause)):
                raise

    def load_ruleset(self, version: str) -> Mapping[str, str] | None:
        with self._errors("read a ruleset from"), self._reading() as conn:
            text = conn.execute(_LOAD_RULESET, {"version": version}).scalar()
        if text is None:
            return None
        files = orjson.loads(text)
        return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}

    def erase_pii(self, case_id: str, paths: Sequence[str], record: AuditRecord) -> int:
        count = 0
        with self._errors("erase personal data in"), self._writing() as conn:
            # FOR UPDATE (PostgreSQL): no append may slip in between reading and writing.
            data = conn.execute(_LOCK_CASE, {"id": case_id}).scalar()
            if data is None:
                raise CaseNotFound(case_id)
            changed = []
            for position, text in conn.execute(_CASE_PII, {"case_id": case_id}):
                pii, n = erased_pii(orjson.loads(text), paths, record)
                if n:
                    changed.append({"b_position": position,
                                    "pii": canonical_json(pii).decode()})
                    count += n
            if changed:
                conn.execute(_UPDATE_PII, changed)
            erased = canonical_json(erased_data(orjson.loads(data), paths)).decode()
            conn.execute(_UPDATE_DATA, {"b_id": case_id, "data": erased})
            conn.execute(audit_records.insert(), _record_row(record))
        return count

    def purge_case(self, case_id: str, record: AuditRecord) -> None:
        with self._errors("purge a case from"), self._writing() as conn:
            if conn.execute(_LOCK_CASE, {"id": case_id}).first() is None:
                raise CaseNotFound(case_id)
            conn.execute(events.delete().where(events.c.case_id == case_id))
            conn.execute(cases.delete().where(cases.c.id == case_id))
            conn.execute(audit_records.insert(), _record_row(record))

    def add_audit_record(self, record: AuditRecord) -> None:
        with self._errors("write an audit record to"), self._writing() as conn:
            conn.execute(audit_records.insert(), _record_row(record))

    def audit_records(self) -> list[AuditRecord]:
        with self._errors("read audit records from"), self._reading() as conn:
            rows = conn.execute(_ALL_RECORDS).all()
        return [
            AuditRecord(kind=r.kind, at=_dialect.utc(r.at), actor=r.actor, case_id=r.case_id,
                        detail=orjson.loads(r.detail))
            for r in rows
        ]

    def close(self) -> None:
        if self._owned and not self._closed:
            self._closed = True
            self._release_idle()
            self._engine.dispose()
        self._closed = True

    # -- connections and transactions ---------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self!r} is closed; open a new store")

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A connection in a write transaction that commits only if it is csflow's own."""
        self._check_open()
        host = self._host
        if host is None:
            with self._writer.begin() as conn:
                _dialect.begin_write(conn.connection.dbapi_connection)
                yield conn
        elif host.in_transaction():
            _dialect.begin_write(host.connection.dbapi_connection)
            with host.begin_nested():
                yield host
        else:
            with host.begin():
                _dialect.begin_write(host.connection.dbapi_connection)
                yield host

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        self._check_open()
        host = self._host
        if host is None:
            with self._engine.connect() as conn:
                yield conn
        elif host.in_transaction():
            yield host
        else:
            # Do not leave the host's connection in a transaction it did not begin.
            with host.begin():
                yield host

    def _write_cursor(self) -> AbstractContextManager[Any]:
        """Like :meth:`_writing`, as a DBAPI cursor (for :class:`Compiled` statements).

        When :meth:`_direct`, csflow's own transaction on the driver: BEGIN
        (IMMEDIATE, on SQLite) and COMMIT or ROLLBACK go straight to it, and
        the connection never leaves in a transaction.
        """
        if self._direct():
            return _DriverTransaction(self, write=True)
        return self._hosted(self._writing())

    def _read_cursor(self) -> AbstractContextManager[Any]:
        """Like :meth:`_reading`, as a DBAPI cursor, for one statement.

        One statement is consistent on its own, so when :meth:`_direct` it runs
        outside any transaction (PostgreSQL: one round trip instead of BEGIN,
        SELECT and the pool's ROLLBACK).
        """
        if self._direct():
            return _DriverTransaction(self, write=False)
        return self._hosted(self._reading())

    def _direct(self) -> bool:
        """Whether csflow may run its own transaction on the driver, past Core.

        Not in a host's Connection (its transaction decides), nor when the
        engine asks Core to do something as a connection or transaction
        starts or ends: execution options (an isolation level, a schema map)
        or event listeners (a search_path set on begin, a test's hook), which
        only a Core ``Connection`` honours. Asked on every call: a listener
        may be added after the store was opened.
        """
        engine = self._engine
        return (
            self._host is None
            and not engine.get_execution_options()
            and _hooks(engine) == self._own_hooks
        )

    @staticmethod
    @contextmanager
    def _hosted(scope: AbstractContextManager[Connection]) -> Iterator[Any]:
        with scope as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                yield cursor
            finally:
                cursor.close()

    def _checkout(self) -> PoolProxiedConnection:
        if self._idle:
            try:
                return self._idle.pop()
            except IndexError:  # another thread took the last one
                pass
        return self._engine.raw_connection()

    def _give_back(self, fairy: PoolProxiedConnection, error: BaseException | None) -> None:
        """Keep ``fairy`` for the next call after a clean one, or return it to the pool.

        After an error the pool resets it (its ROLLBACK), unless the driver
        reports it dead (see :meth:`_discard`).
        """
        if error is None:
            if len(self._idle) < self._idle_max and not self._closed:
                self._idle.append(fairy)
                return
        elif self._is_disconnect(error, fairy):
            self._discard(fairy, error)
            return
        fairy.close()

    def _discard(self, fairy: PoolProxiedConnection, error: BaseException) -> None:
        """Close ``fairy`` for good: its state is unknown, or the driver reports it dead.

        A dead one is handled as Core's ``Connection`` handles it: the pool's
        other connections (and those kept here) are likely dead too, and are
        replaced as they are next taken.
        """
        if self._is_disconnect(error, fairy):
            self._engine.pool._invalidate(fairy, error)
            self._release_idle()
        else:
            fairy.invalidate(error)

    def _is_disconnect(self, error: BaseException, fairy: PoolProxiedConnection) -> bool:
        dialect = self._engine.dialect
        orig = error.orig if isinstance(error, DBAPIError) else error
        return isinstance(orig, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
            orig, fairy.dbapi_connection, None
        )

    def _release_idle(self) -> None:
        while self._idle:
            try:
                self._idle.pop().close()
            except IndexError:  # another thread took the last one
                return

    def _errors(self, action: str) -> AbstractContextManager[None]:
        return _Errors(self, action)


class _Errors:
    """Driver errors inside as a StoreError saying what failed and what to check.

    Raw driver errors too: BEGIN, COMMIT and the pool run below SQLAlchemy.
    A class rather than a generator: it wraps every call, and a generator
    context manager costs a few microseconds more.
    """

    __slots__ = ("_action", "_store")

    def __init__(self, store: SQLStore, action: str) -> None:
        self._store, self._action = store, action

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        store = self._store
        if isinstance(exc, store._driver_errors):
            raise _dialect.store_error(exc, self._action, store._engine.url) from exc


class _DriverTransaction:
    """A cursor in csflow's own transaction, or lone read, on a pooled DBAPI connection.

    A class rather than a generator for the same reason as :class:`_Errors`.
    """

    __slots__ = ("_cursor", "_fairy", "_lone", "_store", "_write")

    def __init__(self, store: SQLStore, *, write: bool) -> None:
        self._store, self._write = store, write

    def __enter__(self) -> Any:
        store = self._store
        store._check_open()
        fairy = self._fairy = store._checkout()
        raw: Any = fairy.dbapi_connection
        try:
            if self._write:
                _dialect.begin_write(raw)
            else:
                self._lone = _dialect.begin_lone_statement(raw)
            self._cursor = raw.cursor()
        except BaseException as e:
            store._give_back(fairy, e)
            raise
        return self._cursor

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        fairy = self._fairy
        raw: Any = fairy.dbapi_connection
        try:
            self._cursor.close()
            if self._write and exc is None:
                raw.commit()
            elif self._write:
                raw.rollback()
            elif self._lone:
                _dialect.end_lone_statement(raw)
        except BaseException as e:
            # A connection whose COMMIT, ROLLBACK or return from autocommit
            # failed is in no known state (SQLite keeps a transaction open
            # after a failed COMMIT): closed, never reused. An earlier error
            # says best why the call failed.
            self._store._discard(fairy, e)
            if exc is None:
                raise
            return
        self._store._give_back(fairy, exc)


def _hooks(engine: Engine) -> tuple[int, int, int, int]:
    """How many listeners ``engine`` has for a Core connection or transaction starting or ending."""
    events = engine.dispatch
    return len(events.engine_connect), len(events.begin), len(events.commit), len(events.rollback)


def upgrade(target: Target) -> None:
    """Create the csflow tables or bring them to the latest migration (idempotent).

    For ``csflow db upgrade`` and for hosts that migrate at deploy time and
    then open stores with ``create=False``.
    """
    SQLStore(target, create=True).close()


def _migrate(conn: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", "csflow.stores:migrations")
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


def _case_row(c: Case) -> dict[str, Any]:
    return {
        "id": c.id,
        "workflow": c.workflow,
        "workflow_version": c.workflow_version,
        "state": c.state,
        "data": canonical_json(c.data).decode(),
        "version": c.version,
        "created_at": _dialect.utc(c.created_at),
        "updated_at": _dialect.utc(c.updated_at),
        "last_hash": c.last_hash,
        "terminal": c.terminal,
    }


def _event_row(e: Event) -> dict[str, Any]:
    payload = event_to_dict(e)
    pii = payload.pop("pii")
    return {
        "case_id": e.case_id,
        "seq": e.seq,
        "type": e.type,
        "trigger": e.trigger,
        "occurred_at": _dialect.utc(e.occurred_at),
        "recorded_at": _dialect.utc(e.recorded_at),
        "idempotency_key": e.idempotency_key,
        "hash": e.hash,
        "payload": canonical_json(payload).decode(),
        "pii": canonical_json(pii).decode() if pii else None,
    }


def _case(row: Sequence[Any]) -> Case:
    """A case from a row of ``_CASE_COLUMNS`` (a Core row or a plain tuple)."""
    id_, workflow, workflow_version, state, data, version, created, updated, last, done = row
    return Case(
        id=id_,
        workflow=workflow,
        workflow_version=workflow_version,
        state=state,
        data=orjson.loads(data),
        version=version,
        created_at=_dialect.utc(created),
        updated_at=_dialect.utc(updated),
        last_hash=last,
        terminal=bool(done),
    )


def _record_row(r: AuditRecord) -> dict[str, Any]:
    return {"kind": r.kind, "at": _dialect.utc(r.at), "actor": r.actor, "case_id": r.case_id,
            "detail": canonical_json(r.detail).decode()}


def _chunks(conn: Connection, sql: str) -> Iterator[list[Any]]:
    """The rows of ``sql`` a chunk at a time, from a DBAPI cursor that streams."""
    cursor = _dialect.streaming_cursor(conn)
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(_STREAM_CHUNK):
            yield rows
    finally:
        cursor.close()
