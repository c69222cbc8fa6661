"""Connections kept out of the pool for the loop's steps: on PostgreSQL in autocommit, on SQLite as they are.

A step on PostgreSQL is one statement in autocommit (`cases/repository.py`), on SQLite one short transaction under
the write gate. Taking a connection from the pool for it and giving it back (checkout and checkin events, on
PostgreSQL the autocommit switch on and off, the reset) cost a sixth of the step's client CPU. The lane keeps a few
connections checked out, ready, and hands them over on a lock: a step takes one and gives it back as it is. A
PostgreSQL connection that sat idle for the engine's ping interval is pinged before use, as the pool does
(`engine._ping_when_idle`); one that broke, is inside a transaction or does not fit is closed back into the pool,
so nothing a step left behind reaches the next one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, event

from chengyun.db.engine import idle_ping_of

_GENERATION = "chengyun_lane_generation"
_IDLE = TransactionStatus.IDLE
KEEP = 10  # idle connections kept: more concurrent steps borrow from the pool and give back to it


class ConnectionLane:
    """Checked-out connections, last in first out (on PostgreSQL in driver autocommit); `connection()` lends one for
    a block."""

    def __init__(self, engine: Engine, *, keep: int = KEEP) -> None:
        self._engine = engine
        self._keep = keep
        self._postgres = engine.dialect.name == "postgresql"
        # SQLite's connections are files of this process: nothing to ping
        self._idle_ping_s = idle_ping_of(engine) if self._postgres else float("inf")
        self._idle: list[tuple[Connection, float]] = []  # with the time each was given back
        self._lock = threading.Lock()
        self._generation = 0  # moves on at every `close()`: connections lent before it are closed when given back

    @contextlib.contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection (on PostgreSQL: whose every statement commits on its own); given back, or closed into the
        pool, when the block ends."""
        conn = self._take()
        try:
            yield conn
        finally:
            self._give_back(conn)

    @property
    def idle(self) -> int:
        """How many connections wait in the lane."""
        return len(self._idle)

    def close(self) -> None:
        """Close every connection for good (on `engine.dispose()`, whose new pool would never see them): the idle
        ones now, the lent ones when they are given back."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for conn, _since in idle:
            _retire(conn)

    def _take(self) -> Connection:
        while True:
            with self._lock:
                found = self._idle.pop() if self._idle else None
            if found is None:
                return self._open()
            conn, since = found
            if time.monotonic() - since < self._idle_ping_s or self._alive(conn):
                return conn
            conn.invalidate()  # a server restart or an idle timeout took it: the pool forgets it
            self._close(conn)

    def _open(self) -> Connection:
        conn = self._engine.connect()
        if self._postgres:
            _driver(conn).autocommit = True
        conn.info[_GENERATION] = self._generation
        return conn

    def _alive(self, conn: Connection) -> bool:
        try:
            self._engine.dialect.do_ping(_driver(conn))
        except Exception:  # any failure: not worth lending
            return False
        return True

    def _give_back(self, conn: Connection) -> None:
        if conn.closed:
            return
        if conn.invalidated:  # a lost link: the pool already dropped it
            conn.close()
            return
        if conn.info.get(_GENERATION) != self._generation:
            _retire(conn)
            return
        if self._reusable(conn):
            with self._lock:
                if len(self._idle) < self._keep:
                    self._idle.append((conn, time.monotonic()))
                    return
        self._close(conn)

    def _reusable(self, conn: Connection) -> bool:
        """Outside any transaction, SQLAlchemy's or the driver's, and on PostgreSQL open and in autocommit: as it
        was lent."""
        driver = _driver(conn)
        if not self._postgres:
            return not conn.in_transaction() and not driver.in_transaction
        return bool(not driver.closed and driver.autocommit and driver.pgconn.transaction_status == _IDLE)

    def _close(self, conn: Connection) -> None:
        """Back into the pool as the pool expects it (on PostgreSQL autocommit off), or dropped if it broke."""
        if conn.closed:
            return
        if self._postgres and not conn.invalidated:
            try:
                _driver(conn).autocommit = False
            except Exception as exc:  # broken link or open transaction: the pool must not get it back
                conn.invalidate(exc)
        conn.close()


def _driver(conn: Connection) -> Any:
    return conn.connection.dbapi_connection


def _retire(conn: Connection) -> None:
    """Close the driver's connection itself, not back into a pool."""
    conn.invalidate()
    conn.close()


_LANE = "_chengyun_connection_lane"  # kept on the engine itself: an engine no one uses goes with its lane
_LANES_LOCK = threading.Lock()


def lane_of(engine: Engine) -> ConnectionLane:
    """The engine's lane, made on first use and closed with the engine's `dispose()`."""
    lane: ConnectionLane | None = getattr(engine, _LANE, None)
    if lane is not None:
        return lane
    with _LANES_LOCK:
        lane = getattr(engine, _LANE, None)
        if lane is None:
            made = lane = ConnectionLane(engine)
            event.listen(engine, "engine_disposed", lambda _engine: made.close())
            setattr(engine, _LANE, made)
    return lane
