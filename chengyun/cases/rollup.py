"""The daily KPI rollup: additive counts per local day, place and grain, so a street's KPI page reads a few
thousand rows instead of every case in the window.

`refresh` rebuilds the days whose cases changed since the last refresh (all days the first time), in one
transaction; the scheduler inside `chengyun serve` and `chengyun jobs run-once` call it. `kpis` answers a query
from the rollup for the days before the last refresh and from the cases table for the rest (usually today), so
figures for past days are as fresh as the last refresh and today's are live. Queries the rollup cannot answer (a
handler's own unit, single category items, a scope below the community) read the cases table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    delete,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.orm import Session

from chengyun.areas.model import AreaLevel
from chengyun.areas.tables import AreaRow
from chengyun.cases.kpis import CLOSED_LEVELS, GroupBy, KpiCounts, KpiQuery, KpiReport, report
from chengyun.cases.queries import counts_of, live_groups, local_bucket, measures
from chengyun.cases.tables import CaseRow, KpiDailyRow, KpiRollupStateRow

STATE_ID = 1
# a step that read its clock before the last refresh may commit just after it: look back a little further
DIRTY_MARGIN = timedelta(minutes=2)
DAYS_PER_STATEMENT = 50
GRAIN_OF = {GroupBy.COMMUNITY: "level", GroupBy.LEVEL: "level", GroupBy.UNIT: "unit", GroupBy.CLASS: "class",
            GroupBy.DAY: "level", GroupBy.WEEK: "level", GroupBy.MONTH: "level"}
COARSE_SCOPES = frozenset(level.value for level in AreaLevel if level.depth <= AreaLevel.COMMUNITY.depth)
COUNT_NAMES = ("cases", "dispatched", "responded", "closed", "closed_with_due", "closed_on_time", "eligible",
               "resolved", "rated", "satisfied", "returned", "with_phone", "repeated", "claim_n", "claim_hours",
               "handling_n", "handling_hours", *(f"closed_{lv}" for lv in CLOSED_LEVELS))


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What one refresh did: a full rebuild, or how many changed days; the rollup's size afterwards."""

    full: bool
    days: int
    rows: int


def _grain_key(grain: str) -> SQLColumnExpression[Any]:
    return {"level": CaseRow.handling_level, "unit": CaseRow.lead_unit,
            "class": func.substr(CaseRow.category_code, 1, 2)}[grain]


def _rollup_select(dialect: str, offset: int, grain: str, where: Iterable[ColumnElement[bool]]) -> Select[Any]:
    place = func.coalesce(CaseRow.community_code, CaseRow.area_code)
    return (select(local_bucket(dialect, GroupBy.DAY, offset).label("day"), literal(grain).label("grain"),
                   _grain_key(grain).label("key"), place.label("place_code"),
                   CaseRow.community_code.label("community_code"), *measures(dialect))
            .where(*where)
            .group_by(literal_column("day"), literal_column("key"), literal_column("place_code"),
                      CaseRow.community_code))


def _day_range(day: date, offset: int) -> ColumnElement[bool]:
    start = datetime.combine(day, time(), UTC) - timedelta(minutes=offset)
    return and_(CaseRow.reported_at >= start, CaseRow.reported_at < start + timedelta(days=1))


def _rebuild(session: Session, dialect: str, offset: int, days: list[date] | None) -> None:
    """Delete and recompute the rollup rows of `days` (None: all of them)."""
    columns = ["day", "grain", "key", "place_code", "community_code", *COUNT_NAMES]
    chunks: list[list[date] | None] = [None] if days is None else [
        days[i:i + DAYS_PER_STATEMENT] for i in range(0, len(days), DAYS_PER_STATEMENT)]
    for chunk in chunks:
        if chunk is None:
            session.execute(delete(KpiDailyRow))
            where: list[ColumnElement[bool]] = []
        else:
            session.execute(delete(KpiDailyRow).where(KpiDailyRow.day.in_([d.isoformat() for d in chunk])))
            where = [or_(*(_day_range(d, offset) for d in chunk))]
        for grain in ("level", "unit", "class"):
            session.execute(insert(KpiDailyRow).from_select(columns, _rollup_select(dialect, offset, grain, where)))


def _dirty_days(session: Session, dialect: str, offset: int, since: datetime) -> list[date]:
    day = local_bucket(dialect, GroupBy.DAY, offset)
    found = session.scalars(select(day).where(CaseRow.updated_at >= since).distinct())
    return sorted(date.fromisoformat(str(d)) for d in found)


