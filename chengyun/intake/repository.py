"""Rows of the inbox: store a report, find it by key, and record what processing made of it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from chengyun.intake.model import ReportState
from chengyun.intake.tables import ReportRow

REPORTS: Table = ReportRow.__table__  # type: ignore[assignment]  # declared tables are Tables
_new_row = ReportRow.__mapper__.class_manager.new_instance
_INSERT = insert(REPORTS).returning(REPORTS.c.id)
_BY_ID = select(REPORTS).where(REPORTS.c.id == bindparam("id"))
_BY_TOKEN = select(REPORTS).where(REPORTS.c.token == bindparam("token"))
_BY_KEY = select(REPORTS).where(REPORTS.c.idempotency_key == bindparam("key"))
_FIRST_OF_CASE = (select(REPORTS).where(REPORTS.c.case_number == bindparam("number"))
                  .order_by(REPORTS.c.id).limit(1))
_BY_EXTERNAL = (select(REPORTS).where(REPORTS.c.external_system == bindparam("system"),
                                      REPORTS.c.external_id == bindparam("external_id"))
                .order_by(REPORTS.c.id).limit(1))
_LATEST_OPENED = (select(REPORTS.c.case_id, REPORTS.c.case_number)
                  .where(REPORTS.c.dedup_key == bindparam("key"), REPORTS.c.received_at >= bindparam("since"),
                         REPORTS.c.state == ReportState.OPENED.value, REPORTS.c.id != bindparam("id"))
                  .order_by(REPORTS.c.received_at.desc()).limit(1))
_SET = update(REPORTS).where(REPORTS.c.id == bindparam("_id"))


def detached(values: Mapping[Any, Any]) -> ReportRow:
    """A `ReportRow` holding a read row's values, outside any session."""
    row: ReportRow = _new_row()
    row.__dict__.update(values)
    return row


def _one(conn: Connection, statement: Any, params: dict[str, Any]) -> ReportRow | None:
    found = conn.execute(statement, params).first()
    return detached(found._mapping) if found is not None else None


def by_id(conn: Connection, report_id: int) -> ReportRow | None:
    """The report with this id."""
    return _one(conn, _BY_ID, {"id": report_id})


def by_token(conn: Connection, token: str) -> ReportRow | None:
    """The report with this public token."""
    return _one(conn, _BY_TOKEN, {"token": token})


def first_of_case(conn: Connection, number: str) -> ReportRow | None:
    """The first report that opened (or joined) the case with this number."""
    return _one(conn, _FIRST_OF_CASE, {"number": number})


def by_idempotency_key(conn: Connection, key: str) -> ReportRow | None:
    """The report a client already sent with this (namespaced) idempotency key."""
    return _one(conn, _BY_KEY, {"key": key})


def by_external(conn: Connection, system: str, external_id: str) -> ReportRow | None:
    """The first report an upstream system sent with this id."""
    return _one(conn, _BY_EXTERNAL, {"system": system, "external_id": external_id})


def latest_opened(conn: Connection, dedup_key: str, since: datetime, report_id: int) -> tuple[int, str] | None:
    """(case id, number) of the newest report with this dedup key that opened a case since `since`."""
    found = conn.execute(_LATEST_OPENED, {"key": dedup_key, "since": since, "id": report_id}).first()
    return (found[0], found[1]) if found is not None and found[0] is not None else None


def insert_report(conn: Connection, values: dict[str, Any]) -> ReportRow:
    """Store a new report; returns it with its id."""
    values = dict(values)
    values["id"] = conn.execute(_INSERT, values).scalar_one()
    return detached(values)


def set_fields(conn: Connection, report_id: int, **values: Any) -> None:
    """Update some columns of one report."""
    conn.execute(_SET, {"_id": report_id, **values})
