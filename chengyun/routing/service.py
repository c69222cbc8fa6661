"""The duty list as stored data: import a whole list all or nothing, read the rules for routing."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from chengyun.areas.model import AreaLevel
from chengyun.areas.tables import AreaRow
from chengyun.audit import record
from chengyun.categories.tables import CategoryRow
from chengyun.errors import Invalid
from chengyun.org.tables import UnitRow
from chengyun.routing.model import DutyRule
from chengyun.routing.parsing import KnownCodes, parse_duty_csv, parse_duty_xlsx
from chengyun.routing.tables import DutyRuleRow
from chengyun.shared.clock import Clock
from chengyun.shared.handling import HandlingLevel, TimeLimit

MAX_PROBLEMS_SHOWN = 50
FRESHNESS_S = 2.0


@dataclass
class DutyService:
    """Import and read the duty list; rules are cached until the stored list changes."""

    sessions: sessionmaker[Session]
    clock: Clock
    _rules: tuple[DutyRule, ...] | None = field(default=None, init=False)
    _version: tuple[int, datetime | None] | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _checked: float = field(default=0.0, init=False)

    def import_bytes(self, data: bytes, *, filename: str, actor: str, actor_id: int | None = None) -> int:
        """Replace the whole duty list with a file's rules (CSV or .xlsx); any bad row → nothing changes."""
        parsed = (parse_duty_xlsx if filename.lower().endswith(".xlsx") else parse_duty_csv)(data, self.known())
        if parsed.problems:
            raise Invalid("routing.import_invalid", problems=list(parsed.problems[:MAX_PROBLEMS_SHOWN]),
                          count=len(parsed.problems))
        if not parsed.rules:
            raise Invalid("routing.import.empty_file", where=filename)
        now = self.clock.now()
        with self.sessions.begin() as session:
            session.execute(delete(DutyRuleRow))
            session.add_all(_row(rule, now) for rule in parsed.rules)
            record(session, self.clock, action="duty.import", actor=actor, actor_id=actor_id, target=filename,
                   rules=len(parsed.rules))
        self._rules = None
        return len(parsed.rules)

    def known(self) -> KnownCodes:
        """The codes a duty-list file may refer to, from the stored catalogue, units and areas."""
        with self.sessions() as session:
            categories = {c: n for c, n in session.execute(select(CategoryRow.code, CategoryRow.name))}
            units = {c: n for c, n in session.execute(select(UnitRow.code, UnitRow.name))}
            areas = {c: AreaLevel(lv) for c, lv in session.execute(select(AreaRow.code, AreaRow.level))}
        return KnownCodes(categories, units, areas)

    def rules(self) -> tuple[DutyRule, ...]:
        """Every stored rule (cached; another process's import is seen within FRESHNESS_S seconds)."""
        if self._rules is not None and time.monotonic() - self._checked < FRESHNESS_S:
            return self._rules
        with self.sessions() as session:
            version = session.execute(select(func.count(), func.max(DutyRuleRow.imported_at))).one()
            with self._lock:
                if self._rules is None or tuple(version) != self._version:
                    rows = session.scalars(select(DutyRuleRow).order_by(DutyRuleRow.id)).all()
                    self._rules = tuple(_rule(r) for r in rows)
                    self._version = (int(version[0]), version[1])
                self._checked = time.monotonic()
                return self._rules


def _row(rule: DutyRule, now: datetime) -> DutyRuleRow:
    return DutyRuleRow(id=rule.id, category_code=rule.category_code, area_level=rule.area_level.value,
                       area_code=rule.area_code, handling_level=rule.handling_level.value, lead_unit=rule.lead_unit,
                       assist_units=list(rule.assist_units),
                       response_limit=str(rule.response_limit) if rule.response_limit else None,
                       handling_limit=str(rule.handling_limit) if rule.handling_limit else None, imported_at=now)


def _rule(row: DutyRuleRow) -> DutyRule:
    return DutyRule(row.id, row.category_code, AreaLevel(row.area_level), HandlingLevel(row.handling_level),
                    row.lead_unit, tuple(row.assist_units or ()), row.area_code,
                    TimeLimit.parse(row.response_limit) if row.response_limit else None,
                    TimeLimit.parse(row.handling_limit) if row.handling_limit else None)
