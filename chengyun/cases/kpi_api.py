"""KPI endpoint of the loop: rates per community, level, unit, category, class or period, in the caller's scope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from chengyun.auth.model import Principal, Role
from chengyun.cases.kpis import KpiQuery, KpiReport, KpiRow, parse_group, parse_range
from chengyun.cases.rollup import kpis
from chengyun.errors import Forbidden
from chengyun.web.deps import AppContainer, CurrentPrincipal

router = APIRouter(prefix="/api/kpis", tags=["kpis"])


def row_json(row: KpiRow) -> dict[str, Any]:
    """One group: key, the counts behind the rates, and the rates (null when nothing to divide by)."""
    c = row.counts
    return {
        "key": row.key,
        "counts": {"cases": c.cases, "dispatched": c.dispatched, "responded": c.responded, "closed": c.closed,
                   "closed_with_due": c.closed_with_due, "closed_on_time": c.closed_on_time,
                   "eligible": c.eligible, "resolved": c.resolved, "rated": c.rated, "satisfied": c.satisfied,
                   "returned": c.returned, "with_phone": c.with_phone, "repeated": c.repeated,
                   "closed_by_level": dict(c.closed_by_level)},
        "response_rate": row.response_rate, "on_time_closure_rate": row.on_time_closure_rate,
        "resolution_rate": row.resolution_rate, "satisfaction_rate": row.satisfaction_rate,
        "return_rate": row.return_rate, "repeat_report_rate": row.repeat_report_rate,
        "avg_claim_hours": row.avg_claim_hours, "avg_handling_hours": row.avg_handling_hours,
        "closed_share_by_level": dict(row.closed_share_by_level),
    }


def report_json(result: KpiReport, first: str, last: str) -> dict[str, Any]:
    """The report: group kind, the local [from, to) dates, rows and total."""
    return {"group": result.query.group.value, "from": first, "to": last,
            "rows": [row_json(r) for r in result.rows], "total": row_json(result.total)}


def query_for(principal: Principal, group: str | None, start: str | None, end: str | None,
              container: AppContainer) -> tuple[KpiQuery, str, str]:
    """The caller's query (scope; a handler's unit) and its local [from, to) dates; residents are refused."""
    if principal.role == Role.RESIDENT:
        raise Forbidden("kpis.role_not_allowed", role=principal.role.value)
    kind = parse_group(group)
    tz = container.settings.tz
    first, last = parse_range(start, end, container.clock.now(), tz)
    unit = principal.unit_code if principal.role == Role.HANDLER else None
    query = KpiQuery.local(principal.scope_path, kind, first, last, tz, unit_code=unit)
    return query, first.isoformat(), last.isoformat()


@router.get("", summary="KPIs of the loop (response, on-time, resolution, satisfaction …) in your scope")
def get_kpis(principal: CurrentPrincipal, container: AppContainer,
             group: str | None = None,
             start: Annotated[str | None, Query(alias="from", description="local date YYYY-MM-DD")] = None,
             end: Annotated[str | None, Query(alias="to", description="local date YYYY-MM-DD, exclusive")] = None,
             ) -> dict[str, Any]:
    query, first, last = query_for(principal, group, start, end, container)
    with container.sessions() as session:
        result = kpis(session, query)
    return report_json(result, first, last)
