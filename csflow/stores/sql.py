"""The SQL store: SQLite (the embedded default) and PostgreSQL, on SQLAlchemy Core.

One append is one transaction holding one connection: an INSERT (new case) or
a version-checked UPDATE of the snapshot row, then one ``executemany`` for the
events. The version check is the UPDATE's own ``WHERE version = :expected``,
so the happy path needs no SELECT, and the database's row lock (PostgreSQL)
or write lock (SQLite, taken by ``BEGIN IMMEDIATE``) makes the second of two
concurrent writers find the version moved and raise ConcurrencyConflict.
Unique constraints on ``(case_id, seq)`` and ``idempotency_key`` back this up.

Those two write statements are Core statements compiled once per dialect and
run on the DBAPI cursor of the SQLAlchemy connection (see :class:`_Compiled`);
everything else (transactions, savepoints, pooling, reads, migrations) is
plain Core.

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
from contextlib import contextmanager
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

from csflow._canonical import canonical_json, event_from_json, event_to_dict
from csflow._outbox import OutboxMessage
from csflow._timers import NO_CHANGES, TimerChanges
from csflow.errors import CaseAlreadyExists, CaseNotFound, ConcurrencyConflict, StoreError
from csflow.model import Case, Event
from csflow.stores import _dialect
from csflow.stores._check import check_append
from csflow.stores._erase import erased_data, erased_pii
from csflow.stores._schema import audit_records, cases, events, rulesets
from csflow.stores._sql_timers import SQLTimers
from csflow.stores.base import AuditRecord, RawEvent

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
        self._insert_case = _Compiled(_INSERT_CASE, dialect, _CASE_KEYS)
        self._update_case = _Compiled(_UPDATE_CASE, dialect, _UPDATE_KEYS)
        self._load_case = _Compiled(_LOAD_CASE, dialect)
        self._insert_events = _Compiled(_INSERT_EVENTS, dialect, _EVENT_KEYS)
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
        with self._errors("append to"), self._writing() as conn:
            if expected_version == 0:
                try:
                    self._insert_case.run(conn, [case_row])
                except IntegrityError as e:
                    if not _dialect.is_unique_violation(e):
                        raise
                    raise CaseAlreadyExists(snapshot.id) from None
            else:
                case_row["b_id"], case_row["b_expected"] = snapshot.id, expected_version
                if self._update_case.run(conn, [case_row]) != 1:
                    actual = conn.execute(_CASE_VERSION, {"id": snapshot.id}).scalar()
                    raise ConcurrencyConflict(snapshot.id, expected_version, actual or 0)
            try:
                self._insert_events.run(conn, event_rows)
            except IntegrityError as e:
                if not _dialect.is_unique_violation(e):
                    raise
                # A seq taken (a writer the version check did not see) or an
                # idempotency key already recorded: either way someone else won.
                raise ConcurrencyConflict(snapshot.id, expected_version, None) from None
            if timers or outbox:
                self._write_timers(conn, timers, outbox)

    def load_case(self, case_id: str) -> Case:
        with self._errors("read a case from"), self._reading() as conn:
            row = self._load_case.first(conn, {"id": case_id})
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
                _dialect.begin_write(conn)
                yield conn
        elif host.in_transaction():
            _dialect.begin_write(host)
            with host.begin_nested():
                yield host
        else:
            with host.begin():
                _dialect.begin_write(host)
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

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        # Raw driver errors too: the SQLite BEGIN hook runs below SQLAlchemy.
        try:
            yield
        except (DBAPIError, self._engine.dialect.loaded_dbapi.Error) as e:
            raise _dialect.store_error(e, action, self._engine.url) from e


class _Compiled:
    """A Core statement compiled once for one dialect, run on the DBAPI cursor.

    ``Connection.execute`` costs about 20 µs a statement on top of the driver
    (measured with SQLite: as much as the write itself), and every ``fire``
    reads its case and appends. Compiling up front and applying SQLAlchemy's
    own bind and result processors keeps the SQL and the values exactly what
    Core would send and return, at the driver's speed (a case read went from
    about 200 µs to 40). Driver errors are wrapped as Core would wrap them, so
    callers see the usual :class:`~sqlalchemy.exc.DBAPIError` subclasses.
    """

    __slots__ = ("_named", "_processors", "_results", "sql")

    def __init__(
        self, stmt: sa.Insert | sa.Update | sa.Select[Any], dialect: sa.Dialect,
        keys: Sequence[str] = (),
    ) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        self.sql = str(compiled)
        self._named = compiled.positiontup is None
        order = compiled.positiontup or list(compiled.binds)
        self._processors = [
            (key, compiled.binds[key].type.dialect_impl(dialect).bind_processor(dialect))
            for key in order
        ]
        columns = stmt.selected_columns if isinstance(stmt, sa.Select) else ()
        self._results = [
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        ]

    @contextmanager
    def _cursor(self, conn: Connection) -> Iterator[Any]:
        """A DBAPI cursor on ``conn``, closed after; driver errors wrapped as Core wraps them."""
        dbapi = conn.dialect.loaded_dbapi
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            yield cursor
        except dbapi.Error as e:
            raise DBAPIError.instance(self.sql, None, e, dbapi.Error, dialect=conn.dialect) from e
        finally:
            cursor.close()

    def _params(self, row: dict[str, Any]) -> Any:
        values = ((k, row[k] if p is None else p(row[k])) for k, p in self._processors)
        return dict(values) if self._named else tuple(v for _, v in values)

    def run(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> int:
        """Execute for each row (one ``executemany`` for several); the affected row count."""
        with self._cursor(conn) as cursor:
            if len(rows) == 1:
                cursor.execute(self.sql, self._params(rows[0]))
            else:
                cursor.executemany(self.sql, [self._params(r) for r in rows])
            return int(cursor.rowcount)

    def first(self, conn: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of a SELECT, its values as Core would return them."""
        with self._cursor(conn) as cursor:
            cursor.execute(self.sql, self._params(params))
            row = cursor.fetchone()
        if row is None:
            return None
        return tuple(v if p is None else p(v) for v, p in zip(row, self._results, strict=True))


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
