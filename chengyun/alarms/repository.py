"""Rows of alarms: set-based reads and writes for a batch of transitions, and the single-alarm statements."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select, text, update

from chengyun.alarms.model import Alarm, CaseLink, Clearer, Event, Key, Place, codes_of, codes_text
from chengyun.alarms.signals import Severity
from chengyun.alarms.tables import ACTIVE_ONLY, AlarmEventRow, AlarmRow

ALARMS: Table = AlarmRow.__table__  # type: ignore[assignment]  # declared tables are Tables
EVENTS: Table = AlarmEventRow.__table__  # type: ignore[assignment]
DEVICE_CHUNK = 1000  # device ids per IN list, well under SQLite's parameter limit
AGGREGATE = ("device_id", "rule_id", "alarm_type", "severity", "first_at", "last_at", "count", "params", "active",
             "acknowledged", "acknowledged_at", "acknowledged_by", "cleared_at", "cleared_by", "clearer",
             "assignee_user_id", "version")
"""The columns the aggregate owns (the rest are the place and the case link)."""

_new_alarm = AlarmRow.__mapper__.class_manager.new_instance
_new_event = AlarmEventRow.__mapper__.class_manager.new_instance
_INSERT_ALARMS = insert(ALARMS).returning(ALARMS.c.id, sort_by_parameter_order=True)
_INSERT_PLAIN = insert(ALARMS)
_INSERT_EVENTS = insert(EVENTS)
_UPDATE_ALARM = (update(ALARMS)
                 .where(ALARMS.c.id == bindparam("b_id"), ALARMS.c.version == bindparam("b_version"))
                 .values({name: bindparam(f"v_{name}") for name in AGGREGATE}))
# `WHERE active` as the partial unique index says it, so PostgreSQL reads that small index
_ACTIVE_OF_DEVICES = select(ALARMS).where(ACTIVE_ONLY, ALARMS.c.device_id.in_(bindparam("devices", expanding=True)))
_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence('alarms', 'id')) FROM generate_series(1, :n)")
_BY_ID = select(ALARMS).where(ALARMS.c.id == bindparam("id"))
_EVENTS_OF = select(EVENTS).where(EVENTS.c.alarm_id == bindparam("id")).order_by(EVENTS.c.id)
_SET = update(ALARMS).where(ALARMS.c.id == bindparam("b_id"))
_SET_EVENT = update(EVENTS).where(EVENTS.c.id == bindparam("b_id")).values(case_sync=bindparam("v_sync"))


def detached(values: Mapping[Any, Any]) -> AlarmRow:
    """An `AlarmRow` holding a read row's values, outside any session."""
    row: AlarmRow = _new_alarm()
    row.__dict__.update(values)
    return row


def detached_event(values: Mapping[Any, Any]) -> AlarmEventRow:
    """An `AlarmEventRow` holding a read row's values."""
    row: AlarmEventRow = _new_event()
    row.__dict__.update(values)
    return row


def to_alarm(values: Mapping[str, Any]) -> Alarm:
    """The aggregate of a stored alarm (a read row's mapping, or a row's `__dict__`)."""
    clearer = values["clearer"]
    return Alarm(
        device_id=values["device_id"], rule_id=values["rule_id"], alarm_type=values["alarm_type"],
        severity=Severity(values["severity"]), first_at=values["first_at"], last_at=values["last_at"],
        count=values["count"], params=dict(values["params"] or {}), active=bool(values["active"]),
        acknowledged=bool(values["acknowledged"]), acknowledged_at=values["acknowledged_at"],
        acknowledged_by=values["acknowledged_by"], cleared_at=values["cleared_at"], cleared_by=values["cleared_by"],
        clearer=Clearer(clearer) if clearer else None, assignee_user_id=values["assignee_user_id"],
        version=values["version"],
    )


def aggregate_values(alarm: Alarm) -> dict[str, Any]:
    """The aggregate's columns as stored values."""
    return {
        "device_id": alarm.device_id, "rule_id": alarm.rule_id, "alarm_type": alarm.alarm_type,
        "severity": alarm.severity.value, "first_at": alarm.first_at, "last_at": alarm.last_at,
        "count": alarm.count, "params": dict(alarm.params), "active": alarm.active,
        "acknowledged": alarm.acknowledged, "acknowledged_at": alarm.acknowledged_at,
        "acknowledged_by": alarm.acknowledged_by, "cleared_at": alarm.cleared_at, "cleared_by": alarm.cleared_by,
        "clearer": alarm.clearer.value if alarm.clearer else None, "assignee_user_id": alarm.assignee_user_id,
        "version": alarm.version,
    }


def place_values(place: Place) -> dict[str, Any]:
    """A place's columns as stored."""
    return {"area_code": place.area_code, "area_path": place.area_path[:200],
            "place_codes": codes_text(place.place_codes)[:200], "household": place.household,
            "resident_id": place.resident_id}


def place_of_row(values: Mapping[str, Any]) -> Place:
    """The place stored with an alarm."""
    return Place(values["area_code"], values["area_path"] or "", codes_of(values["place_codes"]),
                 values["household"], values["resident_id"])


