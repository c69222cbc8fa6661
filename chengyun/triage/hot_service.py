"""Hot issues and surge warnings over the cases in the caller's scope (the console's 热点问题 and 激增预警)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from chengyun.auth.model import Principal, Role
from chengyun.cases.tables import CaseRow
from chengyun.errors import Forbidden
from chengyun.intake.tables import ReportRow
from chengyun.triage.hot import HotIssue, HotItem, hot_issues
from chengyun.triage.hot_surge import Surge, SurgeParams, surge_warnings

STAFF = frozenset({Role.ADMIN, Role.OPERATOR, Role.AUDITOR})  # who watches the whole scope
HISTORY = timedelta(weeks=9)  # a surge compares the last week with the eight before


@dataclass
class HotService:
    """Reads the scope's recent cases once and runs both analyses on them (pure functions)."""

    engine: Engine
    now: Callable[[], datetime]

    def analyse(self, principal: Principal, days: int = 30) -> tuple[list[HotIssue], list[Surge]]:
        """The hot issues of the last `days` and the surges of the last week (once 9 weeks of cases exist), in scope."""
        if principal.role not in STAFF:
            raise Forbidden("triage.hot.not_allowed", role=principal.role.value)
        end = self.now()
        items = self._items(principal.scope_path, end - max(HISTORY, timedelta(days=days)))
        surges = surge_warnings(items, end, SurgeParams()) if self._history_since(principal.scope_path, end) else []
        return hot_issues(items, end, days), surges

    def _history_since(self, scope_path: str, end: datetime) -> bool:
        """Whether the scope has cases from the whole comparison span (no history, no surge: all would be new)."""
        with self.engine.connect() as conn:
            first = conn.execute(select(func.min(CaseRow.reported_at))
                                 .where(CaseRow.area_path.startswith(scope_path, autoescape=True))).scalar()
        return first is not None and first <= end - HISTORY

    def _items(self, scope_path: str, since: datetime) -> list[HotItem]:
        """Cases as hot-issue items: the follow-ups that joined a case count as its support (likes)."""
        support = (select(ReportRow.case_id, func.count().label("n")).where(ReportRow.state == "joined")
                   .group_by(ReportRow.case_id).subquery())
        stmt = (select(CaseRow.id, CaseRow.number, CaseRow.title, CaseRow.description, CaseRow.reported_at,
                       CaseRow.reporter_phone_hash, CaseRow.community_code, CaseRow.area_code,
                       CaseRow.category_code, func.coalesce(support.c.n, 0).label("likes"))
                .outerjoin(support, support.c.case_id == CaseRow.id)
                .where(CaseRow.reported_at >= since, CaseRow.area_path.startswith(scope_path, autoescape=True)))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [HotItem(r.number, f"{r.title} {r.description}".strip(), r.reported_at,
                        r.reporter_phone_hash or f"case:{r.id}", r.community_code or r.area_code, int(r.likes),
                        r.category_code, r.title) for r in rows]
