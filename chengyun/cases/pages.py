"""Server-rendered pages of the loop: the queue, one case with its timeline and action forms, the overdue board."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chengyun.auth.model import Principal
from chengyun.bootstrap import Container
from chengyun.cases.model import ALLOWED, OPEN_STATES, Action, CaseState, Rating, allowed_actions
from chengyun.cases.model import Request as ActionRequest
from chengyun.cases.repository import to_aggregate
from chengyun.cases.service import actor_of
from chengyun.cases.tables import CaseRow
from chengyun.errors import DomainError, Invalid, NotFound
from chengyun.i18n import labelled, translate
from chengyun.triage.api import unit_json
from chengyun.triage.units_service import ADVISED
from chengyun.web.deps import AppContainer, CurrentPrincipal, get_locale
from chengyun.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

S = CaseState
PAGE_SIZE = 20
BOARD_MAX = 500  # the overdue board shows at most this many cases, the longest overdue first
TABS: dict[str, frozenset[str]] = {
    "all": frozenset(),
    "triage": frozenset({S.REPORTED, S.VERIFYING, S.REGISTERED, S.RETURNED}),
    "active": frozenset({S.DISPATCHED, S.CLAIMED, S.HANDLING, S.RESULT_SUBMITTED, S.VERIFIED}),
    "done": frozenset({S.CLOSED, S.FOLLOWED_UP, S.REJECTED}),
    "overdue": frozenset(),
}
# open cases whose clock runs: a suspended case's deadline is paused, a merged one lives on in its main case
CLOCKED = frozenset(OPEN_STATES - {S.SUSPENDED, S.MERGED})
# actions that take extra input on the page, beyond the note
EXTRA_FIELDS: dict[Action, str] = {
    Action.FOLLOW_UP: "rating", Action.REQUEST_EXTENSION: "limit", Action.MERGE: "main_case",
    Action.REDISPATCH: "lead_unit",
}
DANGER = frozenset({Action.REJECT, Action.RETURN, Action.VERIFY_FAIL, Action.SUSPEND})
SIDE_FLOWS = frozenset({Action.REDISPATCH, Action.REQUEST_EXTENSION, Action.SUSPEND, Action.URGE, Action.ESCALATE,
                        Action.MERGE})


def is_overdue(row: CaseRow, now: datetime) -> bool:
    """Red on the deadline sweep, or past its handling due date, while the case's clock runs."""
    if row.state not in CLOCKED:
        return False
    return row.deadline_level == "red" or (row.handling_due is not None and row.handling_due < now)


def _overdue(container: Container, principal: Principal, limit: int, offset: int = 0,
             area_path: str | None = None) -> tuple[int, list[CaseRow]]:
    """Open cases whose clock runs and that are red or past due, in scope, longest overdue first (one SQL query)."""
    return container.cases.search(principal, states=CLOCKED, overdue_at=container.clock.now(), area_path=area_path,
                                  limit=limit, offset=offset)


class Names:
    """Display names for unit, community and category codes, falling back to the code itself."""

    def __init__(self, container: Container, principal: Principal) -> None:
        self._container = container
        try:
            self._units = {u["code"]: u["name"] for u in container.org.units(principal)}
        except DomainError:  # roles without the directory (residents) see codes
            self._units = {}

    def unit(self, code: str | None) -> str:
        """A unit's name, or its code when not in the caller's directory."""
        return self._units.get(code, code) if code else ""

    def area(self, code: str | None) -> str:
        """An area's name (names are public facts)."""
        if not code:
            return ""
        try:
            return self._container.areas.chain(code)[-1].name
        except DomainError:
            return code

    def category(self, code: str) -> str:
        """A category's name."""
        try:
            return self._container.categories.get(code).name
        except DomainError:
            return code


