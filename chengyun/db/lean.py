"""Hot-path statements run on the driver's cursor: compiled by SQLAlchemy once per dialect, typed by its processors.

A step of the loop runs three small statements, thousands of times a second. SQLAlchemy's execution path (cache
lookup, execution context, events, result wrapping) costs several times what SQLite spends on such a statement,
so the few statements on the hot path are compiled once per dialect and run on the DBAPI cursor of the caller's
`Connection`, inside its transaction. The SQL text, the order of parameters and the value conversions all still
come from SQLAlchemy (the statement, its compiler and the column types' own processors); only the per-call
machinery is skipped. The SQLite write gate is taken explicitly before a write, as its event would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

from chengyun.db.engine import write_gate_of

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One statement as one dialect runs it."""

    sql: str
    names: tuple[str, ...]  # parameter names in the order the DBAPI takes them
    bind: tuple[Processor | None, ...]  # per name: the column type's conversion to the driver's value
    positional: bool
    keys: tuple[str, ...]  # result column names
    types: tuple[Any, ...]  # result column types
    writes: bool
    result: list[tuple[Processor | None, ...]]  # per result column, known after the first row (needs the driver's
    # type codes)


class LeanStatement:
    """A Core statement run without SQLAlchemy's per-call machinery; parameters and rows typed as SQLAlchemy would."""

    def __init__(self, statement: Executable, *, writes: bool) -> None:
        self._statement = statement
        self._writes = writes
        self._prepared: dict[str, _Prepared] = {}
        self._lock = threading.Lock()

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Run in `conn`'s transaction; returns the DBAPI cursor (rowcount, fetchone)."""
        prepared = self._prepared.get(conn.dialect.name) or self._prepare(conn.dialect)
        if prepared.writes:
            gate = write_gate_of(conn.engine)
            if gate is not None:
                gate.before_write(conn)
        values = [value if (process := prepared.bind[i]) is None or value is None else process(value)
                  for i, value in enumerate(params[name] for name in prepared.names)]
        dbapi = conn.connection.dbapi_connection
        cursor = dbapi.cursor()  # type: ignore[union-attr]  # a checked-out connection has one
        arguments = values if prepared.positional else dict(zip(prepared.names, values))
        try:
            cursor.execute(prepared.sql, arguments)
        except conn.dialect.loaded_dbapi.Error as exc:  # as SQLAlchemy's own path: its exception, dead link dropped
            lost = conn.dialect.is_disconnect(exc, dbapi, cursor)
            if lost:
                conn.invalidate(exc)
            raise DBAPIError.instance(prepared.sql, arguments, exc, conn.dialect.loaded_dbapi.Error,
                                      connection_invalidated=lost, dialect=conn.dialect) from exc
        return cursor

    def first(self, conn: Connection, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The first row as a dict of typed values, or None."""
        prepared = self._prepared.get(conn.dialect.name) or self._prepare(conn.dialect)
        cursor = self.execute(conn, params)
        found = cursor.fetchone()
        if found is None:
            return None
        if not prepared.result:
            prepared.result.append(tuple(
                kind.dialect_impl(conn.dialect).result_processor(conn.dialect, described[1])
                for kind, described in zip(prepared.types, cursor.description)))
        processors = prepared.result[0]
        return {key: value if (process := processors[i]) is None or value is None else process(value)
                for i, (key, value) in enumerate(zip(prepared.keys, found))}

    def _prepare(self, dialect: Dialect) -> _Prepared:
        with self._lock:
            compiled = self._statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            positional = bool(compiled.positional)
            names: Sequence[str] = (compiled.positiontup or []) if positional else list(compiled.bind_names.values())
            binds = {bind.key: bind for bind in compiled.binds.values()}
            bind = tuple(binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
            columns = getattr(self._statement, "selected_columns", None)
            if columns is None:
                columns = getattr(self._statement, "_returning", ())
            keys = tuple(column.key for column in columns)
            types = tuple(column.type for column in columns)
            prepared = _Prepared(compiled.string, tuple(names), bind, positional, keys, types, self._writes, [])
            self._prepared[dialect.name] = prepared
            return prepared
