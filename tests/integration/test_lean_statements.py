"""Hot-path statements on the driver's cursor (`LeanStatement`), the SQLite write gate's `serial()` block, and the
PostgreSQL pool's idle-only ping: each behaves as SQLAlchemy's own path would, on SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from chengyun.db.engine import SqliteWriteGate, make_engine, write_gate_of
from chengyun.db.lean import LeanStatement
from chengyun.db.types import UTCDateTime
from tests.conftest import PG_URL, postgres_schema, terminate_backend

CHINA = timezone(timedelta(hours=8))
WAIT_S = 60  # generous: a slow machine only makes the test slower, never wrong


# --- a throwaway table, on the fixture's database (a file copy on SQLite, an isolated schema on PostgreSQL) ---------

def probe_table() -> Table:
    return Table(
        "lean_probe", MetaData(),
        Column("id", Integer, primary_key=True),
        Column("key", String(20), unique=True, nullable=False),
        Column("at", UTCDateTime()),
        Column("tags", JSON),
        Column("doc", JSON),
        Column("flag", Boolean),
        Column("ratio", Float),
        Column("note", String(40), nullable=True),
    )


ROWS: list[dict[str, Any]] = [
    {"key": "full", "at": datetime(2024, 3, 1, 20, 30, 15, 123456, tzinfo=CHINA), "tags": ["怡湖", "b", 3],
     "doc": {"k": 1, "nested": {"x": [1, 2.5, None]}, "zh": "石家碾"}, "flag": True, "ratio": 0.25,
     "note": "怡湖社区"},
    {"key": "sparse", "at": None, "tags": [], "doc": {}, "flag": False, "ratio": None, "note": None},
    {"key": "third", "at": datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), "tags": ["x"], "doc": {"a": []},
     "flag": False, "ratio": -1.5, "note": ""},
]
VALUE_COLUMNS = ("key", "at", "tags", "doc", "flag", "ratio", "note")


@pytest.fixture
def probe(engine: Engine) -> Iterator[Table]:
    table = probe_table()
    table.metadata.create_all(engine)
    try:
        yield table
    finally:
        table.metadata.drop_all(engine)


def _by_key(table: Table) -> LeanStatement:
    return LeanStatement(select(table).where(table.c.key == bindparam("key")), writes=False)


def _insert(table: Table) -> LeanStatement:
    return LeanStatement(insert(table).values({name: bindparam(name) for name in VALUE_COLUMNS}), writes=True)


def test_a_select_by_key_gives_what_sqlalchemys_own_result_gives(engine: Engine, probe: Table) -> None:
    with engine.begin() as conn:
        conn.execute(insert(probe), ROWS)
    by_key = _by_key(probe)
    with engine.connect() as conn:
        for _ in range(2):  # the first call learns the result processors, the second reuses them
            for row in ROWS:
                expected = dict(conn.execute(select(probe).where(probe.c.key == row["key"])).one()._mapping)
                got = by_key.first(conn, {"key": row["key"]})
                assert got == expected
                assert got is not None and list(got) == list(expected)  # the same keys, in column order
                assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}
        assert by_key.first(conn, {"key": "no-such-key"}) is None
        full = by_key.first(conn, {"key": "full"})
    assert full is not None
    assert full["at"] == ROWS[0]["at"] and full["at"].utcoffset() == timedelta(0)  # aware, in UTC
    assert full["at"].hour == 12 and full["at"].microsecond == 123456
    assert full["tags"] == ["怡湖", "b", 3] and full["doc"]["nested"] == {"x": [1, 2.5, None]}
    assert full["flag"] is True and full["ratio"] == 0.25 and full["note"] == "怡湖社区"


def test_an_insert_binds_values_as_sqlalchemy_does(engine: Engine, probe: Table) -> None:
    with engine.begin() as conn:
        for row in ROWS:
            assert _insert(probe).execute(conn, row) == 1
    with engine.connect() as conn:
        stored = {r.key: dict(r._mapping) for r in conn.execute(select(probe))}
    for row in ROWS:
        got = {name: stored[row["key"]][name] for name in VALUE_COLUMNS}
        assert got == row  # an aware +08:00 datetime comes back as the same instant
    assert stored["full"]["at"].tzinfo == UTC and stored["full"]["at"].hour == 12


def test_none_in_a_json_column_is_stored_as_sqlalchemy_stores_it(engine: Engine, probe: Table) -> None:
    with engine.begin() as conn:
        _insert(probe).execute(conn, {**ROWS[1], "key": "lean", "doc": None})
        conn.execute(insert(probe), {**ROWS[1], "key": "core", "doc": None})
    with engine.connect() as conn:
        sql_null = dict(conn.execute(select(probe.c.key, probe.c.doc.is_(None))).all())
    assert sql_null["lean"] == sql_null["core"], sql_null


def test_an_update_reports_the_rows_it_changed(engine: Engine, probe: Table) -> None:
    set_ratio = LeanStatement(update(probe).where(probe.c.key == bindparam("key")).values(ratio=bindparam("ratio")),
                              writes=True)
    set_note_where = LeanStatement(update(probe).where(probe.c.flag == bindparam("flag"))
                                   .values(note=bindparam("note")), writes=True)
    with engine.begin() as conn:
        conn.execute(insert(probe), ROWS)
        assert set_ratio.execute(conn, {"key": "full", "ratio": 9.5}) == 1
        assert set_ratio.execute(conn, {"key": "no-such-key", "ratio": 1.0}) == 0
        assert set_note_where.execute(conn, {"flag": False, "note": "两行"}) == 2
    with engine.connect() as conn:
        assert dict(conn.execute(select(probe.c.key, probe.c.ratio)).all()) == {"full": 9.5, "sparse": None,
                                                                                "third": -1.5}
        assert conn.execute(select(func.count()).where(probe.c.note == "两行")).scalar_one() == 2


def test_a_unique_violation_is_sqlalchemys_integrity_error_and_the_connection_stays_usable(
    engine: Engine, probe: Table,
) -> None:
    with engine.begin() as conn:
        conn.execute(insert(probe), ROWS[:1])
    add = _insert(probe)
    with engine.connect() as conn:
        conn.begin()
        assert add.execute(conn, {**ROWS[1], "key": "before"}) == 1
        with pytest.raises(IntegrityError) as err:
            add.execute(conn, {**ROWS[1], "key": "full"})
        assert err.value.orig is not None and isinstance(err.value.orig, conn.dialect.loaded_dbapi.IntegrityError)
        assert "lean_probe" in (err.value.statement or "")
        assert not err.value.connection_invalidated and not conn.invalidated
        conn.rollback()
        gate = write_gate_of(engine)
        assert gate is None or not gate.held  # SQLite: the rollback gave the gate back
        with conn.begin():
            assert add.execute(conn, {**ROWS[1], "key": "after"}) == 1
            assert _by_key(probe).first(conn, {"key": "after"}) is not None
    with engine.connect() as conn:
        assert sorted(conn.execute(select(probe.c.key)).scalars()) == ["after", "full"]  # "before" rolled back


def test_a_write_on_a_connection_without_begin_is_kept_by_commit(engine: Engine, probe: Table) -> None:
    with engine.connect() as conn:  # SQLAlchemy 2.0 "commit as you go": Connection.execute would autobegin here
        _insert(probe).execute(conn, ROWS[0])
        conn.commit()
    gate = write_gate_of(engine)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(probe)).scalar_one() == 1
    assert gate is None or not gate.held


# --- SQLite: the write gate ---------------------------------------------------------------------------------------

@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[tuple[Engine, SqliteWriteGate, Path]]:
    path = tmp_path / "gate.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
        conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        conn.execute(text("INSERT INTO counter (id, n) VALUES (1, 0)"))
    gate = write_gate_of(engine)
    assert gate is not None and not gate.held
    yield engine, gate, path
    engine.dispose()


T = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("who", String))
ADD_T = LeanStatement(insert(T).values(who=bindparam("who")), writes=True)
READ_T = LeanStatement(select(T.c.id, T.c.who).where(T.c.who == bindparam("who")), writes=False)


def test_a_writing_lean_statement_takes_the_gate_until_commit_or_rollback(
    sqlite_file: tuple[Engine, SqliteWriteGate, Path],
) -> None:
    engine, gate, _path = sqlite_file
    with engine.begin() as conn:
        assert READ_T.first(conn, {"who": "a"}) is None
        assert not gate.held  # a read does not take it
        assert ADD_T.execute(conn, {"who": "a"}) == 1
        assert gate.held
        assert ADD_T.execute(conn, {"who": "b"}) == 1  # taken once per transaction: no self-deadlock
        assert gate.held
    assert not gate.held
    with pytest.raises(RuntimeError), engine.begin() as conn:
        ADD_T.execute(conn, {"who": "rolled back"})
        assert gate.held
        raise RuntimeError("step failed")
    assert not gate.held
    with engine.connect() as conn:  # the gate is usable again: another write goes through at once
        conn.begin()
        ADD_T.execute(conn, {"who": "c"})
        conn.commit()
        assert not gate.held
        assert sorted(conn.execute(text("SELECT who FROM t")).scalars()) == ["a", "b", "c"]


def test_serial_blocks_of_two_threads_never_overlap_and_lose_no_update(
    sqlite_file: tuple[Engine, SqliteWriteGate, Path],
) -> None:
    engine, gate, _path = sqlite_file
    rounds = 6
    events: list[tuple[str, str]] = []
    record = threading.Lock()
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def step(name: str) -> None:
        try:
            start.wait(WAIT_S)
            for _ in range(rounds):
                with gate.serial():
                    with record:
                        events.append(("enter", name))
                    with engine.begin() as conn:  # read, decide (slowly), write: a lost update without serial()
                        n = conn.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one()
                        time.sleep(0.005)
                        conn.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})
                    with record:
                        events.append(("exit", name))
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=step, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert not failures and not any(t.is_alive() for t in threads)
    assert len(events) == 4 * rounds
    pairs = list(zip(events[::2], events[1::2], strict=True))
    # every block ends before the next one starts
    assert all(enter[0] == "enter" and leave == ("exit", enter[1]) for enter, leave in pairs), events
    assert sorted(enter[1] for enter, _ in pairs) == ["a"] * rounds + ["b"] * rounds
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter WHERE id = 1")).scalar_one() == 2 * rounds
    assert not gate.held


def test_nested_serial_blocks_in_one_thread_hold_the_gate_until_the_outer_one_ends(tmp_path: Path) -> None:
    # a gate that waits far longer than the test does: a block waiting on itself would hang, not just stall
    path = tmp_path / "nested.db"
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})
    gate = SqliteWriteGate(Path(f"{path}-gate"), timeout_s=10 * WAIT_S)
    gate.install(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    other_entered, nested_done, release_outer = threading.Event(), threading.Event(), threading.Event()
    seen: list[object] = []

    def other() -> None:
        with gate.serial():
            other_entered.set()

    waiter = threading.Thread(target=other, daemon=True)

    def nested() -> None:
        try:
            with gate.serial():
                seen.append(gate.held)
                with gate.serial():  # re-entrant: no wait on itself
                    with engine.begin() as conn:
                        ADD_T.execute(conn, {"who": "inner"})  # the write gate is the same lock: re-entered
                        conn.execute(text("INSERT INTO t (who) VALUES ('inner-core')"))
                    with pytest.raises(RuntimeError), engine.begin() as conn:
                        conn.execute(text("INSERT INTO t (who) VALUES ('rolled back')"))
                        raise RuntimeError("step failed")
                    seen.append(gate.held)
                seen.append(gate.held)  # the inner block's and the transactions' ends leave the outer hold
                nested_done.set()
                release_outer.wait(WAIT_S)
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t (who) VALUES ('outer')"))
        except BaseException as exc:
            seen.append(exc)

    owner = threading.Thread(target=nested, daemon=True)
    owner.start()
    assert nested_done.wait(WAIT_S), seen  # not stuck waiting on its own block
    waiter.start()
    assert not other_entered.wait(0.3)  # another thread waits for the outer block
    release_outer.set()
    owner.join(WAIT_S)
    assert other_entered.wait(WAIT_S)
    waiter.join(WAIT_S)
    assert not owner.is_alive() and not waiter.is_alive()
    assert seen == [True, True, True] and not gate.held
    with engine.connect() as conn:
        assert sorted(conn.execute(text("SELECT who FROM t")).scalars()) == ["inner", "inner-core", "outer"]
    engine.dispose()


def _gate_file_is_free(path: str) -> bool:
    fd = os.open(f"{path}-gate", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def _other_process(path: str, orders: Any, replies: Any) -> None:
    """A second server process on the same file: probes the cross-process lock, writes when told."""
    engine = make_engine(f"sqlite:///{path}")
    try:
        while True:
            order, who = orders.get(timeout=WAIT_S)
            if order == "stop":
                return
            if order == "probe":
                replies.put(("probe", "free" if _gate_file_is_free(path) else "held"))
                continue
            replies.put(("attempting", who))
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (who) VALUES (:w)"), {"w": who})
            replies.put(("done", who))
    finally:
        engine.dispose()


def test_serial_locks_other_processes_out_only_from_its_first_write_to_its_end(
    sqlite_file: tuple[Engine, SqliteWriteGate, Path],
) -> None:
    engine, gate, path = sqlite_file
    ctx = multiprocessing.get_context("spawn")
    orders, replies = ctx.Queue(), ctx.Queue()
    child = ctx.Process(target=_other_process, args=(str(path), orders, replies))
    child.start()

    def ask(order: str, who: str = "") -> tuple[str, str]:
        orders.put((order, who))
        reply: tuple[str, str] = replies.get(timeout=WAIT_S)
        return reply

    try:
        with gate.serial():
            with engine.begin() as conn:
                assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
                # read and deciding, nothing written yet: the other process is not locked out
                assert ask("probe") == ("probe", "free")
                assert ask("write", "child-before") == ("attempting", "child-before")
                assert replies.get(timeout=WAIT_S) == ("done", "child-before")
                conn.execute(text("INSERT INTO t (who) VALUES ('parent-first')"))
            # the transaction committed (SQLite holds no lock now), but the block goes on: still locked out
            assert ask("probe") == ("probe", "held")
            assert ask("write", "child-during") == ("attempting", "child-during")
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (who) VALUES ('parent-last')"))
                assert conn.execute(text("SELECT count(*) FROM t WHERE who = 'child-during'")).scalar_one() == 0
            assert replies.empty()  # the child has not written yet
        assert replies.get(timeout=WAIT_S) == ("done", "child-during")  # it wrote once the block ended
        assert ask("probe") == ("probe", "free")
        orders.put(("stop", ""))
        child.join(WAIT_S)
        assert child.exitcode == 0
    finally:
        if child.is_alive():
            child.kill()
            child.join(WAIT_S)
        orders.close()
        replies.close()
    assert not gate.held
    with engine.connect() as conn:
        order = list(conn.execute(text("SELECT who FROM t ORDER BY id")).scalars())
    assert order == ["child-before", "parent-first", "parent-last", "child-during"]


# --- PostgreSQL: the pool pings a connection only when it sat idle --------------------------------------------------

@pytest.fixture
def pg_schema() -> Iterator[str]:
    with postgres_schema() as schema:
        yield schema


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        pid: int = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return pid


@pytest.mark.postgres
def test_a_pooled_connection_idle_past_the_limit_is_pinged_and_replaced_when_dead(pg_schema: str) -> None:
    engine = make_engine(PG_URL, search_path=pg_schema, idle_ping_s=0)
    try:
        first = _backend(engine)
        assert _backend(engine) == first  # the pool hands the same connection back
        terminate_backend(first)
        with engine.connect() as conn:  # the checkout ping failed: the pool opened a new connection
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
            assert conn.execute(text("SELECT current_schema()")).scalar_one() == pg_schema
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_connection_used_within_the_limit_is_not_pinged_so_a_dead_one_fails_once(pg_schema: str) -> None:
    engine = make_engine(PG_URL, search_path=pg_schema, idle_ping_s=3600)
    try:
        first = _backend(engine)
        terminate_backend(first)
        with engine.connect() as conn, pytest.raises(DBAPIError) as err:  # the trade-off: one request fails
            conn.execute(text("SELECT 1"))
        assert err.value.connection_invalidated
        second = _backend(engine)  # the failure dropped the dead connection: the next request is served
        assert second != first
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_lean_statement_on_a_dead_connection_invalidates_it(pg_schema: str) -> None:
    engine = make_engine(PG_URL, search_path=pg_schema, idle_ping_s=3600)
    one = LeanStatement(select(bindparam("n", type_=Integer).label("n")), writes=False)
    try:
        first = _backend(engine)
        terminate_backend(first)
        with engine.connect() as conn:
            with pytest.raises(DBAPIError) as err:
                one.first(conn, {"n": 1})
            assert err.value.connection_invalidated and conn.invalidated
            assert isinstance(err.value.orig, conn.dialect.loaded_dbapi.OperationalError)
        with engine.connect() as conn:
            assert one.first(conn, {"n": 7}) == {"n": 7}
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
    finally:
        engine.dispose()
