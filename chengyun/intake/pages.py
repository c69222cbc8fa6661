"""The two phone-sized pages of intake: the grid worker's (基层上报, signed in) and the resident's (群众上报, open).

Both are server-rendered and work without any CDN; `static/phone.js` keeps unsent reports in the phone's storage
and re-sends them with the same idempotency key until the server answers (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chengyun.auth.model import Principal, Role
from chengyun.bootstrap import Container
from chengyun.cases.model import OPEN_STATES, Action, CaseState, Rating, allowed_actions
from chengyun.cases.repository import to_aggregate
from chengyun.cases.service import actor_of
from chengyun.cases.tables import CaseRow
from chengyun.errors import DomainError, Forbidden, NotFound
from chengyun.i18n import translate
from chengyun.intake import grid_map
from chengyun.intake.grid_map import task_level
from chengyun.intake.public_api import public_principal, rate_limited
from chengyun.intake.tracking import public_view, token_for_case
from chengyun.patrol.api import area_name
from chengyun.web.deps import AppContainer, CurrentPrincipal, get_locale
from chengyun.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)
PHONE_ACTIONS = (Action.SELF_HANDLE, Action.VERIFY_PASS, Action.VERIFY_FAIL, Action.SUBMIT_RESULT)
"""What a phone offers on a case, where the transition table lets the viewer's role take it."""
TASKS_SHOWN = 30
JS_MESSAGES = ("sending", "queued", "retrying", "sent", "failed", "offline", "gps_wait", "gps_failed", "gps_denied",
               "accuracy", "uploading", "uploaded", "photo_failed", "need_location", "need_description",
               "case_number", "waiting", "track", "checked_in", "self_handled", "self_handle_refused", "done",
               "pick_on_map", "picked", "pending_count", "rated", "outside", "nearby_heading", "nearby_distance",
               "nearby_follow", "nearby_following")


def messages(locale: str) -> dict[str, str]:
    """The translated sentences the phone scripts show (they hold no text of their own)."""
    return {key: translate(f"phone.js.{key}", locale) for key in JS_MESSAGES}


def _grid_worker(request: Request, principal: Principal) -> Response | None:
    """Grid workers go on; residents are sent to their own page; anyone else is told whose page this is."""
    if principal.role is Role.GRID_WORKER:
        return None
    if principal.role is Role.RESIDENT:
        return RedirectResponse("/report", status_code=303)
    raise Forbidden("phone.grid_workers_only", role=principal.role.value)


def phone_actions(container: Container, principal: Principal, row: CaseRow) -> list[str]:
    """The phone actions the table allows this viewer on the case (自办自结 only where the category allows it)."""
    allowed = set(allowed_actions(to_aggregate(row), actor_of(principal)))
    offered = [a for a in PHONE_ACTIONS if a in allowed]
    if Action.SELF_HANDLE in offered and not container.categories.get(row.category_code).self_handle:
        offered.remove(Action.SELF_HANDLE)
    return [a.value for a in offered]


@router.get("/grid", response_class=HTMLResponse)
def grid_home(request: Request, principal: CurrentPrincipal, container: AppContainer) -> Response:
    """One screen: report (photo, GPS, category), my open tasks as a list and on a small map, patrol check-in."""
    if (away := _grid_worker(request, principal)) is not None:
        return away
    open_states = frozenset(s.value for s in OPEN_STATES)
    total, rows = container.cases.search(principal, states=open_states, limit=TASKS_SHOWN)
    now = container.clock.now()
    numbered = [(i, task_level(row, now), row) for i, row in enumerate(rows, start=1)]
    tasks = [{"index": i, "level": level, "case": row, "actions": phone_actions(container, principal, row)}
             for i, level, row in numbered]
    categories = [c for c in container.categories.catalogue() if c.is_item and c.active]
    recent = container.patrol.recent(principal, 5)
    checkins = [{"row": r, "area": area_name(container, r.area_code)} for r in recent]
    task_map = grid_map.build(container, principal, numbered, recent[0] if recent else None)
    context = {"tasks": tasks, "total": total, "checkins": checkins, "map": task_map,
               "categories": categories, "messages": messages(get_locale(request))}
    return render(request, "grid_home.html", context)


@router.get("/grid/cases/{number}", response_class=HTMLResponse)
def grid_case(number: str, request: Request, principal: CurrentPrincipal, container: AppContainer) -> Response:
    """One task on the phone: what and where, its timeline, and the actions the worker may take, with photos."""
    if (away := _grid_worker(request, principal)) is not None:
        return away
    row, steps = container.cases.get(principal, number)
    context = {"case": row, "steps": steps, "actions": phone_actions(container, principal, row),
               "category": _category_name(container, row.category_code),
               "messages": messages(get_locale(request))}
    return render(request, "grid_case.html", context)


def _category_name(container: Container, code: str) -> str:
    try:
        return container.categories.get(code).name
    except NotFound:
        return code


@router.get("/report", response_class=HTMLResponse)
def resident_report(request: Request, container: AppContainer) -> Response:
    """The resident's report form: no sign-in; the street's map for the place, or an address."""
    try:
        area = public_principal(container).scope_code
    except DomainError:
        area = ""
    context = {"area": area, "messages": messages(get_locale(request))}
    return render(request, "resident_report.html", context)


@router.get("/report/track", response_class=HTMLResponse)
def resident_track(request: Request, container: AppContainer, token: str = "", number: str = "",
                   phone4: str = "") -> Response:
    """Where a report stands (by its token, or by case number and the phone's last four digits): its state, the
    case's public timeline, and the rating form once closed."""
    view: dict[str, Any] | None = None
    if number and not token:  # guessing digits is rate-limited like every anonymous write
        rate_limited(request)
        token = token_for_case(container, number, phone4)
    if token:
        view = public_view(container, token.strip(), get_locale(request))
    context = {"view": view, "token": token, "ratings": [r.value for r in Rating],
               "closed": CaseState.CLOSED.value, "messages": messages(get_locale(request))}
    return render(request, "resident_track.html", context)
