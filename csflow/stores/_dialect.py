"""Everything that differs between SQLite and PostgreSQL, in one place.

:mod:`csflow.stores.sql` is written against SQLAlchemy Core and never names a
dialect; what it cannot express portably is here:

* which URLs mean what (``postgresql://`` means psycopg 3, not psycopg2),
* SQLite's connection set-up and transaction handling,
* how csflow's own transactions and lone reads begin on the driver, and how
  many connections a store keeps between calls,
* writing SQLite's times faster than SQLAlchemy, to the same text,
* taking the schema lock before migrating,
* recognising a unique-constraint violation in a driver's exception,
* what to tell the user to check when the database fails.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.sqlite import base as sqlite_types
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeEngine

from csflow.errors import MissingDependency, StoreError

SUPPORTED = ("sqlite", "postgresql")

# Execution option marking the connections csflow writes through: on engines
# csflow creates, they start with BEGIN IMMEDIATE instead of a deferred BEGIN.
WRITE = "csflow_write"

# How long a writer waits for another's write lock; ``?timeout=SECONDS`` in the URL overrides.
BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 10

# Arbitrary constant key for pg_advisory_xact_lock: serialises concurrent
# migrations of the same database (two workers starting at once).
_PG_MIGRATION_LOCK = 0x6373666C6F77  # "csflow"


def parse_url(url: str | URL) -> URL:
    """Parse a database URL, defaulting PostgreSQL to the psycopg 3 driver."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as e:
        raise StoreError(
            f"{url!r} is not a database URL; use sqlite:///path/to/file.db or "
            "postgresql+psycopg://user@host:port/dbname"
        ) from e
    if parsed.drivername in ("postgresql", "postgres"):
        # SQLAlchemy's default PostgreSQL driver is psycopg2; csflow ships psycopg 3.
        parsed = parsed.set(drivername="postgresql+psycopg")
    check_backend(parsed.get_backend_name(), parsed)
    return parsed


def check_backend(backend: str, url: URL) -> None:
    if backend not in SUPPORTED:
        raise StoreError(
            f"csflow stores events in SQLite or PostgreSQL, not {backend} "
            f"({url.render_as_string(hide_password=True)})"
        )


def create_engine(url: URL) -> Engine:
    """An engine set up the way csflow needs it (SQLite: WAL, locks taken up front)."""
    kwargs: dict[str, Any] = {}
    busy_ms = _busy_ms(url)  # before SQLAlchemy reads ``timeout`` and fails less helpfully
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        # Without it an unreachable host hangs for the OS TCP timeout (minutes).
        kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    try:
        engine = sa.create_engine(url, **kwargs)
    except ImportError as e:
        if url.get_backend_name() == "postgresql":
            raise MissingDependency("postgres", "psycopg", "PostgreSQL storage") from e
        raise
    if url.get_backend_name() == "sqlite":
        _set_up_sqlite(engine, busy_ms)
    return engine


def _busy_ms(url: URL) -> int:
    timeout = url.query.get("timeout")
    if timeout is None:
        return BUSY_TIMEOUT_MS
    try:
        return int(float(str(timeout)) * 1000)
    except ValueError:
        raise StoreError(f"timeout={timeout!r} in the SQLite URL must be seconds") from None


