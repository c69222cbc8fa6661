"""The connection lane on a real PostgreSQL: connections lent to steps come back as they went, dead ones are
replaced, a transaction left open never reaches the next step, and `dispose()` closes them all."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, text

from chengyun.db.engine import make_engine
from chengyun.db.lane import KEEP, lane_of
from tests.conftest import PG_URL, postgres_schema, terminate_backend

pytestmark = pytest.mark.postgres
WAIT_S = 10


@pytest.fixture
def schema() -> Iterator[str]:
    with postgres_schema() as name:
        yield name


def _engine(schema: str, idle_ping_s: float = 3600) -> Engine:
    engine = make_engine(PG_URL, search_path=schema, idle_ping_s=idle_ping_s)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe (n integer PRIMARY KEY)"))
    return engine


def _pid(engine: Engine) -> int:
    with lane_of(engine).connection() as conn:
        pid: int = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return pid


def test_a_step_gets_the_same_connection_back_without_a_pool_checkout_and_each_statement_commits(
        schema: str) -> None:
    engine = _engine(schema)
    checkouts: list[int] = []
    event.listen(engine, "checkout", lambda *_: checkouts.append(1))
    try:
        first = _pid(engine)
        assert _pid(engine) == first and len(checkouts) == 1  # lent again as it was, no second checkout
        with lane_of(engine).connection() as conn:
            conn.execute(text("INSERT INTO probe VALUES (1)"))
            assert conn.connection.dbapi_connection.autocommit is True  # type: ignore[union-attr]
        with engine.connect() as other:  # visible to everyone at once: it committed on its own
            assert other.execute(text("SELECT count(*) FROM probe")).scalar_one() == 1
            assert other.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_a_connection_left_inside_a_transaction_is_closed_not_lent_again_and_its_work_is_undone(
        schema: str) -> None:
    engine = _engine(schema)
    try:
        with lane_of(engine).connection() as conn:
            left = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            conn.exec_driver_sql("BEGIN")
            conn.execute(text("INSERT INTO probe VALUES (2)"))
        assert lane_of(engine).idle == 0
        assert _gone(left)
        with lane_of(engine).connection() as conn:
            assert conn.execute(text("SELECT count(*) FROM probe")).scalar_one() == 0
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != left
    finally:
        engine.dispose()


def test_a_dead_connection_idle_past_the_ping_interval_is_replaced_before_the_step(schema: str) -> None:
    engine = _engine(schema, idle_ping_s=0)
    try:
        first = _pid(engine)
        terminate_backend(first)
        with lane_of(engine).connection() as conn:
            assert conn.execute(text("SELECT current_schema()")).scalar_one() == schema
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
    finally:
        engine.dispose()


def test_a_step_that_finds_its_connection_dead_invalidates_it_and_the_next_step_gets_a_new_one(
        schema: str) -> None:
    engine = _engine(schema)  # no ping within the hour: the failure surfaces once, as with the pool
    try:
        first = _pid(engine)
        terminate_backend(first)
        with pytest.raises(Exception) as err, lane_of(engine).connection() as conn:
            conn.execute(text("SELECT 1"))
        assert getattr(err.value, "connection_invalidated", False)
        assert lane_of(engine).idle == 0
        assert _pid(engine) != first
    finally:
        engine.dispose()


def test_at_most_keep_connections_wait_and_the_rest_go_back_to_the_pool_transactional(schema: str) -> None:
    engine = _engine(schema)
    lane = lane_of(engine)
    lent, release = threading.Barrier(KEEP + 3), threading.Event()

    def step() -> None:
        with lane.connection() as conn:
            conn.execute(text("SELECT 1"))
            lent.wait(WAIT_S)
            release.wait(WAIT_S)

    threads = [threading.Thread(target=step) for _ in range(KEEP + 2)]
    try:
        for t in threads:
            t.start()
        lent.wait(WAIT_S)  # all lent at once: each its own connection
        release.set()
        for t in threads:
            t.join(WAIT_S)
        assert lane.idle == KEEP
        pool = engine.pool
        assert pool.checkedout() == KEEP  # type: ignore[attr-defined]  # the two extra ones were checked in
        for _ in range(2):
            with engine.connect() as conn:
                assert conn.connection.dbapi_connection.autocommit is False  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_dispose_closes_the_idle_connections_and_a_lent_one_when_it_comes_back(schema: str) -> None:
    engine = _engine(schema)
    lane = lane_of(engine)
    try:
        idle_pid = _pid(engine)
        with lane.connection() as lent:
            lent_pid = lent.execute(text("SELECT pg_backend_pid()")).scalar_one()
            assert lent_pid == idle_pid
            with lane.connection() as second:
                second_pid = second.execute(text("SELECT pg_backend_pid()")).scalar_one()
            engine.dispose()  # `second` waited in the lane: closed now; `lent` is still in use
            assert lane.idle == 0 and _gone(second_pid)
            assert lent.execute(text("SELECT 1")).scalar_one() == 1
        assert _gone(lent_pid)  # closed when given back, not kept for a pool that is gone
        assert _pid(engine) not in (lent_pid, second_pid)
    finally:
        engine.dispose()


def _gone(pid: int) -> bool:
    """True once the server process of a closed connection has ended (it ends a moment after the close)."""
    admin = make_engine(PG_URL)
    deadline = time.monotonic() + WAIT_S
    try:
        with admin.connect() as conn:
            while conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                               {"pid": pid}).scalar_one():
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.02)
            return True
    finally:
        admin.dispose()
