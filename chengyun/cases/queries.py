"""Read-side queries of the loop: the KPI aggregates straight from the cases, on SQLite and PostgreSQL.

`measures` is the one definition of the counts; the daily rollup (`cases.rollup`) stores the same expressions.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, extract, func, literal_column, null, select, true
from sqlalchemy.orm import Session

from chengyun.cases.kpis import CLOSED_LEVELS, GroupBy, KpiCounts, KpiQuery
from chengyun.cases.model import CaseState, Rating
from chengyun.cases.tables import CaseRow

S = CaseState
RESOLVED = (S.CLOSED.value, S.FOLLOWED_UP.value)
NOT_ELIGIBLE = (S.REPORTED.value, S.VERIFYING.value, S.REJECTED.value, S.MERGED.value)
SATISFIED = (Rating.SATISFIED.value, Rating.BASICALLY_SATISFIED.value)


def _cohort(query: KpiQuery) -> list[ColumnElement[bool]]:
    """The caller's scope (a handler: their unit's cases) and the report window."""
    where = [CaseRow.reported_at >= query.start, CaseRow.reported_at < query.end]
    if query.unit_code:
        where.append(CaseRow.lead_unit == query.unit_code)
    else:
        where.append(CaseRow.area_path.startswith(query.scope_path, autoescape=True))
    return where


def _hours(dialect: str, later: Any, earlier: Any) -> ColumnElement[Any]:
    """later - earlier in hours: julianday on SQLite, epoch seconds on PostgreSQL."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 24.0
    return extract("epoch", later - earlier) / 3600.0


def local_bucket(dialect: str, group: GroupBy, offset_minutes: int) -> ColumnElement[str]:
    """The first local date of reported_at's day, ISO week (Monday) or month, as YYYY-MM-DD text."""
    if dialect == "sqlite":
        shifted = func.datetime(CaseRow.reported_at, f"{offset_minutes:+d} minutes")
        if group == GroupBy.DAY:
            return func.strftime("%Y-%m-%d", shifted)
        if group == GroupBy.WEEK:
            return func.date(shifted, "-6 days", "weekday 1")
        return func.strftime("%Y-%m-01", shifted)
    local = func.timezone("UTC", CaseRow.reported_at) + timedelta(minutes=offset_minutes)
    return func.to_char(func.date_trunc(group.value, local), "YYYY-MM-DD")


def _key(dialect: str, query: KpiQuery) -> Any:
    """The grouping expression (a column, a prefix, or a local period bucket)."""
    group = query.group
    if group.is_period:
        return local_bucket(dialect, group, query.utc_offset_minutes)
    if group == GroupBy.CLASS:
        return func.substr(CaseRow.category_code, 1, 2)
    column = {GroupBy.COMMUNITY: CaseRow.community_code, GroupBy.LEVEL: CaseRow.handling_level,
              GroupBy.UNIT: CaseRow.lead_unit, GroupBy.CATEGORY: CaseRow.category_code}[group]
    # `|| ''` keeps NULL and the value, but stops SQLite from scanning the whole table in the key's index order
    # (to skip a sort) instead of reading only the window through ix_cases_reported_at
    return column.op("||")(literal_column("''"))


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _avg_parts(hours: ColumnElement[Any], *present: Any) -> tuple[ColumnElement[int], ColumnElement[Any]]:
    both = and_(*(col.is_not(None) for col in present))
    return _count(both), func.sum(case((both, hours), else_=null()))


def measures(dialect: str) -> list[ColumnElement[Any]]:
    """The additive counts behind every KPI, labelled as `KpiCounts` fields (closed_<level> per level)."""
    dispatched = CaseRow.dispatched_at.is_not(None)
    closed = CaseRow.closed_at.is_not(None)
    claim = _avg_parts(_hours(dialect, CaseRow.claimed_at, CaseRow.dispatched_at),
                       CaseRow.claimed_at, CaseRow.dispatched_at)
    handling = _avg_parts(_hours(dialect, CaseRow.closed_at, CaseRow.dispatched_at),
                          CaseRow.closed_at, CaseRow.dispatched_at)
    return [
        func.count().label("cases"),
        _count(dispatched).label("dispatched"),
        _count(and_(dispatched, CaseRow.claimed_at <= CaseRow.claim_due)).label("responded"),
        _count(closed).label("closed"),
        _count(and_(closed, CaseRow.handling_due.is_not(None))).label("closed_with_due"),
        _count(and_(closed, CaseRow.closed_at <= CaseRow.handling_due)).label("closed_on_time"),
        _count(CaseRow.state.not_in(NOT_ELIGIBLE)).label("eligible"),
        _count(CaseRow.state.in_(RESOLVED)).label("resolved"),
        _count(CaseRow.rating.is_not(None)).label("rated"),
        _count(CaseRow.rating.in_(SATISFIED)).label("satisfied"),
        _count(and_(dispatched, CaseRow.returns > 0)).label("returned"),
        _count(CaseRow.reporter_phone_hash.is_not(None)).label("with_phone"),
        _count(CaseRow.repeat_report == true()).label("repeated"),
        claim[0].label("claim_n"), func.coalesce(claim[1], 0.0).label("claim_hours"),
        handling[0].label("handling_n"), func.coalesce(handling[1], 0.0).label("handling_hours"),
        *(_count(and_(closed, CaseRow.handling_level == lv)).label(f"closed_{lv}") for lv in CLOSED_LEVELS),
    ]


def kpi_statement(dialect: str, query: KpiQuery) -> Select[Any]:
    """One aggregate over the cohort, grouped by the query's key."""
    return (select(_key(dialect, query).label("k"), *measures(dialect))
            .where(*_cohort(query))
            .group_by(literal_column("k")))  # the alias: constants in the key are bound parameters


def counts_of(row: Any) -> KpiCounts:
    """KpiCounts from a row labelled like `measures`."""
    m = row._mapping
    ints = ("cases", "dispatched", "responded", "closed", "closed_with_due", "closed_on_time", "eligible",
            "resolved", "rated", "satisfied", "returned", "with_phone", "repeated", "claim_n", "handling_n")
    return KpiCounts(**{name: int(m[name] or 0) for name in ints},
                     claim_hours=float(m["claim_hours"] or 0.0), handling_hours=float(m["handling_hours"] or 0.0),
                     closed_by_level={lv: int(m[f"closed_{lv}"] or 0) for lv in CLOSED_LEVELS})


def live_groups(session: Session, query: KpiQuery) -> list[tuple[str | None, KpiCounts]]:
    """Per-group counts straight from the cases table."""
    rows = session.execute(kpi_statement(session.get_bind().dialect.name, query)).all()
    return [(None if r.k is None else str(r.k), counts_of(r)) for r in rows]

