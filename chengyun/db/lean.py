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
from sqlalchemy.sql import Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from chengyun.db.engine import write_gate_of

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One statement as one dialect runs it."""

    sql: str
    names: tuple[str, ...]  # parameter names in the order the DBAPI takes them
    bind: tuple[Processor | None, ...]  # per name: the column type's conversion to the driver's value
    positional: bool
    defaults: dict[str, Any]  # values of binds the statement carries itself
    keys: tuple[str, ...]  # result column names
    types: tuple[Any, ...]  # result column types
    writes: bool
    result: list[tuple[Processor | None, ...]]  # per result column, known after the first row (needs the driver's
    # type codes)


class LeanStatement:
    """A Core statement run without SQLAlchemy's per-call machinery; parameters and rows typed as SQLAlchemy would."""

    def __init__(self, statement: ClauseElement, *, writes: bool) -> None:
        self._statement = statement
        self._writes = writes
        self._prepared: dict[str, _Prepared] = {}
        self._lock = threading.Lock()

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run in `conn`'s transaction (or as its own, in autocommit); the number of rows it changed."""
        cursor = self._run(conn, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def _run(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        prepared = self._prepared.get(conn.dialect.name) or self._prepare(conn.dialect)
        if not conn.in_transaction():  # as SQLAlchemy autobegins: commit-as-you-go callers' commit then counts
            conn.begin()
        if prepared.writes:
            gate = write_gate_of(conn.engine)
            if gate is not None:
                gate.before_write(conn)
        if prepared.defaults:  # binds with a value of their own, e.g. a LIMIT
            params = {**prepared.defaults, **params}
        # processors see None too, as in SQLAlchemy (JSON stores None as 'null')
        values = [value if (process := prepared.bind[i]) is None else process(value)
                  for i, value in enumerate(params[name] for name in prepared.names)]
        dbapi = conn.connection.dbapi_connection
        cursor = dbapi.cursor()  # type: ignore[union-attr]  # a checked-out connection has one
        arguments = values if prepared.positional else dict(zip(prepared.names, values, strict=True))
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
        cursor = self._run(conn, params)
        try:
            found = cursor.fetchone()
            # the driver's type codes, needed once (psycopg builds the description anew on every read)
            described = cursor.description if found is not None and not prepared.result else ()
        finally:
            cursor.close()
        if found is None:
            return None
        if not prepared.result:
            prepared.result.append(tuple(
                kind.dialect_impl(conn.dialect).result_processor(conn.dialect, code)
                for kind, (_name, code, *_rest) in zip(prepared.types, described, strict=True)))
        processors = prepared.result[0]
        return {key: value if (process := processors[i]) is None else process(value)
                for i, (key, value) in enumerate(zip(prepared.keys, found, strict=True))}

    def _prepare(self, dialect: Dialect) -> _Prepared:
        with self._lock:
            compiled = self._statement.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            positional = bool(compiled.positional)
            names: Sequence[str] = (compiled.positiontup or []) if positional else list(compiled.binds)
            bind = tuple(compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
            columns = (self._statement.selected_columns if isinstance(self._statement, Select)
                       else getattr(self._statement, "exported_columns", ()))  # INSERT/UPDATE … RETURNING
            keys = tuple(str(column.key) for column in columns)
            types = tuple(column.type for column in columns)
            defaults = {name: b.effective_value for name, b in compiled.binds.items() if not b.required}
            prepared = _Prepared(compiled.string, tuple(names), bind, positional, defaults, keys, types, self._writes,
                                 [])
            self._prepared[dialect.name] = prepared
            return prepared
