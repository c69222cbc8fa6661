"""The partial indexes of mostly-empty case columns (migration 0016) still serve the queries that look them up, on
SQLite and PostgreSQL, and the upstream id stays unique."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import IntegrityError

from chengyun.cases.tables import CaseRow

CASES = CaseRow.__table__
NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)

LOOKUPS = {
    "ux_cases_external": select(CASES.c.id).where(CASES.c.external_system == "12345",
                                                  CASES.c.external_id == "GD-1"),
    "ix_cases_merged_into": select(CASES.c.id).where(CASES.c.merged_into == "QY-20261204-000001"),
    "ix_cases_closed_at": select(CASES.c.id).where(CASES.c.closed_at >= NOW),
    "ix_cases_reporter_user_id": select(CASES.c.id).where(CASES.c.reporter_user_id == 7),
    "ix_cases_reporter_phone_hash": select(CASES.c.id).where(CASES.c.reporter_phone_hash == "ab" * 32,
                                                             CASES.c.reported_at >= NOW),
}


def _plan(engine: Engine, statement: object) -> str:
    compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})  # type: ignore[attr-defined]
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))  # an empty table: make the planner show its options
            return "\n".join(conn.execute(text(f"EXPLAIN {compiled}")).scalars())
        return "\n".join(str(row[-1]) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


@pytest.mark.parametrize("index", sorted(LOOKUPS))
def test_a_lookup_by_value_uses_the_partial_index(engine: Engine, index: str) -> None:
    assert index in _plan(engine, LOOKUPS[index])


def test_an_upstream_id_is_unique_and_cases_without_one_are_not_indexed_against_each_other(
        engine: Engine) -> None:
    row = {"source": "upstream", "category_code": "0101", "urgency": "normal", "state": "reported", "version": 0,
           "title": "t", "description": "d", "address": "", "area_code": "x", "area_path": "/x/",
           "handling_level": "street", "assist_units": [], "attachments": [], "pauses": [], "reported_at": NOW,
           "updated_at": NOW, "returns": 0, "escalations": 0, "urges": 0, "self_handled": False,
           "deadline_level": "green", "repeat_report": False}
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # no area table rows needed for this check
        else:
            conn.execute(text("SET session_replication_role = replica"))  # the same: skip the foreign keys
        conn.execute(insert(CASES), [{**row, "number": "A"}, {**row, "number": "B"}])  # two without an id
        conn.execute(insert(CASES), [{**row, "number": "C", "external_system": "12345", "external_id": "GD-1"}])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        else:
            conn.execute(text("SET session_replication_role = replica"))
        conn.execute(insert(CASES), [{**row, "number": "D", "external_system": "12345", "external_id": "GD-1"}])
