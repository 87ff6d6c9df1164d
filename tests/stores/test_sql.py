"""What only the SQL store does: host transactions, processes racing, migrations, errors."""

from __future__ import annotations

import multiprocessing
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from csflow.errors import (
    CaseAlreadyExists,
    ConcurrencyConflict,
    MissingDependency,
    StoreError,
)
from csflow.stores import MemoryStore, SQLStore, _dialect, open_store, upgrade
from csflow.stores._schema import VERSION_TABLE, events, metadata

from ._chain import as_json, assert_chain, dump, extend, start
from ._race import CASE, contender

tickets = sa.Table(
    "host_tickets", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.String),
)


@pytest.fixture
def host_engine(db_url: str) -> Iterator[sa.Engine]:
    """The host application's own engine: plain SQLAlchemy defaults, its own table, csflow's."""
    engine = sa.create_engine(db_url)
    tickets.metadata.create_all(engine)
    upgrade(engine)
    yield engine
    engine.dispose()


def _titles(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(tickets.c.title).order_by(tickets.c.id)).scalars())


def _case_ids(engine: sa.Engine) -> list[str]:
    with SQLStore(engine, create=False) as store:
        return list(store.case_ids())


# -- host engines and connections ---------------------------------------------


def test_host_engine_is_used_but_not_disposed(host_engine: sa.Engine) -> None:
    store = SQLStore(host_engine)
    case, batch = start("c-1")
    store.append(case, batch, 0)
    store.close()
    with host_engine.connect() as conn:  # still the host's, still working
        assert conn.execute(sa.select(events.c.case_id)).scalars().all() == ["c-1"]


@pytest.mark.parametrize("host_wrote_first", [True, False])
@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_host_transaction_decides_for_both(
    host_engine: sa.Engine, outcome: str, host_wrote_first: bool
) -> None:
    with host_engine.connect() as conn:
        conn.begin()
        if host_wrote_first:
            conn.execute(tickets.insert(), {"title": "parcel late"})
        else:
            # Only read: sqlite3's legacy mode has sent no BEGIN yet, the case
            # where a bare SAVEPOINT would escape the host's transaction.
            conn.execute(sa.select(tickets.c.id)).all()
        store = SQLStore(conn, create=False)
        case, batch = start("c-1")
        store.append(case, batch, 0)
        assert store.load_case("c-1").version == 1  # visible inside the transaction
        assert conn.in_transaction()  # not committed by csflow
        conn.execute(tickets.insert(), {"title": "second"})
        conn.commit() if outcome == "commit" else conn.rollback()

    committed = outcome == "commit"
    assert _case_ids(host_engine) == (["c-1"] if committed else [])
    want = ["parcel late", "second"] if host_wrote_first else ["second"]
    assert _titles(host_engine) == (want if committed else [])


def test_failed_append_leaves_the_host_transaction_usable(host_engine: sa.Engine) -> None:
    with SQLStore(host_engine) as own:
        case, batch = start("c-1", keys=["k1"])
        own.append(case, batch, 0)
        before = dump(own)

    with host_engine.connect() as conn, conn.begin():
        conn.execute(tickets.insert(), {"title": "one"})
        store = SQLStore(conn)
        with pytest.raises(CaseAlreadyExists):
            store.append(case, batch, 0)
        clash, clash_batch = start("c-2", keys=["k1"])  # a database-level unique violation
        with pytest.raises(ConcurrencyConflict):
            store.append(clash, clash_batch, 0)
        more, more_batch = extend(case)
        store.append(more, more_batch, 1)  # csflow too carries on in the same transaction
        conn.execute(tickets.insert(), {"title": "two"})

    assert _titles(host_engine) == ["one", "two"]
    with SQLStore(host_engine) as after:
        assert after.load_case("c-1").version == 2
        assert dump(after)["log"][:1] == before["log"]
        assert list(after.case_ids()) == ["c-1"]


def test_host_connection_outside_a_transaction_is_left_outside(host_engine: sa.Engine) -> None:
    with host_engine.connect() as conn:
        store = SQLStore(conn)
        assert not conn.in_transaction()
        case, batch = start("c-1")
        store.append(case, batch, 0)
        assert not conn.in_transaction()
        assert store.load_case("c-1").version == 1
        assert [e.seq for e in store.iter_events()] == [1]
        assert not conn.in_transaction()
    assert _case_ids(host_engine) == ["c-1"]  # committed by csflow: it owned that transaction


def test_core_transaction_hooks_see_every_csflow_write(host_engine: sa.Engine) -> None:
    """A listener on Core's transactions, even one added after the store opened, sees
    csflow's writes: they then go through Core rather than straight to the driver."""
    store = SQLStore(host_engine, create=False)
    case, batch = start("c-1")
    store.append(case, batch, 0)
    seen: list[str] = []
    sa.event.listen(host_engine, "begin", lambda conn: seen.append("begin"))
    sa.event.listen(host_engine, "commit", lambda conn: seen.append("commit"))
    more, more_batch = extend(case)
    store.append(more, more_batch, 1)
    assert seen == ["begin", "commit"]
    assert store.load_case("c-1").version == 2


