"""The public reads behind Open311: citizens' service requests and their status updates, never personal data.

Only cases that citizens reported (source `citizen`) are public: internal cases of grid workers, sensors and upstream
systems (a special-care visit, a dispute) are not published. Reporter fields are never selected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from chengyun.cases.model import Source
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.org.tables import UnitRow

PUBLIC_COLUMNS = (CaseRow.id, CaseRow.number, CaseRow.state, CaseRow.category_code, CaseRow.urgency,
                  CaseRow.description, CaseRow.title, CaseRow.address, CaseRow.lon, CaseRow.lat, CaseRow.attachments,
                  CaseRow.reported_at, CaseRow.updated_at, CaseRow.handling_due, CaseRow.lead_unit,
                  UnitRow.name.label("agency"))


@dataclass(frozen=True, slots=True)
class RequestFilter:
    """GET requests' parameters, already checked (dates bounded, page within limits)."""

    numbers: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    states: frozenset[str] = frozenset()
    start: datetime | None = None
    end: datetime | None = None
    page: int = 1
    page_size: int = 1000


def _public() -> Any:  # a Select of the public columns
    return (select(*PUBLIC_COLUMNS).outerjoin(UnitRow, UnitRow.code == CaseRow.lead_unit)
            .where(CaseRow.source == Source.CITIZEN.value))


def find_requests(engine: Engine, wanted: RequestFilter) -> list[Any]:
    """Public requests matching the filter, newest first, one page."""
    stmt = _public()
    if wanted.numbers:
        stmt = stmt.where(CaseRow.number.in_(wanted.numbers))
    if wanted.service_codes:
        stmt = stmt.where(CaseRow.category_code.in_(wanted.service_codes))
    if wanted.states:
        stmt = stmt.where(CaseRow.state.in_(sorted(wanted.states)))
    if wanted.start is not None:
        stmt = stmt.where(CaseRow.reported_at >= wanted.start)
    if wanted.end is not None:  # times are published to the second: the end's whole second is included
        stmt = stmt.where(CaseRow.reported_at < wanted.end.replace(microsecond=0) + timedelta(seconds=1))
    stmt = (stmt.order_by(CaseRow.reported_at.desc(), CaseRow.id.desc())
            .limit(wanted.page_size).offset((wanted.page - 1) * wanted.page_size))
    with engine.connect() as conn:
        return list(conn.execute(stmt).all())


def find_request(engine: Engine, number: str) -> Any | None:
    """One public request by its number."""
    with engine.connect() as conn:
        return conn.execute(_public().where(CaseRow.number == number)).first()


def find_updates(engine: Engine, start: datetime, end: datetime, limit: int) -> Sequence[Any]:
    """Timeline steps of public requests within [start, end], oldest first (the status-update history)."""
    stmt = (select(TimelineRow.seq, TimelineRow.action, TimelineRow.to_state, TimelineRow.at, TimelineRow.note,
                   TimelineRow.attachments, CaseRow.number)
            .join(CaseRow, CaseRow.id == TimelineRow.case_id)
            .where(CaseRow.source == Source.CITIZEN.value, TimelineRow.at >= start,
                   TimelineRow.at < end.replace(microsecond=0) + timedelta(seconds=1))
            .order_by(TimelineRow.at, TimelineRow.id).limit(limit))
    with engine.connect() as conn:
        return conn.execute(stmt).all()


def count_requests(engine: Engine) -> int:
    """How many public requests there are (for discovery and tests)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(CaseRow)
                                .where(CaseRow.source == Source.CITIZEN.value)).scalar_one())