def _set_up_sqlite(engine: Engine, busy_ms: int) -> None:
    """SQLAlchemy's documented recipe for correct SQLite transactions, plus pragmas.

    Python's sqlite3 module (legacy transaction control) emits BEGIN late and
    never for SAVEPOINT, so nested transactions misbehave and a write lock is
    only requested at the first INSERT, where a waiting reader can deadlock.
    Here sqlite3 is told to keep out of transaction control and SQLAlchemy
    emits BEGIN itself: ``BEGIN IMMEDIATE`` for csflow's writes, so two
    writers queue on ``busy_timeout`` instead of failing mid-transaction.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # First, so that switching to WAL waits for a concurrent opener too.
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            # WAL lets readers (audit, reports) run while a desk writes.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # The usual WAL pairing: commits stay atomic and the file cannot
            # corrupt; only a power cut or OS crash may lose the last commits.
            # FULL would fsync every append (measured here: ~4x fewer per second).
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE, False)
        # Straight to the driver: exec_driver_sql would cost more than the BEGIN.
        conn.connection.dbapi_connection.execute(  # type: ignore[union-attr]
            "BEGIN IMMEDIATE" if write else "BEGIN"
        )


def begin_write(raw: Any) -> None:
    """Make sure a real SQLite write transaction is open on the DBAPI connection ``raw``.

    Core transactions on engines csflow created have already sent it; for
    the driver-level transactions of ``SQLStore`` this is their BEGIN. A host
    application's SQLite engine usually keeps sqlite3's legacy transaction
    control, which has not sent BEGIN yet if the host has only read; a
    SAVEPOINT there would start (and its RELEASE commit) a transaction of its
    own, outside the host's. Sending BEGIN IMMEDIATE first puts csflow's
    writes inside the transaction the host later commits or rolls back.
    PostgreSQL needs nothing: the driver begins at the first statement.
    """
    if isinstance(raw, sqlite3.Connection) and not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


def idle_connections(engine: Engine) -> int:
    """How many connections a store of csflow's own may keep between calls, past its pool.

    SQLite's: the pool's checkout and reset cost about as much as reading a
    case, and a local file's connection does not die while idle. As many as
    the pool would keep, so every connection kept is one the pool would have
    kept anyway. PostgreSQL's none: a server connection can die while idle,
    and the pool is what replaces dead ones; its checkout is small next to a
    round trip.
    """
    pool = engine.pool
    if engine.dialect.name == "sqlite" and isinstance(pool, QueuePool):
        return pool.size()
    return 0


def begin_lone_statement(raw: Any) -> bool:
    """Let one statement run on the DBAPI connection ``raw`` outside a transaction.

    True when :func:`end_lone_statement` must undo it afterwards. psycopg
    would send BEGIN first and leave the transaction for the pool to roll
    back: three round trips for one SELECT, one in autocommit. SQLite (with
    sqlite3 kept out of transaction control, or in its legacy mode) begins
    none for a SELECT anyway.
    """
    if isinstance(raw, sqlite3.Connection) or getattr(raw, "autocommit", True):
        return False
    raw.autocommit = True
    return True


def end_lone_statement(raw: Any) -> None:
    # Cannot fail on a live connection (autocommit leaves no transaction
    # open); a broken one raises, and is then not given back to the pool.
    raw.autocommit = False


def streaming_cursor(conn: Connection) -> Any:
    """A DBAPI cursor on ``conn`` whose ``fetchmany`` streams a large result.

    PostgreSQL needs a named (server-side) cursor, or psycopg would load
    every row into memory at ``execute``; SQLite cursors always stream.
    """
    raw: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "postgresql":
        return raw.cursor(name=f"csflow_stream_{uuid.uuid4().hex[:12]}")
    return raw.cursor()


def lock_for_migration(conn: Connection) -> None:
    """Serialise migrations: two processes creating the tables at once must not both try.

    SQLite needs nothing: the write transaction (BEGIN IMMEDIATE) already
    excludes other writers.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})


def is_unique_violation(error: DBAPIError) -> bool:
    """True when the driver reports a unique (or primary key) constraint violation."""
    orig = error.orig
    if isinstance(orig, sqlite3.IntegrityError):
        return getattr(orig, "sqlite_errorname", "") in (
            "SQLITE_CONSTRAINT_UNIQUE",
            "SQLITE_CONSTRAINT_PRIMARYKEY",
        )
    # psycopg 3 says ``sqlstate``, psycopg2 (a host's own engine) ``pgcode``.
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code == "23505"


def store_error(error: Exception, action: str, url: URL) -> StoreError:
    """A StoreError saying what failed and what to check, to be raised ``from error``.

    ``error`` is SQLAlchemy's DBAPIError or a driver's own error.
    """
    where = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        check = (
            "check that the file's directory exists and is writable, that the disk is "
            "not full, and that no other process holds the write lock for longer than "
            "the busy timeout (?timeout=SECONDS in the URL)"
        )
    else:
        check = (
            "check that the server is running and reachable at that host and port, "
            "and that the user, password and database name are right"
        )
    orig = error.orig if isinstance(error, DBAPIError) else error
    reason = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    return StoreError(f"could not {action} the store at {where}: {reason}; {check}")


def utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime.

    SQLite keeps times as text without an offset (so they are written in UTC
    and read back naive), PostgreSQL returns them in the session's time zone.
    """
    tz = value.tzinfo
    if tz is UTC:  # most values, on every append and read: skip the conversion
        return value
    if tz is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def bind_processor(impl: TypeEngine[Any], dialect: sa.Dialect) -> Callable[[Any], Any] | None:
    """SQLAlchemy's bind processor for ``impl``, or a faster one with the same output.

    SQLite's DATETIME formats a dict of the fields, about 2 µs a value and
    four values an append; the same format from a tuple costs half. The fast
    one is only used if it agrees with SQLAlchemy's on probe values, so a
    change in SQLAlchemy's storage format falls back to it.
    """
    process = impl.bind_processor(dialect)
    if process is None or not isinstance(impl, sqlite_types.DATETIME):
        return process
    if any(process(probe) != _sqlite_datetime(probe) for probe in _PROBES):
        return process
    fallback = process

    def fast(value: Any) -> Any:
        return _sqlite_datetime(value) if type(value) is datetime else fallback(value)

    return fast


def _sqlite_datetime(value: datetime) -> str:
    # SQLAlchemy's format, from a tuple rather than a dict (an f-string
    # costs twice as much); no offset, as there (SQLite keeps UTC times
    # naive, see utc).
    return "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (  # noqa: UP031
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond,
    )


_PROBES = (
    datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
    datetime(999, 1, 2, 3, 4, 5),
    datetime(2024, 3, 1, 9, 30, 15),
)
