"""Use cases of alarms: apply the rule engine's transitions in batches, people's operations, reads in scope.

`apply` is on the ingest path: one read of the batch's active alarms, the lifecycle folded in memory (`model.fold`),
then one INSERT of new alarms, one UPDATE of changed ones (each only if its version is still the one read) and one
INSERT of their history — a single transaction per batch. A race with another writer (the same alarm raised twice,
a person clearing it meanwhile) rolls the batch back and runs it again on fresh rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chengyun.alarms import queries
from chengyun.alarms import repository as repo
from chengyun.alarms.alarm_types import AlarmType, load_alarm_types
from chengyun.alarms.casework import ALARMS_SYSTEM, CaseLinker, CaseRun, PointOf
from chengyun.alarms.model import (
    READERS,
    REFLECTED,
    AlarmChange,
    CaseLink,
    Effect,
    EventKind,
    Operation,
    Place,
    Plan,
    decide,
    fold,
    place_of,
)
from chengyun.alarms.queries import AlarmFilter
from chengyun.alarms.signals import Transition
from chengyun.alarms.tables import AlarmEventRow, AlarmRow
from chengyun.areas.service import AreaService
from chengyun.audit import AuditLog, record
from chengyun.auth.model import Principal
from chengyun.cases.service import CaseService
from chengyun.devices.model import DeviceFacts
from chengyun.errors import Conflict, Forbidden, Invalid, NotFound
from chengyun.intake.service import IntakeService
from chengyun.shared.clock import Clock

log = logging.getLogger("chengyun.alarms")
Facts = Callable[[str], DeviceFacts | None]
APPLY_TRIES = 5


class _Raced(Exception):
    """A row moved on between the batch's read and its write; the batch runs again."""


AlarmListener = Callable[[AlarmRow, Operation, str, int | None], None]
"""Told (alarm, operation, actor name, actor id) after a person's operation on an alarm commits."""


