"""Alarms and the closed loop: open the case of an alarm through intake, and write its later steps into the case.

An alarm of a type that opens a case is `pending` when raised. `open_due` submits one report per such alarm
(channel `iot`, source `sensor`, idempotent by the alarm's id as external id, so a retry or a second runner never
opens a second case); a failure is recorded on the alarm (`failed` with the reason) and tried again on the next run.
Acknowledging, clearing, commenting and assigning are written into the case's timeline as notes (`reflect_due`);
steps taken before the case existed are written once it does, in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from chengyun.alarms import repository as repo
from chengyun.alarms.alarm_types import AlarmType
from chengyun.alarms.model import CaseLink, Event, EventKind, codes_of
from chengyun.alarms.tables import AlarmEventRow, AlarmRow
from chengyun.areas.service import AreaService
from chengyun.areas.tables import BuildingRow, CompoundRow
from chengyun.auth.model import Principal, Role
from chengyun.cases.model import Action, Request, Source
from chengyun.cases.service import CaseService
from chengyun.errors import DomainError, Invalid
from chengyun.i18n import translate
from chengyun.intake.model import Channel, Report
from chengyun.intake.service import IntakeService
from chengyun.places.tables import PlaceRow
from chengyun.shared.clock import Clock

log = logging.getLogger("chengyun.alarms")
ALARMS_SYSTEM = Principal(0, "alarms", "物联告警", Role.SYSTEM, "", "/")
"""Who opens alarms' cases and writes their notes: the platform itself (the alarm's place was checked when the
device was registered)."""
EXTERNAL_SYSTEM = "alarms"
PointOf = Callable[[str], tuple[float, float] | None]


@dataclass(frozen=True, slots=True)
class CaseRun:
    """What one run did: cases opened, attempts that failed, steps written into case timelines."""

    opened: int = 0
    failed: int = 0
    reflected: int = 0


@dataclass
class CaseLinker:
    """Opens alarms' cases through intake and keeps their timelines in step with the alarms."""

    engine: Engine
    clock: Clock
    intake: IntakeService
    cases: CaseService
    areas: AreaService
    types: Mapping[str, AlarmType]
    device_point: PointOf | None = None
    timezone: str = "Asia/Shanghai"

    def open_due(self, limit: int = 100) -> CaseRun:
        """Open the cases still due (new alarms first, then earlier failures), then write pending steps."""
        with self.engine.connect() as conn:
            due = repo.due_for_case(conn, limit)
        opened = sum(1 for row in due if self._open(row))
        return CaseRun(opened, len(due) - opened, self.reflect_due())

    def _open(self, row: AlarmRow) -> bool:
        kind = self.types.get(row.alarm_type)
        if kind is None or not kind.opens_case:  # the type file changed since: nothing to open any more
            with self.engine.begin() as conn:
                repo.set_fields(conn, row.id, case_state=CaseLink.NONE.value, case_error=None)
            return False
        try:
            report = self.intake.submit(ALARMS_SYSTEM, self._report(row, kind)).report
            if report.case_number:
                self._opened(row, report.case_number, report.token)
                return True
            reason = report.last_error or f"intake.{report.state}"  # waits for an operator, or intake retries
        except DomainError as exc:
            reason = exc.code
        except Exception as exc:  # storage trouble: recorded, tried again next run
            log.exception("opening the case of alarm %s failed", row.id)
            reason = type(exc).__name__
        with self.engine.begin() as conn:
            repo.set_fields(conn, row.id, case_state=CaseLink.FAILED.value, case_error=reason[:80],
                            case_attempts=row.case_attempts + 1)
        return False

    def _opened(self, row: AlarmRow, number: str, token: str) -> None:
        with self.engine.begin() as conn:
            if repo.mark_opened(conn, row.id, number, row.case_attempts + 1):
                event = Event(EventKind.CASE_OPENED, self.clock.now(), ALARMS_SYSTEM.username,
                              data={"case_number": number, "report": token})
                repo.insert_events(conn, [repo.event_values(row.id, event, "none")])

    def _report(self, row: AlarmRow, kind: AlarmType) -> Report:
        """The alarm as intake's one report shape; its text stays the same on every retry (no value changes)."""
        lon, lat = self.point(row)
        local = row.first_at.astimezone(ZoneInfo(self.timezone))
        description = translate("alarms.case.description", "zh-CN", name=kind.name_zh, device=row.device_id,
                                place=" ".join(codes_of(row.place_codes)) or "—", household=row.household or "—",
                                at=f"{local:%Y-%m-%d %H:%M:%S}")
        return Report(channel=Channel.IOT, source=Source.SENSOR, description=description,
                      title=translate("alarms.case.title", "zh-CN", name=kind.name_zh),
                      category_code=kind.category_code, lon=lon, lat=lat, urgency=kind.urgency,
                      external_system=EXTERNAL_SYSTEM, external_id=str(row.id), occurred_at=row.first_at)

    def point(self, row: AlarmRow) -> tuple[float, float]:
        """Where the case goes (WGS84): the device's own point, else its building, compound or place, else a
        point inside its area; an alarm with none of these cannot open a case."""
        if self.device_point is not None and (found := self.device_point(row.device_id)) is not None:
            return found
        codes = codes_of(row.place_codes)
        if codes and (found := self._place_point(codes)) is not None:
            return found
        node = self.areas.index().node(row.area_code) if row.area_code else None
        if node is not None and node.geometry is not None and not node.geometry.is_empty:
            inside = node.geometry.representative_point()
            return float(inside.x), float(inside.y)
        raise Invalid("alarms.no_place", device=row.device_id)

    def _place_point(self, codes: tuple[str, ...]) -> tuple[float, float] | None:
        """The point of the nearest known place among the codes (one read per table)."""
        points: dict[str, tuple[float, float]] = {}
        with self.engine.connect() as conn:
            for table in (BuildingRow, CompoundRow, PlaceRow):
                for code, lon, lat in conn.execute(select(table.code, table.lon, table.lat)
                                                   .where(table.code.in_(codes))):
                    points.setdefault(code, (float(lon), float(lat)))
        return next((points[c] for c in codes if c in points), None)

    def reflect_due(self, limit: int = 200, alarm_id: int | None = None) -> int:
        """Write pending alarm steps into their opened cases as notes; a closed case skips them. How many written."""
        with self.engine.connect() as conn:
            pending = repo.pending_reflections(conn, limit, alarm_id)
        written = 0
        for event, number in pending:
            try:
                self.cases.act(ALARMS_SYSTEM, number, Request(Action.NOTE, _note(event), data=_data(event)))
                sync = "done"
            except DomainError as exc:  # e.g. the case was closed meanwhile: kept on the alarm, not in the case
                log.info("alarm step %s not written into case %s: %s", event.id, number, exc.code)
                sync = "skipped"
            except Exception:  # storage trouble: stays pending, written on a later run
                log.exception("writing alarm step %s into case %s failed", event.id, number)
                continue
            with self.engine.begin() as conn:
                repo.set_case_sync(conn, event.id, sync)
            written += sync == "done"
        return written


def _note(event: AlarmEventRow) -> str:
    """The timeline note of an alarm step (stored text, in the district's language like the sweep's notes)."""
    by = str((event.data or {}).get("by") or event.actor)
    if event.actor.startswith("rule:"):
        by = translate("alarms.case.by_rule", "zh-CN", rule=event.actor[5:])
    text = translate(f"alarms.case.note.{event.kind}", "zh-CN", by=by)
    return f"{text}：{event.note}" if event.note else text


def _data(event: AlarmEventRow) -> dict[str, Any]:
    return {"alarm_id": event.alarm_id, "alarm_event": event.kind, "by": event.actor,
            **({"assignee_user_id": event.data["assignee_user_id"]} if "assignee_user_id" in (event.data or {})
               else {})}
