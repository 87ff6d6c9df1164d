"""open_store: what it accepts, and what it says about what it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from csflow import MemoryStore, SQLStore, StoreError, open_store


def test_accepts_urls_paths_and_stores(tmp_path: Path) -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    sql = open_store(tmp_path / "a.db")
    assert isinstance(sql, SQLStore)
    assert open_store(sql) is sql
    sql.close()


def test_an_incomplete_store_is_told_what_is_missing() -> None:
    class Half:
        def append(self) -> None: ...
        def load_case(self) -> None: ...

    with pytest.raises(StoreError, match="Half does not implement the Store protocol: missing "
                                         "load_events, find_idempotency_key"):
        open_store(Half())  # type: ignore[arg-type]


def test_anything_else_is_refused_with_examples() -> None:
    with pytest.raises(StoreError, match="give 'memory://', a database URL such as"):
        open_store(3)  # type: ignore[arg-type]
