"""The KPI page (绩效考核): the three rates and friends for the caller's scope over a chosen period."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from chengyun.cases.kpi_api import query_for, row_json
from chengyun.cases.kpis import CLOSED_LEVELS, MAX_DAYS, GroupBy, KpiReport
from chengyun.cases.pages import Names
from chengyun.cases.rollup import overview
from chengyun.web.deps import AppContainer, CurrentPrincipal
from chengyun.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)
PRESETS = (7, 30, 90, 365)


@router.get("/kpis", response_class=HTMLResponse)
def kpi_page(request: Request, principal: CurrentPrincipal, container: AppContainer,
             start: str | None = None, end: str | None = None,
             days: Annotated[int | None, Query(ge=1, le=MAX_DAYS)] = None) -> Response:
    """Rates for the whole scope, per community (a unit: per category class), per level, and the daily trend."""
    if days is not None and not start:  # a preset such as "the last 30 days", checked like any period
        last = container.clock.now().astimezone(container.settings.tz).date() + timedelta(days=1)
        start, end = (last - timedelta(days=days)).isoformat(), last.isoformat()
    query, first, last_day = query_for(principal, GroupBy.COMMUNITY.value, start, end, container)
    with container.sessions() as session:
        data = overview(session, query)
    trend = _trend(data.by_day, date.fromisoformat(first), date.fromisoformat(last_day))
    context: dict[str, Any] = {
        "first": first, "last": last_day, "shown_last": _day_before(last_day), "presets": PRESETS,
        "total": row_json(data.by_place.total), "by_place": [row_json(r) for r in data.by_place.rows],
        "place_kind": data.by_place.query.group.value, "by_level": [row_json(r) for r in data.by_level.rows],
        "levels": CLOSED_LEVELS, "trend_json": json.dumps(trend, ensure_ascii=False),
        "rolled_up_at": data.rolled_up_at, "names": Names(container, principal),
    }
    return render(request, "kpis.html", context)


def _trend(by_day: KpiReport, first: date, last: date) -> dict[str, list[Any]]:
    """Every day of the window with its cases reported and closed (0 on a quiet day), for the chart."""
    counts = {r.key: r.counts for r in by_day.rows}
    days = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days)]
    return {"days": days, "cases": [counts[d].cases if d in counts else 0 for d in days],
            "closed": [counts[d].closed if d in counts else 0 for d in days]}


def _day_before(iso_day: str) -> str:
    """The last day shown, for an exclusive end date."""
    return (date.fromisoformat(iso_day) - timedelta(days=1)).isoformat()
