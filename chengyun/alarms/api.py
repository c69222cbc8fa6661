"""JSON endpoints of alarms: list with filters, counts, one alarm with its history, and people's operations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from chengyun.alarms.model import MAX_NOTE, allowed_operations, codes_of
from chengyun.alarms.queries import MAX_PAGE, AlarmFilter
from chengyun.alarms.repository import to_alarm
from chengyun.alarms.tables import AlarmEventRow, AlarmRow
from chengyun.bootstrap import Container
from chengyun.web.deps import AppContainer, CurrentPrincipal, Locale

router = APIRouter(prefix="/api/alarms", tags=["alarms"])


class NoteBody(BaseModel):
    """A note, and the version the caller saw (optional optimistic lock)."""

    note: str = Field("", max_length=MAX_NOTE)
    version: int | None = None


class AssignBody(NoteBody):
    """Whom to give the alarm to."""

    user_id: int


def alarm_json(container: Container, row: AlarmRow, locale: str = "zh-CN") -> dict[str, Any]:
    """An alarm as the API shows it."""
    kind = container.alarms.types.get(row.alarm_type)
    return {
        "id": row.id, "device_id": row.device_id, "rule_id": row.rule_id, "alarm_type": row.alarm_type,
        "type_name": kind.name(locale) if kind else row.alarm_type, "severity": row.severity,
        "active": row.active, "acknowledged": row.acknowledged, "status": to_alarm(row.__dict__).status,
        "first_at": row.first_at, "last_at": row.last_at, "count": row.count, "params": row.params,
        "acknowledged_at": row.acknowledged_at, "acknowledged_by": row.acknowledged_by,
        "cleared_at": row.cleared_at, "cleared_by": row.cleared_by, "clearer": row.clearer,
        "area_code": row.area_code, "place_codes": list(codes_of(row.place_codes)), "household": row.household,
        "assignee_user_id": row.assignee_user_id,
        "case": {"state": row.case_state, "number": row.case_number, "error": row.case_error},
        "version": row.version,
    }


def event_json(event: AlarmEventRow) -> dict[str, Any]:
    """One step of an alarm's history."""
    return {"kind": event.kind, "at": event.at, "actor": event.actor, "note": event.note, "data": event.data,
            "case_sync": event.case_sync}


@router.get("", summary="Alarms in your scope: active first, then the most severe, then the latest")
def list_alarms(principal: CurrentPrincipal, container: AppContainer, locale: Locale,
                active: bool | None = None, acknowledged: bool | None = None,
                severity: Annotated[list[str] | None, Query()] = None,
                types: Annotated[list[str] | None, Query(alias="type")] = None,
                place: Annotated[str | None, Query(max_length=40, description="area or place code")] = None,
                device: Annotated[str | None, Query(max_length=64)] = None,
                household: Annotated[str | None, Query(max_length=80)] = None,
                assignee: int | None = None,
                limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
                offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    filters = AlarmFilter(active, acknowledged, frozenset(severity or ()), frozenset(types or ()), place or None,
                          device or None, household or None, assignee, limit, offset)
    total, rows = container.alarms.search(principal, filters)
    return {"total": total, "items": [alarm_json(container, r, locale) for r in rows]}


@router.get("/counts", summary="Alarms in your scope by severity and status")
def alarm_counts(principal: CurrentPrincipal, container: AppContainer) -> dict[str, Any]:
    return {"by_severity": container.alarms.counts(principal)}


@router.get("/{alarm_id}", summary="One alarm with its history and the operations you may take")
def get_alarm(alarm_id: int, principal: CurrentPrincipal, container: AppContainer,
              locale: Locale) -> dict[str, Any]:
    row, events = container.alarms.get(principal, alarm_id)
    operations = [op.value for op in allowed_operations(to_alarm(row.__dict__), principal.role)]
    return {**alarm_json(container, row, locale), "history": [event_json(e) for e in events],
            "operations": operations}


@router.post("/{alarm_id}/acknowledge", summary="Acknowledge an alarm (once)")
def acknowledge(alarm_id: int, body: NoteBody, principal: CurrentPrincipal, container: AppContainer,
                locale: Locale) -> dict[str, Any]:
    row = container.alarms.acknowledge(principal, alarm_id, body.note, version=body.version)
    return alarm_json(container, row, locale)


@router.post("/{alarm_id}/clear", summary="Clear an active alarm by hand")
def clear(alarm_id: int, body: NoteBody, principal: CurrentPrincipal, container: AppContainer,
          locale: Locale) -> dict[str, Any]:
    return alarm_json(container, container.alarms.clear(principal, alarm_id, body.note, version=body.version), locale)


@router.post("/{alarm_id}/comment", summary="Comment on an alarm")
def comment(alarm_id: int, body: NoteBody, principal: CurrentPrincipal, container: AppContainer,
            locale: Locale) -> dict[str, Any]:
    return alarm_json(container, container.alarms.comment(principal, alarm_id, body.note), locale)


@router.post("/{alarm_id}/assign", summary="Give an active alarm to a person whose scope covers its place")
def assign(alarm_id: int, body: AssignBody, principal: CurrentPrincipal, container: AppContainer,
           locale: Locale) -> dict[str, Any]:
    row = container.alarms.assign(principal, alarm_id, body.user_id, body.note, version=body.version)
    return alarm_json(container, row, locale)