# -- csflow's own transactions on the driver ------------------------------------------


@pytest.mark.parametrize("target", ["url", "engine"])
def test_failed_appends_release_the_sqlite_write_lock(tmp_path: Path, target: str) -> None:
    path = tmp_path / "desk.db"
    url = f"sqlite:///{path}"
    # A host's engine whose pool does not roll back what it is given back:
    # csflow must end its transactions itself.
    host = sa.create_engine(url, pool_reset_on_return=None)
    with SQLStore(url if target == "url" else host) as store:
        case, batch = start("c-1", keys=["k1"])
        store.append(case, batch, 0)
        with pytest.raises(CaseAlreadyExists):
            store.append(case, batch, 0)
        more, more_batch = extend(case, 2, keys=["k2", "k1"])  # clashes after the UPDATE
        with pytest.raises(ConcurrencyConflict):
            store.append(more, more_batch, 1)
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once if csflow still held the lock
            other.execute("ROLLBACK")
        finally:
            other.close()
        assert store.load_case("c-1").version == 1
        store.append(*extend(case), 1)
    host.dispose()


def test_threads_share_one_store(db_url: str) -> None:
    """Threads reading and appending at once, on cases of their own and on one they
    race for: every append lands whole or conflicts, and no connection is left out."""
    threads, steps = 6, 8
    with SQLStore(db_url) as store:
        shared, first = start("shared")
        store.append(shared, first, 0)
        barrier = threading.Barrier(threads)

        def work(n: int) -> int:
            barrier.wait(30)
            own, batch = start(f"own-{n}")
            store.append(own, batch, 0)
            wins = 0
            for _ in range(steps):
                own_next, own_more = extend(own)
                store.append(own_next, own_more, own.version)
                own = store.load_case(own.id)
                current = store.load_case("shared")
                nxt, more = extend(current)
                try:
                    store.append(nxt, more, current.version)
                    wins += 1
                except ConcurrencyConflict:
                    pass
            return wins

        with ThreadPoolExecutor(threads) as executor:
            wins = sum(executor.map(work, range(threads)))
        history = store.load_events("shared")
        assert_chain(history)
        assert len(history) == 1 + wins
        assert store.load_case("shared").last_hash == history[-1].hash
        for n in range(threads):
            assert_chain(store.load_events(f"own-{n}"))
            assert store.load_case(f"own-{n}").version == 1 + steps
        pool = store._engine.pool
        assert isinstance(pool, sa.pool.QueuePool)
    assert pool.checkedout() == 0  # close gave back every connection kept between calls


@given(st.datetimes(timezones=st.none() | st.just(UTC) | st.timezones()))
def test_sqlite_times_are_stored_as_sqlalchemy_stores_them(value: datetime) -> None:
    dialect, impl = sqlite.dialect(), sqlite.DATETIME()
    ours = _dialect.bind_processor(impl, dialect)
    theirs = impl.bind_processor(dialect)
    assert ours is not None and theirs is not None
    assert ours(value) == theirs(value)
    assert ours(value.date()) == theirs(value.date())


# -- processes racing ------------------------------------------------------------


