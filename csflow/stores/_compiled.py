"""Core statements compiled once per dialect and run on a DBAPI cursor.

The hot path of a SQL store (read a case, append to it) is a handful of
statements; ``Connection.execute`` would cost about 20 µs each on top of the
driver (measured with SQLite: as much as the write itself). Compiling up
front and applying SQLAlchemy's own bind and result processors keeps the SQL
and the values exactly what Core would send and return, at the driver's
speed (a case read went from about 200 µs to 40).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, StatementError

from csflow.stores import _dialect


class Compiled:
    """One Core statement compiled for one dialect, run on a DBAPI cursor.

    Driver errors are wrapped as Core would wrap them, so callers see the
    usual :class:`~sqlalchemy.exc.DBAPIError` subclasses (``IntegrityError``
    for a unique violation, say).
    """

    __slots__ = ("_dialect", "_named", "_processors", "_results", "sql")

    def __init__(
        self, stmt: sa.Insert | sa.Update | sa.Delete | sa.Select[Any], dialect: sa.Dialect,
        keys: Sequence[str] = (),
    ) -> None:
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        self.sql = str(compiled)
        self._dialect = dialect
        self._named = compiled.positiontup is None
        order = compiled.positiontup or list(compiled.binds)
        self._processors = [
            (key, _dialect.bind_processor(compiled.binds[key].type.dialect_impl(dialect), dialect))
            for key in order
        ]
        columns = stmt.selected_columns if isinstance(stmt, sa.Select) else ()
        self._results = [
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        ]

    def _params(self, row: dict[str, Any]) -> Any:
        if self._named:
            return {k: row[k] if p is None else p(row[k]) for k, p in self._processors}
        return tuple([row[k] if p is None else p(row[k]) for k, p in self._processors])

    def _error(self, e: Exception) -> StatementError:
        """``e`` from the driver as Core would wrap it."""
        error = self._dialect.loaded_dbapi.Error
        return DBAPIError.instance(self.sql, None, e, error, dialect=self._dialect)

    def run(self, cursor: Any, rows: Sequence[dict[str, Any]]) -> int:
        """Execute for each row (one ``executemany`` for several); the affected row count."""
        try:
            if len(rows) == 1:
                cursor.execute(self.sql, self._params(rows[0]))
            else:
                cursor.executemany(self.sql, [self._params(r) for r in rows])
        except self._dialect.loaded_dbapi.Error as e:
            raise self._error(e) from e
        return int(cursor.rowcount)

    def first(self, cursor: Any, params: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row of a SELECT, its values as Core would return them."""
        try:
            cursor.execute(self.sql, self._params(params))
            row = cursor.fetchone()
        except self._dialect.loaded_dbapi.Error as e:
            raise self._error(e) from e
        if row is None:
            return None
        return tuple([v if p is None else p(v) for v, p in zip(row, self._results, strict=True)])