def refresh(session: Session, now: datetime, offset: int, *, full: bool = False) -> RefreshReport:
    """Bring the rollup up to date with the cases as of `now` (caller commits); serialised by the state row."""
    dialect = session.get_bind().dialect.name
    state = session.scalars(select(KpiRollupStateRow).where(KpiRollupStateRow.id == STATE_ID)
                            .with_for_update()).first()
    days = None
    if not full and state is not None and state.utc_offset_minutes == offset:
        days = _dirty_days(session, dialect, offset, state.refreshed_at - DIRTY_MARGIN)
    _rebuild(session, dialect, offset, days)
    if state is None:
        session.add(KpiRollupStateRow(id=STATE_ID, refreshed_at=now, utc_offset_minutes=offset))
    else:
        state.refreshed_at, state.utc_offset_minutes = now, offset
    rows = session.scalar(select(func.count()).select_from(KpiDailyRow)) or 0
    return RefreshReport(days is None, -1 if days is None else len(days), rows)


# --- reading -----------------------------------------------------------------------------------------


def _period_key(dialect: str, group: GroupBy) -> SQLColumnExpression[Any]:
    """The period bucket of a stored local day (text YYYY-MM-DD)."""
    day = KpiDailyRow.day
    if group == GroupBy.DAY:
        return day
    if group == GroupBy.MONTH:
        return func.substr(day, 1, 7).op("||")(literal("-01"))
    if dialect == "sqlite":
        return func.date(day, "-6 days", "weekday 1")
    return func.to_char(func.date_trunc("week", func.to_date(day, "YYYY-MM-DD")), "YYYY-MM-DD")


def _rollup_key(dialect: str, group: GroupBy) -> SQLColumnExpression[Any]:
    if group.is_period:
        return _period_key(dialect, group)
    if group == GroupBy.COMMUNITY:
        return KpiDailyRow.community_code
    return KpiDailyRow.key


def rollup_statement(dialect: str, query: KpiQuery, first: date, last: date) -> Select[Any]:
    """Per-group sums of the stored days [first, last) in the query's scope."""
    stmt = (select(_rollup_key(dialect, query.group).label("k"),
                   *(func.sum(getattr(KpiDailyRow, name)).label(name) for name in COUNT_NAMES))
            .where(KpiDailyRow.grain == GRAIN_OF[query.group], KpiDailyRow.day >= first.isoformat(),
                   KpiDailyRow.day < last.isoformat())
            .group_by(literal_column("k")))
    if query.scope_path != "/":
        stmt = stmt.join(AreaRow, AreaRow.code == KpiDailyRow.place_code).where(
            AreaRow.path.startswith(query.scope_path, autoescape=True))
    return stmt


def _coverage(session: Session, query: KpiQuery) -> KpiRollupStateRow | None:
    """The rollup's state when it can answer this query (scope, unit, group and time zone allow it), else None."""
    if query.unit_code or query.group not in GRAIN_OF:
        return None
    state = session.get(KpiRollupStateRow, STATE_ID)
    if state is None or state.utc_offset_minutes != query.utc_offset_minutes:
        return None
    if query.scope_path != "/":
        scope_code = query.scope_path.rstrip("/").rsplit("/", 1)[-1]
        if session.scalar(select(AreaRow.level).where(AreaRow.code == scope_code)) not in COARSE_SCOPES:
            return None
    return state


def kpis(session: Session, query: KpiQuery) -> KpiReport:
    """The KPI report of one query: rolled-up past days plus live recent days, rows per group and the total."""
    return _report(session, query, _coverage(session, query))


def _report(session: Session, query: KpiQuery, coverage: KpiRollupStateRow | None) -> KpiReport:
    first, last = query.local_days
    # the rollup answers for the local days before its last refresh's day; later days are read live
    until = None if coverage is None else (coverage.refreshed_at
                                           + timedelta(minutes=coverage.utc_offset_minutes)).date()
    if until is None or until <= first:
        return report(query, live_groups(session, query))
    dialect = session.get_bind().dialect.name
    groups: list[tuple[str | None, KpiCounts]] = [
        (None if r.k is None else str(r.k), counts_of(r))
        for r in session.execute(rollup_statement(dialect, query, first, min(until, last)))]
    if until < last:
        groups += live_groups(session, query.from_day(until))
    return report(query, groups)


@dataclass(frozen=True, slots=True)
class KpiOverview:
    """What the KPI page shows: by place (or category class for a unit), by handling level, by day."""

    by_place: KpiReport
    by_level: KpiReport
    by_day: KpiReport
    rolled_up_at: datetime | None  # past days are as of this refresh (None: everything was read live)


def overview(session: Session, query: KpiQuery) -> KpiOverview:
    """The KPI page's three reports for one scope and window; whether the rollup can answer is decided once."""
    place = GroupBy.CLASS if query.unit_code else GroupBy.COMMUNITY
    coverage = _coverage(session, replace(query, group=place))  # all three groups use the same grains' rules
    by = {group: _report(session, replace(query, group=group), coverage)
          for group in (place, GroupBy.LEVEL, GroupBy.DAY)}
    return KpiOverview(by[place], by[GroupBy.LEVEL], by[GroupBy.DAY],
                       coverage.refreshed_at if coverage is not None else None)
