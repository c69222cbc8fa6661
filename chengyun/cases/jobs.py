"""The deadline sweep: colour open cases green/yellow/red, urge overdue units, escalate long-overdue cases.

Runs from `chengyun jobs run-once` and every `sweep_interval_s` inside `chengyun serve`. Each urge or escalation
is an ordinary loop action by the system (its own transaction and timeline entry), so a failure on one case is
counted and leaves the others alone; the next sweep retries it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from chengyun.auth.model import Principal, Role
from chengyun.cases.deadlines import DeadlinePolicy, Level
from chengyun.cases.model import Action, CaseState, Request
from chengyun.cases.service import CaseService
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.errors import DomainError
from chengyun.shared.handling import LimitUnit

log = logging.getLogger(__name__)

CLOCKED_STATES = (CaseState.DISPATCHED, CaseState.CLAIMED, CaseState.HANDLING, CaseState.RETURNED,
                  CaseState.SUSPENDED)
SYSTEM = Principal(0, "system", "系统督办", Role.OPERATOR, "", "/")


@dataclass(frozen=True, slots=True)
class SweepPolicy:
    """District data: when to urge and when to escalate (0 hours = never escalate automatically)."""

    urge_when_red: bool = True
    escalate_after_overdue_h: int = 24
    unit: LimitUnit = LimitUnit.WORKING_HOURS


@dataclass
class SweepReport:
    """What one sweep did."""

    checked: int = 0
    levels: dict[str, int] = field(default_factory=dict)
    urged: int = 0
    escalated: int = 0
    redispatched: int = 0
    failed: list[str] = field(default_factory=list)


def sweep(cases: CaseService, deadlines: DeadlinePolicy, now: datetime,
          policy: SweepPolicy = SweepPolicy()) -> SweepReport:
    """One pass over every clocked case: store its colour, urge on turning red, escalate when long overdue."""
    report = SweepReport()
    rows = _clocked(cases)
    changes: dict[str, list[int]] = {}
    for row in rows:
        report.checked += 1
        pauses = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in row.pauses or ()]
        if row.suspended_at is not None:
            pauses.append((row.suspended_at, now))
        assert row.dispatched_at is not None and row.handling_due is not None
        state = deadlines.status(row.dispatched_at, row.handling_due, now, pauses, unit=policy.unit)
        level = state.level.value
        report.levels[level] = report.levels.get(level, 0) + 1
        if level != row.deadline_level:
            changes.setdefault(level, []).append(row.id)
        if state.level == Level.RED and row.state != CaseState.SUSPENDED.value:
            _follow_up_overdue(cases, row, now, policy, report)
    _store_levels(cases, changes)
    return report


def _clocked(cases: CaseService) -> list[CaseRow]:
    with cases.sessions() as session:
        rows = list(session.scalars(select(CaseRow).where(
            CaseRow.state.in_([s.value for s in CLOCKED_STATES]), CaseRow.handling_due.is_not(None),
            CaseRow.dispatched_at.is_not(None))))
        session.expunge_all()
    return rows


def _follow_up_overdue(cases: CaseService, row: CaseRow, now: datetime, policy: SweepPolicy,
                       report: SweepReport) -> None:
    assert row.handling_due is not None
    try:
        if policy.escalate_after_overdue_h and now - row.handling_due >= timedelta(
                hours=policy.escalate_after_overdue_h) and row.state != CaseState.RETURNED.value:
            escalated = cases.act(SYSTEM, row.number, Request(Action.ESCALATE, note="超期未办结，系统自动提级"))
            report.escalated += 1
            _dispatch_if_routed(cases, escalated.number, report)
        elif policy.urge_when_red and not _urged_since(cases, row.id, row.handling_due):
            cases.act(SYSTEM, row.number, Request(Action.URGE, note="已超过办理时限，系统自动督办"))
            report.urged += 1
    except DomainError as exc:  # counted and retried next sweep; never stops the others
        report.failed.append(f"{row.number}: {exc.code}")
        log.warning("sweep could not follow up %s: %s", row.number, exc.code)


def _dispatch_if_routed(cases: CaseService, number: str, report: SweepReport) -> None:
    try:
        cases.act(SYSTEM, number, Request(Action.DISPATCH, note="提级后按权责清单派遣"))
        report.redispatched += 1
    except DomainError as exc:  # no rule at the higher tier: it waits in the operator's triage queue
        report.failed.append(f"{number}: {exc.code}")


def _urged_since(cases: CaseService, case_id: int, since: datetime) -> bool:
    """True when the case was already urged after it became overdue (one automatic urge per overdue spell)."""
    with cases.sessions() as session:
        return session.scalar(select(TimelineRow.id).where(
            TimelineRow.case_id == case_id, TimelineRow.action == Action.URGE.value,
            TimelineRow.at >= since).limit(1)) is not None


def _store_levels(cases: CaseService, changes: dict[str, list[int]]) -> None:
    """The colour is derived data: a bulk update outside the timeline and the version lock."""
    if not changes:
        return
    with cases.sessions.begin() as session:
        for level, ids in changes.items():
            for start in range(0, len(ids), 1000):
                session.execute(update(CaseRow).where(CaseRow.id.in_(ids[start:start + 1000]))
                                .values(deadline_level=level).execution_options(synchronize_session=False))
