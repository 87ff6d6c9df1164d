"""Where cases and events live: the Store protocol and its implementations.

:func:`open_store` turns what a user would write in a config file into a store.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, Connection, Engine

from csflow.errors import StoreError
from csflow.stores.base import Store
from csflow.stores.memory import MemoryStore
from csflow.stores.sql import SQLStore, upgrade

__all__ = ["MemoryStore", "SQLStore", "Store", "open_store", "upgrade"]

_MEMORY = ("memory", "memory://")
_PROTOCOL = tuple(n for n in vars(Store) if not n.startswith("_"))


def open_store(target: str | Path | URL | Engine | Connection | Store) -> Store:
    """A store for ``target``.

    * ``"memory://"`` (or ``"memory"``): a :class:`MemoryStore`; nothing survives the process.
    * a URL (``"sqlite:///desk.db"``, ``"postgresql+psycopg://user@host/db"``), a host
      application's SQLAlchemy ``Engine`` or ``Connection``: an :class:`SQLStore`,
      with its tables created or upgraded.
    * a :class:`~pathlib.Path`: an SQLite file there.
    * a store: itself, so APIs can take either a store or a place to open one.

    There is deliberately no default: a forgotten setting must not quietly
    keep complaints in memory.
    """
    if isinstance(target, str) and target in _MEMORY:
        return MemoryStore()
    if isinstance(target, Path):
        return SQLStore(f"sqlite:///{target}")
    if isinstance(target, (str, URL, Engine, Connection)):
        return SQLStore(target)
    if isinstance(target, Store):
        return target
    missing = [m for m in _PROTOCOL if not callable(getattr(target, m, None))]
    if len(missing) < len(_PROTOCOL):  # meant as a store, but incomplete
        raise StoreError(
            f"{type(target).__name__} does not implement the Store protocol: missing "
            f"{', '.join(missing)} (see csflow.stores.base.Store)"
        )
    raise StoreError(
        f"cannot open a store from {type(target).__name__}; give 'memory://', a database URL "
        "such as 'sqlite:///desk.db', a path, or a SQLAlchemy Engine or Connection"
    )
