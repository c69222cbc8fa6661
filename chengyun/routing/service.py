"""The duty list as stored data: import a whole list all or nothing, read the rules for routing."""

from __future__ import annotations

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
from chengyun.shared.snapshot import Snapshot

MAX_PROBLEMS_SHOWN = 50


@dataclass
class DutyService:
    """Import and read the duty list; rules are cached until the stored list changes."""

    sessions: sessionmaker[Session]
    clock: Clock
    _rules: Snapshot[tuple[DutyRule, ...]] = field(init=False)

    def __post_init__(self) -> None:
        self._rules = Snapshot(self.sessions, _version, _load_rules)

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
        self._rules.forget()
        return len(parsed.rules)

    def known(self) -> KnownCodes:
        """The codes a duty-list file may refer to, from the stored catalogue, units and areas."""
        with self.sessions() as session:
            categories = {c: n for c, n in session.execute(select(CategoryRow.code, CategoryRow.name))}
            units = {c: n for c, n in session.execute(select(UnitRow.code, UnitRow.name))}
            areas = {c: AreaLevel(lv) for c, lv in session.execute(select(AreaRow.code, AreaRow.level))}
        return KnownCodes(categories, units, areas)

    def rules(self) -> tuple[DutyRule, ...]:
        """Every stored rule (cached; another process's import is seen within a few seconds)."""
        return self._rules.get()


def _version(session: Session) -> tuple[int, datetime | None]:
    count, latest = session.execute(select(func.count(), func.max(DutyRuleRow.imported_at))).one()
    return int(count), latest


def _load_rules(session: Session) -> tuple[DutyRule, ...]:
    return tuple(_rule(r) for r in session.scalars(select(DutyRuleRow).order_by(DutyRuleRow.id)))


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
