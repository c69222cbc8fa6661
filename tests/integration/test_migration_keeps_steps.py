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

# on SQLite 0006 (a column with a server default) and 0016 (a unique constraint becomes a partial index) rebuild
# `cases`, 0007 rebuilds `users`
BEFORE_REBUILD = ("0005", "0015")


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


def _counts(engine: Engine) -> tuple[int, ...]:
    """Cases, steps, cases with an upstream id, cases with a reporter account, that account's tokens."""
    with engine.connect() as conn:
        return tuple(conn.execute(text(sql)).scalar_one() for sql in (
            "SELECT count(*) FROM cases", "SELECT count(*) FROM case_timeline",
            "SELECT count(*) FROM cases WHERE external_id IS NOT NULL",
            "SELECT count(*) FROM cases WHERE reporter_user_id IS NOT NULL", "SELECT count(*) FROM api_tokens"))


@pytest.mark.parametrize("start", BEFORE_REBUILD)
def test_upgrading_a_database_with_cases_keeps_their_timelines_and_foreign_keys(bare: Engine, start: str) -> None:
    upgrade(bare, start)
    with bare.begin() as conn:
        conn.execute(text("INSERT INTO areas (code, name, level, path, updated_at) "
                          "VALUES ('510113002000', '大弯街道', 'street', '/510113002000/', '2026-12-04')"))
        user = conn.execute(text(  # 0007 rebuilds `users`: its tokens (ON DELETE CASCADE) and reports must stay
            "INSERT INTO users (username, display_name, role, scope_code, is_active, created_at) VALUES"
            " ('resident', '居民', 'resident', '510113002000', true, '2026-12-04') RETURNING id")).scalar_one()
        conn.execute(text("INSERT INTO api_tokens (user_id, name, prefix, token_hash, created_at) VALUES"
                          " (:u, 'app', 'cy_', 'h', '2026-12-04')"), {"u": user})
        for i in range(3):
            case_id = conn.execute(text(
                "INSERT INTO cases (number, source, category_code, urgency, state, version, title, description,"
                " address, area_code, area_path, handling_level, assist_units, attachments, pauses, reported_at,"
                " updated_at, returns, escalations, urges, self_handled, deadline_level, external_system,"
                " external_id, reporter_user_id) VALUES (:n, 'grid', '0101', 'normal', 'registered', 2, 't', 'd', '',"
                " '510113002000',"
                " '/510113002000/', 'street', '[]', '[]', '[]', '2026-12-04', '2026-12-04', 0, 0, 0, false, 'green',"
                " :system, :external, :user) RETURNING id"),
                {"n": f"QY-{i}", "system": "12345" if i else None, "external": f"GD-{i}" if i else None,
                 "user": user}).scalar_one()
            for seq in (1, 2):
                conn.execute(text(
                    "INSERT INTO case_timeline (case_id, seq, action, from_state, to_state, at, actor_role, note,"
                    " attachments, data) VALUES (:c, :s, 'register', 'reported', 'registered', '2026-12-04',"
                    " 'operator', '', '[]', '{}')"), {"c": case_id, "s": seq})
    assert _counts(bare) == (3, 6, 2, 3, 1)
    upgrade(bare)
    assert current_revision(bare) != start
    assert _counts(bare) == (3, 6, 2, 3, 1)
    if bare.dialect.name == "sqlite":
        with bare.connect() as conn:  # back on for the application's connection
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