def test_two_processes_racing_one_wins_each_step(db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=contender, args=(db_url, n, barrier, results)) for n in "ab"]
    for p in procs:
        p.start()
    outcomes = dict(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(30)

    create = sorted(o[0] for o in outcomes.values())
    advance = sorted(o[1] for o in outcomes.values())
    assert create == ["CaseAlreadyExists", "won"], outcomes
    assert advance == ["ConcurrencyConflict", "won"], outcomes
    winner = next(name for name, o in outcomes.items() if o[1] == "won")
    with SQLStore(db_url) as store:
        history = store.load_events(CASE)
        assert_chain(history)
        assert [e.trigger for e in history] == ["start", f"by_{winner}"]
        assert store.load_case(CASE).last_hash == history[-1].hash


# -- schema and migrations ---------------------------------------------------------


def test_migrations_are_idempotent_and_match_the_code(db_url: str) -> None:
    upgrade(db_url)
    with SQLStore(db_url) as store:
        case, batch = start("c-1")
        store.append(case, batch, 0)
    upgrade(db_url)
    with SQLStore(db_url) as store:
        assert store.load_case("c-1").version == 1

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        assert context.get_current_revision() == "0004"
        assert compare_metadata(context, metadata) == []
        assert "alembic_version" not in sa.inspect(conn).get_table_names()
    engine.dispose()


def test_sqlite_is_set_up_for_concurrent_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    with SQLStore(url) as store:
        case, batch = start("c-1")
        store.append(case, batch, 0)
        conn = store._engine.raw_connection()
        try:
            cursor = conn.cursor()
            pragmas = [cursor.execute(f"PRAGMA {p}").fetchone()[0]
                       for p in ("journal_mode", "foreign_keys", "busy_timeout")]
        finally:
            conn.close()
    assert pragmas[0] == "wal"
    assert pragmas[1] == 1
    assert pragmas[2] >= 1000


def test_pii_lives_outside_the_hashed_payload(db_url: str) -> None:
    store = SQLStore(db_url)
    case, batch = start("c-1", pii={"customer.email": "zoe@example.org"})
    store.append(case, batch, 0)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        payload = conn.execute(sa.select(events.c.payload)).scalar_one()
        assert "zoe@example.org" not in payload
        conn.execute(events.update().values(pii=None))  # what erasure will do
    engine.dispose()
    erased = store.load_events("c-1")
    assert_chain(erased)
    assert erased[0].pii == {}
    assert erased[0].pii_digests == batch[0].pii_digests
    store.close()


def test_indexed_columns_hold_the_event_fields(db_url: str) -> None:
    with SQLStore(db_url) as store:
        case, batch = start("c-1", keys=["web-9"])
        store.append(case, batch, 0)
        with store._engine.connect() as conn:
            row = conn.execute(sa.select(events)).one()
    e = batch[0]
    assert (row.case_id, row.seq, row.type, row.trigger, row.idempotency_key, row.hash) == (
        e.case_id, e.seq, e.type, e.trigger, e.idempotency_key, e.hash,
    )
    assert row.occurred_at.replace(tzinfo=None) == e.occurred_at.replace(tzinfo=None)


# -- failures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("sqlite:////nonexistent-dir/sub/desk.db", "directory exists and is writable"),
        ("postgresql+psycopg://postgres@127.0.0.1:1/test", "server is running"),
    ],
)
def test_unreachable_database_is_a_store_error(url: str, hint: str) -> None:
    with pytest.raises(StoreError, match=hint) as info:
        SQLStore(url)
    assert isinstance(info.value.__cause__, sa.exc.DBAPIError)


def test_sqlite_write_lock_held_too_long_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "desk.db"
    with SQLStore(f"sqlite:///{path}?timeout=0.05") as store:
        case, batch = start("c-1")
        store.append(case, batch, 0)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process writing, and not letting go
        try:
            more, more_batch = extend(case)
            with pytest.raises(StoreError, match="busy timeout") as info:
                store.append(more, more_batch, 1)
            assert isinstance(info.value.__cause__, sqlite3.OperationalError)
            assert store.load_case("c-1").version == 1  # WAL: reads carry on meanwhile
        finally:
            other.execute("ROLLBACK")
            other.close()
        store.append(more, more_batch, 1)
        assert_chain(store.load_events("c-1"))


def test_missing_tables_are_a_store_error(db_url: str) -> None:
    with SQLStore(db_url, create=False) as store, pytest.raises(StoreError):
        store.load_case("c-1")


def test_closed_store_refuses_work(db_url: str) -> None:
    store = SQLStore(db_url)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.load_case("c-1")


def test_missing_psycopg_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from csflow.stores import SQLStore\n"
        "from csflow.errors import MissingDependency\n"
        "try:\n"
        "    SQLStore('postgresql://postgres@127.0.0.1:1/test')\n"
        "except MissingDependency as e:\n"
        "    print(e.extra, e.package, '|', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("postgres psycopg | PostgreSQL storage needs psycopg")
    assert issubclass(MissingDependency, ImportError)


@pytest.mark.parametrize(
    "url",
    ["mysql+pymysql://root@localhost/db", "not a url", "oracle://x@y/z",
     "sqlite:///x.db?timeout=soon"],
)
def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(StoreError, match=r"(?i)sqlite"):
        SQLStore(url)


# -- open_store ------------------------------------------------------------------------


def test_open_store_targets(tmp_path: Path, db_url: str) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    memory = MemoryStore()
    assert open_store(memory) is memory

    by_path = open_store(tmp_path / "by-path.db")
    case, batch = start("c-1")
    by_path.append(case, batch, 0)
    by_path.close()
    with open_store(f"sqlite:///{tmp_path / 'by-path.db'}") as by_url:  # type: ignore[attr-defined]
        assert as_json(by_url.load_case("c-1")) == as_json(case)

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        for target in (engine, conn):
            store = open_store(target)
            assert isinstance(store, SQLStore)
            assert list(store.case_ids()) == []
            store.close()
    engine.dispose()

    with pytest.raises(StoreError, match="memory://"):
        open_store(42)  # type: ignore[arg-type]
