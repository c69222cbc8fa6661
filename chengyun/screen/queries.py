"""The big screen's queries of the loop: panel and layer sources over cases and check-ins, and the case tails.

Every source takes a `Context` (a session, the focus area's path — already checked against the caller's scope —
the clock's now and the local zone) and returns a value of `screen.model`. The KPI figures come from the loop's
own definitions (`cases.kpis`, `cases.rollup`), the overdue rule from the overdue board (`cases.pages`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from chengyun.areas.tables import AreaRow
from chengyun.auth.tables import UserRow
from chengyun.cases.kpis import GroupBy, KpiQuery, KpiReport
from chengyun.cases.model import OPEN_STATES, CaseState
from chengyun.cases.rollup import kpis as kpi_report
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.patrol.tables import CheckinRow
from chengyun.places.tables import PlaceRow
from chengyun.screen.model import Event, Intake, LayerPoint, Trend, case_class
from chengyun.screen.panels import KPI_DAYS, RESOURCE_PALETTE
from chengyun.triage.hot import HotIssue

MAX_POINTS = 20_000  # the most cases one layer draws (the newest); the district's open cases fit
WORKER_WINDOW = timedelta(days=7)  # a check-in older than this is no position any more
WORKER_FRESH = timedelta(hours=2)
ON_MAP = sorted(s.value for s in OPEN_STATES - {CaseState.MERGED})
# the overdue board's clocked states (cases.pages.CLOCKED, which imports the composition root: a test keeps
# the two equal): open cases whose clock runs — a suspended case is paused, a merged one lives on in its main case
CLOCKED = frozenset(OPEN_STATES - {CaseState.SUSPENDED, CaseState.MERGED})


@dataclass(frozen=True, slots=True)
class Context:
    """What a source needs: a session, the focus area's path, now, the local zone, and the hot-issue analysis."""

    session: Session
    path: str
    now: datetime
    tz: ZoneInfo
    hot: Callable[[], Sequence[HotIssue]] = tuple

    def local_midnight(self, days_back: int = 0) -> datetime:
        """The start of the local day `days_back` days before today, as an aware UTC-comparable datetime."""
        today = self.now.astimezone(self.tz).date() - timedelta(days=days_back)
        return datetime.combine(today, time(), self.tz)


def _in(path: str) -> Any:
    return CaseRow.area_path.startswith(path, autoescape=True)


def today(ctx: Context) -> Intake:
    """Cases reported since local midnight in the focus, by source and by category class."""
    klass = func.substr(CaseRow.category_code, 1, 2)
    rows = ctx.session.execute(
        select(CaseRow.source, klass.label("k"), func.count())
        .where(CaseRow.reported_at >= ctx.local_midnight(), CaseRow.reported_at <= ctx.now, _in(ctx.path))
        .group_by(CaseRow.source, klass)).all()
    by_source: dict[str, int] = {}
    by_class: dict[str, int] = {}
    for source, k, n in rows:
        by_source[source] = by_source.get(source, 0) + n
        by_class[k] = by_class.get(k, 0) + n
    return Intake(by_source, by_class)


def _kpis(ctx: Context, group: GroupBy, days: int) -> KpiReport:
    """The loop's KPI report for the last `days` local days (today included) in the focus."""
    last = ctx.now.astimezone(ctx.tz).date() + timedelta(days=1)
    first = last - timedelta(days=days)
    return kpi_report(ctx.session, KpiQuery.local(ctx.path, group, first, last, ctx.tz))


def kpis(ctx: Context) -> KpiReport:
    """The three rates, on-time rate, average times and closed share per level of the last 30 days."""
    return _kpis(ctx, GroupBy.LEVEL, KPI_DAYS)


def overdue(ctx: Context) -> int:
    """Open cases whose clock runs and that are red on the sweep or past their handling due date (the board's)."""
    stmt = (select(func.count()).select_from(CaseRow)
            .where(CaseRow.state.in_(sorted(CLOCKED)), _in(ctx.path),
                   or_(CaseRow.deadline_level == "red", CaseRow.handling_due < ctx.now)))
    return int(ctx.session.scalar(stmt) or 0)


def trend(days: int) -> Callable[[Context], Trend]:
    """The source of a `days`-day trend: each local day's reported cases and those of them closed."""

    def source(ctx: Context) -> Trend:
        report = _kpis(ctx, GroupBy.DAY, days)
        counts = {r.key: r.counts for r in report.rows}
        last = ctx.now.astimezone(ctx.tz).date()
        keys = [(last - timedelta(days=days - 1 - i)).isoformat() for i in range(days)]
        return Trend(tuple(keys), tuple(counts[k].cases if k in counts else 0 for k in keys),
                     tuple(counts[k].closed if k in counts else 0 for k in keys))

    return source


def hot(ctx: Context) -> Sequence[HotIssue]:
    """The hot issues of the focus (triage's HotService, run by the screen service with the focus as scope)."""
    return ctx.hot()


