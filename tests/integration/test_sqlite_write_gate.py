"""SQLite writers queue on the process's write gate: no lost writes, no hang, released on every transaction end."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from chengyun.db.engine import SqliteWriteGate, make_engine


def gated_engine(path: Path, busy_ms: int = 100) -> tuple[Engine, SqliteWriteGate]:
    engine = create_engine(f"sqlite:///{path}", pool_size=10, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    gate = SqliteWriteGate(timeout_s=busy_ms / 1000)
    gate.install(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    return engine, gate


def test_concurrent_writers_all_land_and_the_gate_ends_free(tmp_path: Path) -> None:
    engine, gate = gated_engine(tmp_path / "a.db", busy_ms=5000)

    def writer(name: str) -> None:
        for _ in range(40):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (who) VALUES (:w)"), {"w": name})
                conn.execute(text("SELECT count(*) FROM t")).scalar_one()

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 320
    assert not gate.held


def test_a_rollback_and_a_read_only_transaction_leave_the_gate_free(tmp_path: Path) -> None:
    engine, gate = gated_engine(tmp_path / "b.db")
    with pytest.raises(RuntimeError), engine.begin() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('x')"))
        assert gate.held
        raise RuntimeError("step failed")
    assert not gate.held
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        assert not gate.held  # reads never take it


def test_one_thread_writing_on_two_connections_fails_fast_instead_of_hanging(tmp_path: Path) -> None:
    engine, gate = gated_engine(tmp_path / "c.db")
    with engine.connect() as first, engine.connect() as second:
        first.execute(text("INSERT INTO t (who) VALUES ('first')"))
        with pytest.raises(OperationalError, match="locked"):
            second.execute(text("INSERT INTO t (who) VALUES ('second')"))
        second.rollback()
        first.commit()
    assert not gate.held


def test_a_transaction_may_end_on_another_thread(tmp_path: Path) -> None:
    engine, gate = gated_engine(tmp_path / "d.db")
    conn = engine.connect()
    conn.execute(text("INSERT INTO t (who) VALUES ('a')"))
    finisher = threading.Thread(target=conn.commit)
    finisher.start()
    finisher.join()
    conn.close()
    assert not gate.held
    with engine.begin() as other:
        other.execute(text("INSERT INTO t (who) VALUES ('b')"))
    with engine.connect() as check:
        assert check.execute(text("SELECT count(*) FROM t")).scalar_one() == 2


def _write_rows(path: str, who: str, count: int) -> None:
    """A second process writing to the same file through the application's engine."""
    engine = make_engine(f"sqlite:///{path}")
    for _ in range(count):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES (:w)"), {"w": who})
    engine.dispose()


def test_two_processes_queue_on_the_file_lock_and_every_write_lands(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_write_rows, args=(str(path), f"p{i}", 150)) for i in range(2)]
    for w in workers:
        w.start()
    _write_rows(str(path), "main", 150)
    for w in workers:
        w.join(60)
        assert w.exitcode == 0
    with engine.connect() as conn:
        counts = dict(conn.execute(text("SELECT who, count(*) FROM t GROUP BY who")).all())
    assert counts == {"main": 150, "p0": 150, "p1": 150}
    assert Path(f"{path}-gate").exists()  # the processes met on the lock file beside the database
    engine.dispose()


def test_a_lock_file_that_cannot_be_made_falls_back_to_queueing_threads(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'f.db'}")
    gate = SqliteWriteGate(lock_file=tmp_path / "no-such-folder" / "f.db-gate")
    gate.install(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        assert gate.held
    assert not gate.held
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