def active_by_keys(conn: Connection, keys: Iterable[Key]) -> dict[Key, tuple[int, Alarm, Place]]:
    """The active alarms of these (device, rule) keys: one indexed read per chunk of devices, never one per key."""
    wanted = set(keys)
    devices = sorted({device for device, _ in wanted})
    found: dict[Key, tuple[int, Alarm, Place]] = {}
    for start in range(0, len(devices), DEVICE_CHUNK):
        chunk = devices[start:start + DEVICE_CHUNK]
        for row in conn.execute(_ACTIVE_OF_DEVICES, {"devices": chunk}):
            values = dict(row._mapping)
            key = (values["device_id"], values["rule_id"])
            if key in wanted:
                found[key] = (values["id"], to_alarm(values), place_of_row(values))
    return found


def mark_opened(conn: Connection, alarm_id: int, number: str, attempts: int) -> bool:
    """Link the alarm to its case; False when another runner linked it first."""
    stmt = (update(ALARMS).where(ALARMS.c.id == alarm_id, ALARMS.c.case_state != CaseLink.OPENED.value)
            .values(case_state=CaseLink.OPENED.value, case_number=number, case_error=None, case_attempts=attempts))
    return conn.execute(stmt).rowcount == 1


def insert_alarms(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Store new alarms; their ids in the order given.

    PostgreSQL takes the ids from the table's sequence first and inserts with a pipelined executemany: one
    multi-row INSERT … RETURNING of a wide row parses thousands of parameters and is several times slower there.
    SQLite returns the ids of its multi-row INSERT in parameter order.
    """
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        ids = [int(i) for i in conn.execute(_NEXT_IDS, {"n": len(rows)}).scalars()]
        conn.execute(_INSERT_PLAIN, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
        return ids
    return [int(r[0]) for r in conn.execute(_INSERT_ALARMS, list(rows)).all()]


def update_alarms(conn: Connection, changes: Sequence[tuple[int, int, Alarm]]) -> bool:
    """Write (id, version read, alarm) in one statement; False when any row moved on since it was read."""
    if not changes:
        return True
    params = [{"b_id": alarm_id, "b_version": read, **{f"v_{k}": v for k, v in aggregate_values(alarm).items()}}
              for alarm_id, read, alarm in changes]
    return conn.execute(_UPDATE_ALARM, params).rowcount == len(params)


def event_values(alarm_id: int, event: Event, case_sync: str) -> dict[str, Any]:
    """An event's row."""
    return {"alarm_id": alarm_id, "kind": event.kind.value, "at": event.at, "actor": event.actor[:64],
            "actor_id": event.actor_id, "note": event.note, "data": dict(event.data), "case_sync": case_sync}


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store history entries in one statement."""
    if rows:
        conn.execute(_INSERT_EVENTS, list(rows))


def by_id(conn: Connection, alarm_id: int) -> AlarmRow | None:
    """The alarm with this id."""
    found = conn.execute(_BY_ID, {"id": alarm_id}).first()
    return detached(found._mapping) if found is not None else None


def events_of(conn: Connection, alarm_id: int) -> list[AlarmEventRow]:
    """An alarm's history, oldest first."""
    return [detached_event(r._mapping) for r in conn.execute(_EVENTS_OF, {"id": alarm_id})]


def set_fields(conn: Connection, alarm_id: int, **values: Any) -> None:
    """Change some columns of one alarm (the case link; never the aggregate, which goes through versions)."""
    conn.execute(_SET.values(**values), {"b_id": alarm_id})


def set_case_sync(conn: Connection, event_id: int, sync: str) -> None:
    """Record whether an event reached the case's timeline."""
    conn.execute(_SET_EVENT, {"b_id": event_id, "v_sync": sync})


def due_for_case(conn: Connection, limit: int) -> list[AlarmRow]:
    """Alarms whose case is still to be opened (new ones first, then the failed ones, oldest first)."""
    stmt = (select(ALARMS).where(ALARMS.c.case_state.in_([CaseLink.PENDING.value, CaseLink.FAILED.value]))
            .order_by(ALARMS.c.case_attempts, ALARMS.c.id).limit(limit))
    return [detached(r._mapping) for r in conn.execute(stmt)]


def pending_reflections(conn: Connection, limit: int, alarm_id: int | None = None) -> list[tuple[AlarmEventRow, str]]:
    """Events still to be written into an opened case's timeline, with the case number, oldest first."""
    stmt = (select(EVENTS, ALARMS.c.case_number).join(ALARMS, ALARMS.c.id == EVENTS.c.alarm_id)
            .where(EVENTS.c.case_sync == "pending", ALARMS.c.case_state == CaseLink.OPENED.value)
            .order_by(EVENTS.c.id).limit(limit))
    if alarm_id is not None:
        stmt = stmt.where(EVENTS.c.alarm_id == alarm_id)
    out = []
    for row in conn.execute(stmt):
        values = dict(row._mapping)
        number = values.pop("case_number")
        out.append((detached_event(values), str(number)))
    return out
