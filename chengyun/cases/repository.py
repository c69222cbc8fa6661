"""Rows ↔ aggregate for cases, and the few lookups the service needs inside its transaction."""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chengyun.areas.model import AreaRef
from chengyun.areas.tables import AreaRow
from chengyun.cases.model import Case, CaseState, Rating, TimelineEntry
from chengyun.cases.policies import CategoryFacts
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.errors import Forbidden, Invalid
from chengyun.org.model import UnitKind
from chengyun.org.tables import UnitRow
from chengyun.shared.handling import HandlingLevel, Urgency

_AGGREGATE_FIELDS = [f.name for f in fields(Case)]


def by_number(session: Session, number: str) -> CaseRow | None:
    """The case with this human number."""
    return session.scalars(select(CaseRow).where(CaseRow.number == number)).first()


def by_external(session: Session, system: str | None, external_id: str | None) -> CaseRow | None:
    """The case an upstream system already sent with this id, if any."""
    if not system or not external_id:
        return None
    return session.scalars(select(CaseRow).where(CaseRow.external_system == system,
                                                 CaseRow.external_id == external_id)).first()


def new_row(new: Any, category: CategoryFacts, chain: tuple[AreaRef, ...], lon: float, lat: float,
            now: datetime, reporter: dict[str, str | None]) -> CaseRow:
    """A `reported` case row; the number is set once the id is known."""
    smallest = chain[-1]
    community = next((ref.code for ref in chain if ref.level.value == "community"), None)
    path = "/" + "/".join(ref.code for ref in chain) + "/"
    return CaseRow(
        number=f"tmp-{uuid.uuid4().hex[:24]}", source=new.source.value, category_code=category.code,
        urgency=(new.urgency or category.default_urgency).value, state=CaseState.REPORTED.value, version=0,
        title=new.title.strip() or new.description.strip()[:40], description=new.description.strip(),
        address=new.address.strip(), lon=lon, lat=lat, area_code=smallest.code, area_path=path,
        community_code=community, handling_level=category.default_level.value, lead_unit=None, assist_units=[],
        attachments=list(new.attachments), reporter_name=reporter["name"],
        reporter_phone_hash=reporter["hash"], reporter_phone_encrypted=reporter["encrypted"],
        reporter_phone_masked=reporter["masked"], external_system=new.external_system,
        external_id=new.external_id, reported_at=now, pauses=[], updated_at=now,
    )


def to_aggregate(row: CaseRow) -> Case:
    """The pure aggregate the transition rules look at."""
    return Case(
        state=CaseState(row.state), version=row.version, urgency=Urgency(row.urgency),
        handling_level=HandlingLevel(row.handling_level), lead_unit=row.lead_unit,
        assist_units=tuple(row.assist_units or ()), resume_to=CaseState(row.resume_to) if row.resume_to else None,
        merged_into=row.merged_into, extension_pending=row.extension_pending, dispatched_at=row.dispatched_at,
        claim_due=row.claim_due, handling_due=row.handling_due, suspended_at=row.suspended_at,
        pauses=tuple((datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in row.pauses or ()),
        claimed_at=row.claimed_at, closed_at=row.closed_at, rating=Rating(row.rating) if row.rating else None,
        returns=row.returns, escalations=row.escalations, urges=row.urges, self_handled=row.self_handled,
    )


def snapshot(case: Case) -> dict[str, Any]:
    """Column values for the aggregate's fields (enums as codes, pauses as ISO pairs)."""
    values: dict[str, Any] = {}
    for name in _AGGREGATE_FIELDS:
        value = getattr(case, name)
        if name == "pauses":
            value = [[a.isoformat(), b.isoformat()] for a, b in value]
        elif name == "assist_units":
            value = list(value)
        elif hasattr(value, "value"):
            value = value.value
        values[name] = value
    return values


def timeline_row(case_id: int, entry: TimelineEntry) -> TimelineRow:
    """The stored form of one step."""
    return TimelineRow(case_id=case_id, seq=entry.seq, action=entry.action.value,
                       from_state=entry.from_state.value, to_state=entry.to_state.value, at=entry.at,
                       actor_id=entry.actor_id, actor_role=entry.actor_role.value, actor_unit=entry.actor_unit,
                       note=entry.note, attachments=list(entry.attachments), data=dict(entry.data))


def area_chain(session: Session, code: str) -> tuple[tuple[str, str], ...]:
    """(code, level) pairs from the root down to `code`."""
    row = session.get(AreaRow, code)
    if row is None:
        return ()
    codes = [c for c in row.path.split("/") if c]
    levels = {c: lv for c, lv in session.execute(select(AreaRow.code, AreaRow.level).where(AreaRow.code.in_(codes)))}
    return tuple((c, levels[c]) for c in codes if c in levels)


def check_push_down(session: Session, row: CaseRow, unit_code: str, admission: bool,
                    dispatcher_scope: str) -> None:
    """A unit may receive the case only inside the dispatcher's subtree; a community only admitted items."""
    unit = session.scalars(select(UnitRow).where(UnitRow.code == unit_code)).first()
    if unit is None:
        raise Invalid("cases.unknown_unit", unit=unit_code)
    area = session.get(AreaRow, unit.area_code)
    if area is None or not area.path.startswith(dispatcher_scope):
        raise Forbidden("cases.push_down.outside_scope", unit=unit_code, scope=dispatcher_scope)
    if unit.kind == UnitKind.COMMUNITY_COMMITTEE.value and not admission:
        raise Forbidden("cases.push_down.not_admitted", unit=unit_code, category=row.category_code)
