"""The connection lane on SQLite: a step's short transaction on a kept connection, committed or rolled back, and a
connection given back inside a transaction never lent again."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, event, text

from chengyun.db.engine import make_engine
from chengyun.db.lane import lane_of

# --- SQLite: the lane keeps connections for the steps' short transactions ----------------------------------------

def _sqlite(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'lane.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe (n integer PRIMARY KEY)"))
    return engine


def test_sqlite_a_step_gets_the_same_connection_back_and_its_transaction_commits_or_rolls_back(
        tmp_path: Path) -> None:
    engine = _sqlite(tmp_path)
    checkouts: list[int] = []
    event.listen(engine, "checkout", lambda *_: checkouts.append(1))
    lane = lane_of(engine)
    try:
        with lane.connection() as conn, conn.begin():
            first = conn.connection.dbapi_connection
            conn.execute(text("INSERT INTO probe VALUES (1)"))
        with pytest.raises(ZeroDivisionError), lane.connection() as conn, conn.begin():
            assert conn.connection.dbapi_connection is first and len(checkouts) == 1
            conn.execute(text("INSERT INTO probe VALUES (2)"))
            raise ZeroDivisionError  # a step that fails half way: its write is undone
        assert lane.idle == 1
        with engine.connect() as other:
            assert other.execute(text("SELECT n FROM probe")).scalars().all() == [1]
    finally:
        engine.dispose()


def test_sqlite_a_connection_given_back_inside_a_transaction_goes_back_to_the_pool_rolled_back(
        tmp_path: Path) -> None:
    engine = _sqlite(tmp_path)
    lane = lane_of(engine)
    try:
        with lane.connection() as conn:
            conn.begin()
            conn.execute(text("INSERT INTO probe VALUES (3)"))  # never committed
        assert lane.idle == 0
        with lane.connection() as conn:
            assert conn.execute(text("SELECT count(*) FROM probe")).scalar_one() == 0
    finally:
        engine.dispose()