@dataclass
class AlarmService:
    """Alarms as the ingest pipeline, the console, the API and the scheduled jobs use them."""

    sessions: sessionmaker[Session]
    clock: Clock
    audit: AuditLog
    areas: AreaService
    intake: IntakeService
    cases: CaseService
    types: Mapping[str, AlarmType] = field(default_factory=load_alarm_types)
    device_point: PointOf | None = None  # the device's own WGS84 point, when the device directory knows it
    timezone: str = "Asia/Shanghai"
    listeners: list[AlarmListener] = field(default_factory=list)  # told after a person's operation commits

    def __post_init__(self) -> None:
        self._engine: Engine = self.sessions.kw["bind"]
        self.linker = CaseLinker(self._engine, self.clock, self.intake, self.cases, self.areas, self.types,
                                 self.device_point, self.timezone)

    # --- the rule engine's transitions ---------------------------------------------------------

    def apply(self, transitions: Sequence[Transition], facts: Facts) -> list[AlarmChange]:
        """Store a batch of transitions in one transaction; what it raised, updated and cleared, in order.

        `facts` gives a device's place for alarms it raises (None: a device the directory does not know; the alarm
        is kept without a place). A CLEAR without an active alarm changes nothing.
        """
        batch = list(transitions)
        if not batch:
            return []
        for attempt in range(APPLY_TRIES):
            try:
                return self._apply_once(batch, facts)
            except (IntegrityError, _Raced):
                if attempt == APPLY_TRIES - 1:
                    raise
                log.info("alarm batch raced another writer; running it again (try %s)", attempt + 2)
        raise AssertionError("unreachable")

    def _apply_once(self, batch: list[Transition], facts: Facts) -> list[AlarmChange]:
        with self._engine.begin() as conn:
            stored = repo.active_by_keys(conn, ((t.device_id, t.rule_id) for t in batch))
            plan = fold({key: (i, alarm) for key, (i, alarm, _) in stored.items()}, batch)
            places = {index: stored[slot.alarm.key][2] for index, slot in enumerate(plan.slots)
                      if slot.stored_id is not None}
            ids = self._write(conn, plan, places, facts)
        return [self._change(effect, ids[effect.slot], places[effect.slot]) for effect in plan.effects]

    def _write(self, conn: Connection, plan: Plan, places: dict[int, Place], facts: Facts) -> dict[int, int]:
        """Update the stored alarms, insert the new ones (adding their places to `places`), add the history;
        the ids of every slot."""
        known: dict[str, Place] = {}
        fresh = [index for index, slot in enumerate(plan.slots) if slot.stored_id is None]
        for index in fresh:
            device = plan.slots[index].alarm.device_id
            if device not in known:
                known[device] = place_of(facts(device))
            places[index] = known[device]
        rows = [{**repo.aggregate_values(plan.slots[i].alarm), **repo.place_values(places[i]),
                 "case_state": (CaseLink.PENDING if self._opens_case(plan.slots[i].alarm.alarm_type)
                                else CaseLink.NONE).value, "case_attempts": 0} for i in fresh]
        ids = {index: slot.stored_id for index, slot in enumerate(plan.slots) if slot.stored_id is not None}
        # updates first: a stored alarm cleared in this batch must be inactive before its successor is inserted
        if not repo.update_alarms(conn, [(ids[i], plan.slots[i].stored_version or 0, plan.slots[i].alarm)
                                         for i in ids]):
            raise _Raced
        ids.update(zip(fresh, repo.insert_alarms(conn, rows), strict=True))
        repo.insert_events(conn, [
            repo.event_values(ids[index], event, self._sync(slot.alarm.alarm_type, event.kind))
            for index, slot in enumerate(plan.slots) for event in slot.events])
        return ids

    def _change(self, effect: Effect, alarm_id: int, place: Place) -> AlarmChange:
        alarm = effect.alarm
        at = alarm.last_at
        if effect.kind == EventKind.RAISED:
            at = alarm.first_at
        elif effect.kind == EventKind.CLEARED:
            at = alarm.cleared_at or alarm.last_at
        return AlarmChange(effect.kind, alarm_id, alarm.alarm_type, alarm.severity, alarm.device_id, alarm.rule_id,
                           at, alarm.count, place.area_code, place.area_path, place.household, place.place_codes,
                           place.resident_id, alarm.params, self._opens_case(alarm.alarm_type),
                           effect.previous_severity)

    def _opens_case(self, alarm_type: str) -> bool:
        kind = self.types.get(alarm_type)
        return kind is not None and kind.opens_case

    def _sync(self, alarm_type: str, kind: str) -> str:
        """`pending` for steps to be written into the alarm's case, `none` otherwise."""
        return "pending" if kind in REFLECTED and self._opens_case(alarm_type) else "none"

    # --- cases -----------------------------------------------------------------------------------

    def open_cases_due(self, limit: int = 100) -> CaseRun:
        """Open the cases of alarms that need one (retrying failures) and write pending steps into their timelines."""
        return self.linker.open_due(limit)

    # --- people's operations ---------------------------------------------------------------------

    def acknowledge(self, principal: Principal, alarm_id: int, note: str = "", *,
                    version: int | None = None) -> AlarmRow:
        """Acknowledge an alarm (once: again → Conflict `alarms.already_acknowledged`)."""
        return self._operate(principal, alarm_id, Operation.ACKNOWLEDGE, note, version)

    def clear(self, principal: Principal, alarm_id: int, note: str = "", *, version: int | None = None) -> AlarmRow:
        """Clear an active alarm by hand; its rule firing again later opens a new alarm."""
        return self._operate(principal, alarm_id, Operation.CLEAR, note, version)

    def comment(self, principal: Principal, alarm_id: int, note: str) -> AlarmRow:
        """Add a comment to an alarm's history (and its case's timeline)."""
        return self._operate(principal, alarm_id, Operation.COMMENT, note, None)

    def assign(self, principal: Principal, alarm_id: int, user_id: int, note: str = "", *,
               version: int | None = None) -> AlarmRow:
        """Give an active alarm to a person whose scope covers its place."""
        return self._operate(principal, alarm_id, Operation.ASSIGN, note, version, user_id)

    def _operate(self, principal: Principal, alarm_id: int, op: Operation, note: str, version: int | None,
                 assignee: int | None = None) -> AlarmRow:
        try:
            row = self._operate_once(principal, alarm_id, op, note, version, assignee)
        except Forbidden as refused:  # refusals are audited after the rollback, so the record survives it
            self.audit.record_now(action=f"alarms.{op.value}", actor=principal.username,
                                  actor_id=principal.user_id or None, outcome="refused", target=f"alarm:{alarm_id}",
                                  code=refused.code)
            raise
        self._tell(row, op, principal)
        if row.case_state == CaseLink.OPENED.value:
            try:
                self.linker.reflect_due(alarm_id=alarm_id)
            except Exception:  # the step is kept as pending and written by the next scheduled run
                log.exception("writing alarm %s's step into its case failed", alarm_id)
        return row

    def _tell(self, row: AlarmRow, op: Operation, principal: Principal) -> None:
        for listener in self.listeners:
            try:
                listener(row, op, principal.username, principal.user_id or None)
            except Exception:  # e.g. linkage unreachable: the plan's own escalation and retries still run
                log.exception("alarm %s: a listener of %s failed", row.id, op.value)

    def _operate_once(self, principal: Principal, alarm_id: int, op: Operation, note: str, version: int | None,
                      assignee: int | None) -> AlarmRow:
        with self._engine.begin() as conn:
            row = self._visible(conn, principal, alarm_id)
            if version is not None and version != row.version:
                raise Conflict("alarms.changed", id=alarm_id, expected=version, current=row.version)
            alarm, event = decide(repo.to_alarm(row.__dict__), op, principal, self.clock.now(), note, assignee)
            if assignee is not None and not queries.assignee_ok(conn, assignee, row.area_path):
                raise Invalid("alarms.bad_assignee", user_id=assignee)
            if not repo.update_alarms(conn, [(row.id, row.version, alarm)]):
                raise Conflict("alarms.changed", id=alarm_id, expected=row.version, current=row.version + 1)
            sync = "pending" if row.case_state != CaseLink.NONE.value and event.kind in REFLECTED else "none"
            repo.insert_events(conn, [repo.event_values(row.id, event, sync)])
            record(conn, self.clock, action=f"alarms.{op.value}", actor=principal.username,
                   actor_id=principal.user_id or None, target=f"alarm:{row.id}", area=row.area_code)
        row.__dict__.update(repo.aggregate_values(alarm))
        return row

    # --- reads -----------------------------------------------------------------------------------

    def get(self, principal: Principal, alarm_id: int) -> tuple[AlarmRow, list[AlarmEventRow]]:
        """An alarm and its history, if the caller may read alarms and its scope covers the place."""
        with self._engine.connect() as conn:
            row = self._visible(conn, principal, alarm_id)
            return row, repo.events_of(conn, alarm_id)

    def search(self, principal: Principal, filters: AlarmFilter = AlarmFilter()) -> tuple[int, list[AlarmRow]]:
        """Alarms in the caller's scope matching the filters, with the total; a place filter takes everything
        below it (a street, community or grid by area; a compound or building by its code)."""
        self._may_read(principal)
        queries.check(filters)
        area_path = self._area_path(filters.place) if filters.place else None
        with self._engine.connect() as conn:
            return queries.search(conn, principal, filters, area_path)

    def counts(self, principal: Principal) -> dict[str, dict[str, int]]:
        """Alarms in scope by severity and status (`active_unacknowledged` …), for the dashboard."""
        self._may_read(principal)
        with self._engine.connect() as conn:
            return queries.counts(conn, principal)

    def assignees(self, principal: Principal, alarm_id: int) -> list[tuple[int, str, str]]:
        """People an alarm may be given to: (user id, display name, role)."""
        with self._engine.connect() as conn:
            row = self._visible(conn, principal, alarm_id)
            return queries.assignees(conn, row.area_path)

    def _area_path(self, code: str) -> str | None:
        """The materialised path of an area code, or None for anything else (a place code)."""
        if self.areas.index().node(code) is None:
            return None
        return "/" + "".join(f"{ref.code}/" for ref in self.areas.chain(code))

    @staticmethod
    def _may_read(principal: Principal) -> None:
        if principal.role not in READERS:
            raise Forbidden("alarms.read_not_allowed", role=principal.role.value)

    def _visible(self, conn: Connection, principal: Principal, alarm_id: int) -> AlarmRow:
        self._may_read(principal)
        row = repo.by_id(conn, alarm_id)
        if row is None or not principal.can_see_path(row.area_path):
            raise NotFound("alarms.not_found", id=alarm_id)
        return row


__all__ = ["ALARMS_SYSTEM", "AlarmFilter", "AlarmService", "CaseRun"]
