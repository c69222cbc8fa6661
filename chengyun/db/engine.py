"""Engines: SQLite with WAL, foreign keys and a busy timeout; PostgreSQL with a pool."""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

try:
    import fcntl
except ImportError:  # Windows: the gate then queues the threads of one process only
    fcntl = None  # type: ignore[assignment]

SQLITE_BUSY_TIMEOUT_MS = 5000
IDLE_PING_S = 5.0  # a pooled PostgreSQL connection idle this long is pinged before use
_IDLE_SINCE = "chengyun_idle_since"
_IDLE_PING = "_chengyun_idle_ping_s"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


WRITE_STATEMENTS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")


class SqliteWriteGate:
    """One writing transaction at a time, queued on a lock: within this process, and across processes on one file.

    SQLite has one writer; a second writer waits in SQLite's busy handler, which sleeps 1, 2, 5 … 100 ms between
    tries, so under load requests are served out of order, the slowest wait seconds, and a second server process
    on the same file gains nothing. Here a connection takes the gate at its transaction's first write and gives it
    back at commit or rollback. Threads of one process queue on a lock and wake at once, in turn; processes queue on
    an advisory file lock (`flock`, where the OS has it) next to the database, polled every 50 µs to 1 ms. The gate
    is re-entrant per thread, and a waiter gives up after the busy timeout (SQLite's own handler then decides), so
    a thread writing on two connections at once fails as before instead of hanging.
    """

    def __init__(self, lock_file: Path | None = None, timeout_s: float = SQLITE_BUSY_TIMEOUT_MS / 1000) -> None:
        self._lock = threading.Lock()  # not owner-bound: a transaction may end on another thread
        self._state = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._file_held = False  # the owner holds the other processes' lock too
        self._timeout_s = timeout_s
        self._lock_file = lock_file if fcntl is not None else None
        self._fd: int | None = None
        self._fd_pid = 0

    @property
    def held(self) -> bool:
        """True while some connection's write transaction in this process holds the gate."""
        return self._lock.locked()

    def install(self, engine: Engine) -> None:
        """Listen on the engine's statements and transaction ends."""
        event.listen(engine, "before_cursor_execute", self._before_execute)
        event.listen(engine, "commit", self._release)
        event.listen(engine, "rollback", self._release)
        _GATES[engine] = self

    def _before_execute(self, conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if not conn.info.get(_GATE_KEY) and statement.lstrip()[:7].upper().startswith(WRITE_STATEMENTS):
            self.before_write(conn)

    def before_write(self, conn: Connection) -> None:
        """Take the gate for `conn`'s transaction (once; released at its commit or rollback)."""
        deadline = time.monotonic() + self._timeout_s
        if not self._enter(conn):
            return
        with self._state:
            if self._file_held:
                return
        if self._lock_other_processes(deadline):
            with self._state:
                self._file_held = True

    @contextlib.contextmanager
    def serial(self) -> Iterator[None]:
        """Run a block (a read-decide-write step) after this process's other writers, reads included; other
        processes are locked out only from its first write to the end of the block.

        Taken before a connection is checked out, so the steps of a process's threads run one after another on
        the same warm connection (its page cache survives), instead of all reading and deciding while one holds
        the gate and waits for the GIL between its statements.
        """
        me = threading.get_ident()
        with self._state:
            nested = self._owner == me
        if not nested and not self._lock.acquire(timeout=self._timeout_s):
            yield  # timed out: SQLite's busy handler decides, as for any other writer
            return
        with self._state:
            self._owner, self._depth = me, self._depth + 1
        try:
            yield
        finally:
            self._leave()

    def _enter(self, conn: Connection) -> bool:
        """This process's lock for `conn` (re-entrant per thread); False when the wait timed out."""
        if conn.info.get(_GATE_KEY):
            return True
        me = threading.get_ident()
        with self._state:
            if self._owner == me:
                self._depth += 1
                conn.info[_GATE_KEY] = True
                return True
        if not self._lock.acquire(timeout=self._timeout_s):
            return False
        with self._state:
            self._owner, self._depth = me, 1
        conn.info[_GATE_KEY] = True
        return True

    def _release(self, conn: Connection) -> None:
        if conn.info.pop(_GATE_KEY, False):
            self._leave()

    def _leave(self) -> None:
        with self._state:
            self._depth -= 1
            if self._depth:
                return
            self._owner = None
            file_held, self._file_held = self._file_held, False
        if file_held and self._fd is not None and fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._lock.release()

    def _lock_other_processes(self, deadline: float) -> bool:
        """Take the file lock (polling, so the wait is bounded); True without a lock file."""
        if self._lock_file is None or fcntl is None:
            return True
        if self._fd is None or self._fd_pid != os.getpid():  # a forked child opens its own: locks are per open file
            try:
                self._fd, self._fd_pid = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            except OSError:  # e.g. a read-only folder: queue this process's threads only, as on Windows
                self._lock_file = None
                return True
        pause = 0.00005
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, 0.0002)


_GATE_KEY = "chengyun_write_gate"
_GATES: weakref.WeakKeyDictionary[Engine, SqliteWriteGate] = weakref.WeakKeyDictionary()


def write_gate_of(engine: Engine) -> SqliteWriteGate | None:
    """The engine's SQLite write gate, for statements run outside SQLAlchemy's execution events."""
    return _GATES.get(engine)


def make_engine(url: str, *, search_path: str | None = None, echo: bool = False,
                idle_ping_s: float = IDLE_PING_S) -> Engine:
    """Build an engine for the URL; nothing connects until first use."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # one pooled connection per server worker thread (40): a connection beyond the pool size is closed when it
        # comes back, and opening one (with its PRAGMAs) under load costs more than the request itself
        # last in, first out: the connection used last has the warmest page cache (SQLite drops a connection's cache
        # when another connection wrote)
        engine = create_engine(parsed, echo=echo, pool_size=40, max_overflow=10, pool_use_lifo=True,
                               connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        on_disk = parsed.database and parsed.database != ":memory:"
        SqliteWriteGate(Path(f"{parsed.database}-gate") if on_disk else None).install(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args: dict[str, Any] = {}
    if search_path:
        connect_args["options"] = f"-c search_path={search_path}"
    engine = create_engine(parsed, echo=echo, pool_size=20, max_overflow=30, connect_args=connect_args)
    _ping_when_idle(engine, idle_ping_s)
    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Check a pooled connection before use if it sat idle for `idle_s`: a server restart or an idle timeout is
    then caught before a request fails. Pinging on every checkout (`pool_pre_ping`) costs a round trip per
    request, a third of a loop step's time; a connection used a moment ago is taken as alive."""

    def checked_in(_dbapi: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: the pool drops this connection and checks out another
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc

    event.listen(engine, "checkin", checked_in)
    event.listen(engine, "checkout", checkout)
    setattr(engine, _IDLE_PING, idle_s)


def idle_ping_of(engine: Engine) -> float:
    """How long a connection of this engine may sit idle before it is pinged (`make_engine`'s `idle_ping_s`)."""
    return float(getattr(engine, _IDLE_PING, IDLE_PING_S))


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)
