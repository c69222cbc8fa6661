"""The IoT path wired end to end (composition level): rule transitions → alarms stored → linkage plans started or
closed → cases opened; one responder for the MQTT worker, HTTP ingest and the demo's in-process simulator.

Every step after the alarm commit is a side effect whose failure is logged and retried: `catch_up()` (run by the
IoT ticker) starts the plan of every active alarm that has none yet and opens the cases still due, so a lost
"notify the fire brigade" is redone rather than forgotten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select

from chengyun.alarms.casework import PointOf
from chengyun.alarms.model import AlarmChange, Operation
from chengyun.alarms.signals import Transition
from chengyun.alarms.tables import AlarmRow
from chengyun.devices.tables import DeviceRow
from chengyun.linkage.model import AlarmFacts
from chengyun.linkage.tables import LinkageRunRow
from chengyun.places.tables import PlaceRow

if TYPE_CHECKING:
    from chengyun.alarms.engine import RuleEngine
    from chengyun.alarms.service import AlarmListener
    from chengyun.bootstrap import Container

log = logging.getLogger("chengyun.iot")
CATCH_UP_LIMIT = 200


@dataclass
class AlarmResponder:
    """The transition sink of every ingest path: store the batch, then start/close linkage and open cases."""

    container: Container

    def __call__(self, transitions: Sequence[Transition]) -> list[AlarmChange]:
        """Store the transitions (one transaction), then act on what changed; the changes."""
        container = self.container
        changes = container.alarms.apply(transitions, container.devices.directory().facts)
        if changes:
            self.respond(changes)
        return changes

    def respond(self, changes: Sequence[AlarmChange]) -> None:
        """Start the plan of each raised alarm, close the plan of each cleared one, open the cases due."""
        self.start_plans(changes)
        for change in changes:
            if change.kind == "cleared":
                self._quietly("closing the plan of alarm %s", change.alarm_id,
                              partial(self.container.linkage.close, change.alarm_id, "cleared"))
        if any(c.opens_case for c in changes):
            self._quietly("opening cases after alarm %s", changes[0].alarm_id, self.container.alarms.open_cases_due)

    def start_plans(self, changes: Sequence[AlarmChange]) -> None:
        """Start the linkage plan of every raised alarm among `changes` (in-app notices go out with the commit)."""
        raised = [c for c in changes if c.kind == "raised"]
        if not raised:
            return
        with self.container.engine.connect() as conn:
            places = device_places(conn, {c.device_id for c in raised})
        for change in raised:
            facts = alarm_facts(change, places.get(change.device_id, ""))
            self._quietly("starting the plan of alarm %s", change.alarm_id,
                          partial(self.container.linkage.start, facts))

    def catch_up(self) -> int:
        """Redo what an earlier failure left undone: start the plans of active alarms that have none, close the
        plans of alarms that have cleared; the number of plans started or closed."""
        with self.container.engine.connect() as conn:
            stale = conn.scalars(select(LinkageRunRow.alarm_id).where(
                LinkageRunRow.state.in_(("active", "acknowledged")),
                LinkageRunRow.alarm_id.in_(select(AlarmRow.id).where(AlarmRow.active.is_(False))))
                .limit(CATCH_UP_LIMIT)).all()
        closed = sum(self._quietly("closing the plan of alarm %s", alarm_id,
                                   partial(self.container.linkage.close, alarm_id, "cleared")) for alarm_id in stale)
        return closed + self._start_missing()

    def _start_missing(self) -> int:
        with self.container.engine.connect() as conn:
            missing = conn.execute(
                select(AlarmRow).where(AlarmRow.active.is_(True),
                                       AlarmRow.id.not_in(select(LinkageRunRow.alarm_id)))
                .order_by(AlarmRow.id).limit(CATCH_UP_LIMIT)).all()
            places = device_places(conn, {r.device_id for r in missing})
        started = 0
        for row in missing:
            facts = facts_of_row(row, places.get(row.device_id, ""))
            if self._quietly("starting the plan of alarm %s", row.id, partial(self.container.linkage.start, facts)):
                started += 1
        return started

    @staticmethod
    def _quietly(what: str, alarm_id: int, job: Callable[[], object]) -> bool:
        try:
            job()
        except Exception:  # recorded here and redone by catch_up / the scheduled jobs
            log.exception(what, alarm_id)
            return False
        return True


def alarm_facts(change: AlarmChange, place_label: str) -> AlarmFacts:
    """What linkage needs to know of a raised alarm."""
    return AlarmFacts(alarm_id=change.alarm_id, alarm_type=change.alarm_type, severity=str(change.severity),
                      device_id=change.device_id, started_at=change.at, area_code=change.area_code,
                      area_path=change.area_path, place_label=place_label, household=change.household,
                      message=_explain(change.params), extra={"rule_id": change.rule_id})


def facts_of_row(row: Any, place_label: str) -> AlarmFacts:
    """The same facts read back from a stored alarm row (for the catch-up)."""
    return AlarmFacts(alarm_id=row.id, alarm_type=row.alarm_type, severity=row.severity, device_id=row.device_id,
                      started_at=row.first_at, area_code=row.area_code, area_path=row.area_path,
                      place_label=place_label, household=row.household, message=_explain(row.params or {}),
                      extra={"rule_id": row.rule_id})


def _explain(params: object) -> str:
    if not isinstance(params, dict):
        return ""
    value, prop = params.get("value"), params.get("property")
    if prop is None or value is None:
        return ""
    limit = params.get("threshold", params.get("fire_at"))
    return f"{prop} = {value}" + (f"（阈值 {limit}）" if limit is not None else "")


def device_places(conn: Connection, device_ids: Iterable[str]) -> dict[str, str]:
    """A readable place per device: the gazetteer name of its place, with unit and room (怡湖苑3栋 2单元301)."""
    ids = sorted(set(device_ids))
    if not ids:
        return {}
    rows = conn.execute(select(DeviceRow.device_id, DeviceRow.name, DeviceRow.unit, DeviceRow.room, PlaceRow.name)
                        .outerjoin(PlaceRow, PlaceRow.code == DeviceRow.place_code)
                        .where(DeviceRow.device_id.in_(ids))).all()
    out = {}
    for device_id, name, unit, room, place in rows:
        home = "".join(p for p in (f"{unit}单元" if unit else "", room or "") if p)
        out[device_id] = " ".join(p for p in (place or "", home, name or "") if p)
    return out


def device_point(engine: Engine) -> PointOf:
    """The device's own WGS84 point, for the case its alarm opens."""

    def point(device_id: str) -> tuple[float, float] | None:
        with engine.connect() as conn:
            row = conn.execute(select(DeviceRow.lon, DeviceRow.lat).where(DeviceRow.device_id == device_id)).first()
        return (float(row[0]), float(row[1])) if row else None

    return point


