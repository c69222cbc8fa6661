"""Migrating a database that holds cases keeps every case and every step of its timeline, on SQLite (where a batch
migration rebuilds the `cases` table: with foreign keys on, dropping the old table would cascade into the steps)
and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from chengyun.db.engine import make_engine
from chengyun.db.migrate import current_revision, upgrade
from tests.conftest import PG_URL, postgres_schema

BEFORE_REBUILD = "0015"  # 0016 rebuilds `cases` on SQLite (a unique constraint becomes a partial index)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bare(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database, not migrated."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    with postgres_schema() as schema:
        engine = make_engine(PG_URL, search_path=schema)
        yield engine
        engine.dispose()


def _counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return (conn.execute(text("SELECT count(*) FROM cases")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM case_timeline")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM cases WHERE external_id IS NOT NULL")).scalar_one())


def test_upgrading_a_database_with_cases_keeps_their_timelines_and_foreign_keys(bare: Engine) -> None:
    upgrade(bare, BEFORE_REBUILD)
    with bare.begin() as conn:
        conn.execute(text("INSERT INTO areas (code, name, level, path, updated_at) "
                          "VALUES ('510113002000', '大弯街道', 'street', '/510113002000/', '2026-12-04')"))
        for i in range(3):
            case_id = conn.execute(text(
                "INSERT INTO cases (number, source, category_code, urgency, state, version, title, description,"
                " address, area_code, area_path, handling_level, assist_units, attachments, pauses, reported_at,"
                " updated_at, returns, escalations, urges, self_handled, deadline_level, external_system,"
                " external_id) VALUES (:n, 'grid', '0101', 'normal', 'registered', 2, 't', 'd', '', '510113002000',"
                " '/510113002000/', 'street', '[]', '[]', '[]', '2026-12-04', '2026-12-04', 0, 0, 0, false, 'green',"
                " :system, :external) RETURNING id"),
                {"n": f"QY-{i}", "system": "12345" if i else None, "external": f"GD-{i}" if i else None}).scalar_one()
            for seq in (1, 2):
                conn.execute(text(
                    "INSERT INTO case_timeline (case_id, seq, action, from_state, to_state, at, actor_role, note,"
                    " attachments, data) VALUES (:c, :s, 'register', 'reported', 'registered', '2026-12-04',"
                    " 'operator', '', '[]', '{}')"), {"c": case_id, "s": seq})
    assert _counts(bare) == (3, 6, 2)
    upgrade(bare)
    assert current_revision(bare) != BEFORE_REBUILD
    assert _counts(bare) == (3, 6, 2)
    if bare.dialect.name == "sqlite":
        with bare.connect() as conn:  # back on for the application's connection
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