def _page_links(total: int, page: int) -> dict[str, int]:
    pages = max(1, -(-total // PAGE_SIZE))
    return {"page": page, "pages": pages, "total": total}


@router.get("/cases", response_class=HTMLResponse)
def case_queue(request: Request, principal: CurrentPrincipal, container: AppContainer,
               tab: str = "all", page: int = 1, area: Annotated[str, Query(max_length=20)] = "") -> Response:
    """The queue: tabs by state group (triage, in progress, done, overdue), newest first, paginated; `area` narrows
    it to one area of the caller's scope (a grid worker's grid, a resource's community — from the big screen)."""
    if tab not in TABS:
        raise Invalid("pages.cases.bad_tab", tab=tab)
    place = container.areas.get(principal, area) if area else None  # outside the scope: the same 404
    page = max(1, page)
    offset = (page - 1) * PAGE_SIZE
    path = place.path if place is not None else None
    if tab == "overdue":
        total, rows = _overdue(container, principal, PAGE_SIZE, offset, path)
    else:
        total, rows = container.cases.search(principal, states=TABS[tab], area_path=path, limit=PAGE_SIZE,
                                             offset=offset)
    now = container.clock.now()
    context = {"tab": tab, "tabs": list(TABS), "rows": rows, "names": Names(container, principal),
               "overdue": {r.number for r in rows if is_overdue(r, now)}, "area": place,
               "area_query": f"&area={place.code}" if place is not None else "", **_page_links(total, page)}
    return render(request, "cases_queue.html", context)


@router.get("/cases/overdue", response_class=HTMLResponse)
def overdue_board(request: Request, principal: CurrentPrincipal, container: AppContainer) -> Response:
    """Open cases past their handling due date, grouped by lead unit (the unit with the oldest first)."""
    total, rows = _overdue(container, principal, BOARD_MAX)
    groups: dict[str, list[CaseRow]] = {}
    for row in rows:
        groups.setdefault(row.lead_unit or "", []).append(row)
    context = {"groups": list(groups.items()), "total": total, "shown": len(rows),
               "names": Names(container, principal), "now": container.clock.now()}
    return render(request, "cases_overdue.html", context)


def _offered(row: CaseRow, action: Action) -> bool:
    """Hide forms whose guard is sure to refuse (the service still checks everything on submit)."""
    if action in (Action.APPROVE_EXTENSION, Action.DENY_EXTENSION):
        return bool(row.extension_pending)
    if action == Action.REQUEST_EXTENSION:
        return not row.extension_pending
    if action == Action.REOPEN:
        return row.rating == Rating.UNSATISFIED
    return True


def _forms(row: CaseRow, principal: Principal) -> list[dict[str, Any]]:
    """One form per action the table lets this viewer try; side flows are folded under "more"."""
    return [{"action": a.value, "needs_reason": ALLOWED[a].needs_reason, "extra": EXTRA_FIELDS.get(a),
             "danger": a in DANGER, "side": a in SIDE_FLOWS}
            for a in allowed_actions(to_aggregate(row), actor_of(principal)) if _offered(row, a)]


def _case_page(request: Request, principal: Principal, container: Container, number: str,
               error: str | None = None, status_code: int = 200, failed: str | None = None) -> Response:
    row, steps = container.cases.get(principal, number)
    forms = _forms(row, principal)
    context = {"case": row, "steps": steps, "forms": forms, "names": Names(container, principal),
               "unit_suggestions": _unit_suggestions(request, container, principal, number, forms),
               "duplicates": _merge_proposals(container, principal, row, forms),
               "merged": container.cases.merged_into(principal, number),
               "ratings": [r.value for r in Rating], "error": error, "failed_action": failed,
               "overdue": is_overdue(row, container.clock.now())}
    return render(request, "cases_detail.html", context, status_code=status_code)


def _unit_suggestions(request: Request, container: Container, principal: Principal, number: str,
                      forms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Who could lead the case, shown where the viewer can dispatch it (the duty list first, then history)."""
    if principal.role not in ADVISED or not {"dispatch", "redispatch"} & {f["action"] for f in forms}:
        return []
    suggestions, _ = container.unit_advisor.suggest(principal, number)
    names = {u["code"]: u["name"] for u in container.org.units(principal)}
    return [unit_json(s, names, get_locale(request)) for s in suggestions]


def _merge_proposals(container: Container, principal: Principal, row: CaseRow,
                     forms: list[dict[str, Any]]) -> list[Any]:
    """Open cases that look like the same problem (text, place, time), for a one-click merge into one of them."""
    if principal.role not in ADVISED or "merge" not in {f["action"] for f in forms}:
        return []
    return container.duplicates.similar_open_cases(row.description, row.lon, row.lat, category=row.category_code,
                                                   exclude_case=row.id)


@router.get("/cases/{number}", response_class=HTMLResponse)
def case_page(number: str, request: Request, principal: CurrentPrincipal, container: AppContainer) -> Response:
    """One case: details (phone masked), place, timeline, and the forms of the actions the viewer may take."""
    return _case_page(request, principal, container, number)


def _data(action: Action, fields: Iterable[tuple[str, str]]) -> dict[str, Any]:
    wanted = EXTRA_FIELDS.get(action)
    return {k: v.strip() for k, v in fields if k == wanted and v.strip()}


@router.post("/cases/{number}/act", response_class=HTMLResponse)
def act_on_case(number: str, request: Request, principal: CurrentPrincipal, container: AppContainer,
                action: Annotated[str, Form()], version: Annotated[int, Form()],
                note: Annotated[str, Form(max_length=2000)] = "", rating: Annotated[str, Form()] = "",
                limit: Annotated[str, Form()] = "", main_case: Annotated[str, Form()] = "",
                lead_unit: Annotated[str, Form()] = "") -> Response:
    """Take one step from the case page; success redirects back (303), a refusal re-renders with the reason."""
    try:
        if action not in set(Action):
            raise Invalid("cases.unknown_action", action=action)
        step = Action(action)
        data = _data(step, [("rating", rating), ("limit", limit), ("main_case", main_case),
                            ("lead_unit", lead_unit)])
        container.cases.act(principal, number, ActionRequest(step, note, (), data), version=version)
    except NotFound:
        raise
    except DomainError as exc:
        message = translate(exc.code, get_locale(request), **labelled(exc.params, get_locale(request)))
        return _case_page(request, principal, container, number, message, exc.http_status, action)
    return RedirectResponse(f"/cases/{number}", status_code=303)