def restore_engine(container: Container, engine: RuleEngine) -> tuple[int, int]:
    """After a (re)start: watch every device from its last-seen time (offline and inactivity clocks run for devices
    that have gone quiet) and take the alarms active in the database as holding (so they can clear); the counts."""
    directory = container.devices.directory()
    now = container.clock.now().timestamp()
    with container.engine.connect() as conn:
        seen = dict(conn.execute(select(DeviceRow.device_id, DeviceRow.last_seen_at)
                                 .where(DeviceRow.active.is_(True))).all())
        active = conn.execute(select(AlarmRow.device_id, AlarmRow.rule_id, AlarmRow.first_at)
                              .where(AlarmRow.active.is_(True))).all()
    watched = 0
    for device_id, last in seen.items():
        facts = directory.facts(device_id)
        if facts is not None:
            engine.watch(facts, last.timestamp() if last else now)
            watched += 1
    restored = 0
    for device_id, rule_id, first_at in active:
        facts = directory.facts(device_id)
        if facts is not None:
            engine.assume_active(facts, rule_id, first_at.timestamp())
            restored += 1
    return watched, restored


def run_iot_jobs(container: Container) -> None:
    """What the IoT ticker runs every few seconds: plans not yet started, escalations, deliveries and retries,
    cases still to open, and devices gone offline."""
    for what, job in (("linkage catch-up", container.responder.catch_up),
                      ("escalation", container.linkage.escalate_due),
                      ("notification delivery", container.linkage.deliver_due),
                      ("alarm cases", container.alarms.open_cases_due),
                      ("offline sweep", lambda: container.devices.sweep_offline(container.clock.now()))):
        try:
            job()
        except Exception:  # one failing job must not stop the others; each is retried on the next tick
            log.exception("IoT job failed: %s", what)


def linkage_listener(container: Container) -> AlarmListener:
    """An acknowledgement on the console stops the plan's escalation; a manual clear closes the plan."""

    def heard(row: AlarmRow, op: Operation, actor: str, actor_id: int | None) -> None:
        if op is Operation.ACKNOWLEDGE:
            container.linkage.acknowledge_alarm(row.id, actor, actor_id)
        elif op is Operation.CLEAR:
            container.linkage.close(row.id, "cleared_by_hand")

    return heard
