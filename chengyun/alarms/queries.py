"""Reads of alarms in a principal's scope: filtered lists with propagation up the place hierarchy, and counts.

Propagation: an alarm stores its device's area path and its place codes (`/building/compound/`), so a street, a
community or a grid sees every alarm below it by path prefix (indexed), and a compound or a building by its code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, and_, case, func, literal, select

from chengyun.alarms.model import status_code
from chengyun.alarms.repository import ALARMS, detached
from chengyun.alarms.signals import SEVERITY_RANK, Severity
from chengyun.alarms.tables import AlarmRow
from chengyun.areas.tables import AreaRow
from chengyun.auth.model import Principal, Role
from chengyun.auth.tables import UserRow
from chengyun.errors import Invalid

MAX_PAGE = 500
ASSIGNABLE = frozenset({Role.ADMIN, Role.OPERATOR, Role.GRID_WORKER})
STATUSES = tuple(status_code(a, k) for a in (True, False) for k in (False, True))


@dataclass(frozen=True, slots=True)
class AlarmFilter:
    """What the console asks for; every field narrows (None or empty: any)."""

    active: bool | None = None
    acknowledged: bool | None = None
    severities: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()
    place: str | None = None  # an area code (street, community, grid …) or a place code (compound, building)
    device_id: str | None = None
    household: str | None = None
    assignee_user_id: int | None = None
    limit: int = 50
    offset: int = 0


SEVERITY_ORDER = case({s.value: rank for s, rank in SEVERITY_RANK.items()}, value=ALARMS.c.severity, else_=99)


def check(filters: AlarmFilter) -> None:
    """Refuse a filter that cannot mean anything, naming the field."""
    unknown = sorted(filters.severities - {s.value for s in Severity})
    if unknown:
        raise Invalid("alarms.bad_severity", value=", ".join(unknown)[:100],
                      allowed=", ".join(s.value for s in Severity))
    if not 1 <= filters.limit <= MAX_PAGE or filters.offset < 0:
        raise Invalid("alarms.bad_page", limit=filters.limit, offset=filters.offset)


def search(conn: Connection, principal: Principal, filters: AlarmFilter,
           area_path: str | None) -> tuple[int, list[AlarmRow]]:
    """Alarms in scope matching the filter (`area_path`: the filter's place when it is an area), with the total;
    active first, then the most severe, then the latest."""
    stmt = _filtered(principal, filters, area_path)
    total = conn.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
    ordered = stmt.order_by(ALARMS.c.active.desc(), SEVERITY_ORDER, ALARMS.c.last_at.desc(), ALARMS.c.id.desc())
    rows = conn.execute(ordered.limit(filters.limit).offset(filters.offset)).all()
    return int(total), [detached(r._mapping) for r in rows]


def _filtered(principal: Principal, f: AlarmFilter, area_path: str | None) -> Select[Any]:
    conditions = [ALARMS.c.area_path.startswith(principal.scope_path, autoescape=True)]
    if f.active is not None:
        conditions.append(ALARMS.c.active.is_(f.active))
    if f.acknowledged is not None:
        conditions.append(ALARMS.c.acknowledged.is_(f.acknowledged))
    if f.severities:
        conditions.append(ALARMS.c.severity.in_(sorted(f.severities)))
    if f.types:
        conditions.append(ALARMS.c.alarm_type.in_(sorted(f.types)))
    if f.place and area_path:
        conditions.append(ALARMS.c.area_path.startswith(area_path, autoescape=True))
    elif f.place:
        conditions.append(ALARMS.c.place_codes.contains(f"/{f.place}/", autoescape=True))
    if f.device_id:
        conditions.append(ALARMS.c.device_id == f.device_id)
    if f.household:
        conditions.append(ALARMS.c.household == f.household)
    if f.assignee_user_id is not None:
        conditions.append(ALARMS.c.assignee_user_id == f.assignee_user_id)
    return select(ALARMS).where(and_(*conditions))


def counts(conn: Connection, principal: Principal) -> dict[str, dict[str, int]]:
    """For each severity, how many alarms in scope are in each status (all severities and statuses present)."""
    out = {s.value: dict.fromkeys(STATUSES, 0) for s in Severity}
    stmt = (select(ALARMS.c.severity, ALARMS.c.active, ALARMS.c.acknowledged, func.count())
            .where(ALARMS.c.area_path.startswith(principal.scope_path, autoescape=True))
            .group_by(ALARMS.c.severity, ALARMS.c.active, ALARMS.c.acknowledged))
    for severity, active, acknowledged, n in conn.execute(stmt):
        out.setdefault(severity, dict.fromkeys(STATUSES, 0))[status_code(bool(active), bool(acknowledged))] += n
    return out


def _covers(area_path: str) -> Any:
    """The user's scope path is a prefix of the place's path (paths hold digits and slashes only)."""
    return literal(area_path).startswith(AreaRow.path)


def assignees(conn: Connection, area_path: str, limit: int = 200) -> list[tuple[int, str, str]]:
    """(id, display name, role) of active people who may take an alarm at this place: their scope covers it."""
    stmt = (select(UserRow.id, UserRow.display_name, UserRow.role)
            .join(AreaRow, AreaRow.code == UserRow.scope_code)
            .where(UserRow.is_active.is_(True), UserRow.role.in_(sorted(r.value for r in ASSIGNABLE)),
                   _covers(area_path))
            .order_by(UserRow.role, UserRow.display_name, UserRow.id).limit(limit))
    return [(int(i), str(name), str(role)) for i, name, role in conn.execute(stmt)]


def assignee_ok(conn: Connection, user_id: int, area_path: str) -> bool:
    """True when the user is active, may take alarms, and their scope covers the place."""
    stmt = (select(UserRow.id).join(AreaRow, AreaRow.code == UserRow.scope_code)
            .where(UserRow.id == user_id, UserRow.is_active.is_(True),
                   UserRow.role.in_(sorted(r.value for r in ASSIGNABLE)), _covers(area_path)))
    return conn.execute(stmt).first() is not None
