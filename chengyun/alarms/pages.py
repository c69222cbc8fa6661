"""The console's alarm pages (告警): the list in the viewer's scope and one alarm with its history and forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chengyun.alarms.model import MAX_NOTE, Operation, allowed_operations, codes_of
from chengyun.alarms.queries import AlarmFilter
from chengyun.alarms.repository import to_alarm
from chengyun.alarms.signals import Severity
from chengyun.alarms.tables import AlarmRow
from chengyun.auth.model import Principal
from chengyun.bootstrap import Container
from chengyun.demo.drill import DRILL_ROLES, SCENARIOS, drill_available
from chengyun.errors import Invalid
from chengyun.web.deps import AppContainer, CurrentPrincipal, get_locale
from chengyun.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)
PAGE_SIZE = 50
VIEWS: dict[str, tuple[bool | None, bool | None]] = {  # (active, acknowledged)
    "active": (True, None),
    "unacknowledged": (None, False),
    "all": (None, None),
}


def _view(container: Container, principal: Principal, row: AlarmRow, locale: str) -> dict[str, Any]:
    """What a row of the list (or the detail page) shows, with the operations the viewer may take."""
    kind = container.alarms.types.get(row.alarm_type)
    alarm = to_alarm(row.__dict__)
    return {"row": row, "type_name": kind.name(locale) if kind else row.alarm_type, "status": alarm.status,
            "places": codes_of(row.place_codes), "area": _area_name(container, row.area_code),
            "ops": [op.value for op in allowed_operations(alarm, principal.role)],
            "pulse": row.active and not row.acknowledged and row.severity == Severity.CRITICAL.value}


def _area_name(container: Container, code: str | None) -> str:
    if not code:
        return ""
    node = container.areas.index().node(code)
    return node.name if node is not None else code


@router.get("/alarms", response_class=HTMLResponse)
def alarm_list(request: Request, principal: CurrentPrincipal, container: AppContainer,
               view: str = "active", severity: Annotated[str, Query(max_length=16)] = "",
               place: Annotated[str, Query(max_length=40)] = "", page: int = 1) -> Response:
    """Alarms in scope: active (default), unacknowledged or all; by severity; below a place (area or place code)."""
    if view not in VIEWS:
        raise Invalid("pages.alarms.bad_view", view=view)
    page = max(1, page)
    active, acknowledged = VIEWS[view]
    filters = AlarmFilter(active, acknowledged, severities=frozenset({severity}) if severity else frozenset(),
                          place=place.strip() or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    total, rows = container.alarms.search(principal, filters)
    locale = get_locale(request)
    context = {"view": view, "views": list(VIEWS), "severity": severity, "severities": [s.value for s in Severity],
               "place": place, "alarms": [_view(container, principal, r, locale) for r in rows], "total": total,
               "page": page, "pages": max(1, -(-total // PAGE_SIZE)), "counts": container.alarms.counts(principal),
               "drill": SCENARIOS if drill_available(request) and principal.role in DRILL_ROLES else ()}
    return render(request, "alarms.html", context)


@router.get("/alarms/{alarm_id}", response_class=HTMLResponse)
def alarm_page(alarm_id: int, request: Request, principal: CurrentPrincipal, container: AppContainer) -> Response:
    """One alarm: facts, place, case link, its history, and the forms of what the viewer may do."""
    row, events = container.alarms.get(principal, alarm_id)
    view = _view(container, principal, row, get_locale(request))
    people = container.alarms.assignees(principal, alarm_id) if Operation.ASSIGN.value in view["ops"] else []
    names = {i: name for i, name, _ in people}
    return render(request, "alarm_detail.html", {"a": view, "events": events, "people": people, "names": names})


@router.post("/alarms/{alarm_id}/act", response_class=HTMLResponse)
def act_on_alarm(alarm_id: int, principal: CurrentPrincipal, container: AppContainer,
                 op: Annotated[str, Form()], version: Annotated[int, Form()],
                 note: Annotated[str, Form(max_length=MAX_NOTE)] = "", user_id: Annotated[str, Form()] = "",
                 back: Annotated[str, Form()] = "detail") -> Response:
    """Acknowledge, clear, comment or assign from a page; success goes back (303), a refusal shows the error page."""
    if op not in set(Operation):
        raise Invalid("alarms.unknown_operation", operation=op)
    service = container.alarms
    if op == Operation.ASSIGN:
        if not user_id.strip().isdigit():
            raise Invalid("alarms.assignee_required")
        service.assign(principal, alarm_id, int(user_id), note, version=version)
    elif op == Operation.COMMENT:
        service.comment(principal, alarm_id, note)
    elif op == Operation.CLEAR:
        service.clear(principal, alarm_id, note, version=version)
    else:
        service.acknowledge(principal, alarm_id, note, version=version)
    return RedirectResponse("/alarms" if back == "list" else f"/alarms/{alarm_id}", status_code=303)