def open_cases(ctx: Context) -> list[LayerPoint]:
    """Open cases with a point in the focus (the newest MAX_POINTS), classed by state and deadline."""
    rows = ctx.session.execute(
        select(CaseRow.number, CaseRow.title, CaseRow.lon, CaseRow.lat, CaseRow.state, CaseRow.deadline_level,
               CaseRow.handling_due)
        .where(CaseRow.state.in_(ON_MAP), _in(ctx.path), CaseRow.lon.is_not(None), CaseRow.lat.is_not(None))
        .order_by(CaseRow.id.desc()).limit(MAX_POINTS)).all()
    points = []
    for r in rows:
        cls = case_class(r.state, r.deadline_level, r.handling_due, ctx.now)
        if cls is not None:
            points.append(LayerPoint(r.lon, r.lat, r.number, r.title, cls))
    return points


def workers(ctx: Context) -> list[LayerPoint]:
    """Each grid worker's latest check-in of the last 7 days that lies in the focus; fresh within 2 hours. A click
    opens the case queue of the worker's own area (their grid's cases)."""
    latest = (select(func.max(CheckinRow.id).label("id")).where(CheckinRow.at >= ctx.now - WORKER_WINDOW)
              .group_by(CheckinRow.user_id).subquery())
    rows = ctx.session.execute(
        select(CheckinRow.user_id, CheckinRow.lon, CheckinRow.lat, CheckinRow.at, UserRow.display_name,
               UserRow.scope_code)
        .join(latest, latest.c.id == CheckinRow.id).join(UserRow, UserRow.id == CheckinRow.user_id)
        .join(AreaRow, AreaRow.code == CheckinRow.area_code)
        .where(AreaRow.path.startswith(ctx.path, autoescape=True)).order_by(CheckinRow.user_id)).all()
    return [LayerPoint(r.lon, r.lat, f"user:{r.user_id}",
                       f"{r.display_name} {r.at.astimezone(ctx.tz):%H:%M}",
                       "fresh" if r.at >= ctx.now - WORKER_FRESH else "stale",
                       link=f"/cases?area={r.scope_code}") for r in rows]


def resources(ctx: Context) -> list[LayerPoint]:
    """The emergency resources in the focus (points of interest of the resource categories), by category; a click
    opens the case queue of the resource's area."""
    rows = ctx.session.execute(
        select(PlaceRow.code, PlaceRow.name, PlaceRow.category, PlaceRow.lon, PlaceRow.lat, PlaceRow.area_code)
        .join(AreaRow, AreaRow.code == PlaceRow.area_code)
        .where(PlaceRow.kind == "poi", PlaceRow.category.in_(sorted(RESOURCE_PALETTE)),
               AreaRow.path.startswith(ctx.path, autoescape=True))
        .order_by(PlaceRow.category, PlaceRow.code).limit(MAX_POINTS)).all()
    return [LayerPoint(r.lon, r.lat, r.code, r.name, r.category, link=f"/cases?area={r.area_code}") for r in rows]


# --- live events -------------------------------------------------------------------------------------

_CASE_COLUMNS = (CaseRow.id, CaseRow.number, CaseRow.title, CaseRow.state, CaseRow.area_path, CaseRow.community_code,
                 CaseRow.lon, CaseRow.lat, CaseRow.deadline_level, CaseRow.handling_due, CaseRow.reported_at,
                 CaseRow.source, CaseRow.category_code)


def _case_event(r: Any, now: datetime, **fields: Any) -> Event:
    return Event(area_path=r.area_path, number=r.number, title=r.title, state=r.state, layer="cases",
                 point_id=r.number,
                 community_code=r.community_code, lon=r.lon, lat=r.lat,
                 cls=case_class(r.state, r.deadline_level, r.handling_due, now),
                 data={"source": r.source, "category": r.category_code}, **fields)


def _fresh(column: Any, after: int, gaps: Sequence[int]) -> Any:
    return or_(column > after, column.in_(gaps)) if gaps else column > after


def case_tail(session: Session, after: int, gaps: Sequence[int], now: datetime, limit: int, path: str = "/",
              latest: bool = False) -> list[Event]:
    """New cases (id > after, or a missed id) as `case.new` events, oldest first; `latest`: the newest `limit`."""
    stmt = select(*_CASE_COLUMNS).where(_in(path))
    stmt = (stmt.order_by(CaseRow.id.desc()) if latest
            else stmt.where(_fresh(CaseRow.id, after, gaps)).order_by(CaseRow.id)).limit(limit)
    rows = session.execute(stmt).all()
    events = [_case_event(r, now, tail="cases", seq=r.id, kind="case.new", at=r.reported_at) for r in rows]
    return events[::-1] if latest else events


def step_tail(session: Session, after: int, gaps: Sequence[int], now: datetime, limit: int, path: str = "/",
              latest: bool = False) -> list[Event]:
    """New timeline steps as `case.step` events (with the case's current map class), oldest first."""
    stmt = (select(TimelineRow.id.label("step_id"), TimelineRow.action, TimelineRow.from_state,
                   TimelineRow.to_state, TimelineRow.at, *_CASE_COLUMNS)
            .join(CaseRow, CaseRow.id == TimelineRow.case_id).where(_in(path)))
    stmt = (stmt.order_by(TimelineRow.id.desc()) if latest
            else stmt.where(_fresh(TimelineRow.id, after, gaps)).order_by(TimelineRow.id)).limit(limit)
    rows = session.execute(stmt).all()
    events = [replace(_case_event(r, now, tail="steps", seq=r.step_id, kind="case.step", at=r.at),
                      action=r.action, from_state=r.from_state, state=r.to_state) for r in rows]
    return events[::-1] if latest else events
