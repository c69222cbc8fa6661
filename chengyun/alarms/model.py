"""The alarm aggregate (告警): two status axes, one active alarm per device and rule, and what people may do; pure.

An alarm is active until its rule clears it or a person clears it, and unacknowledged until a person acknowledges
it — the two axes are independent (a cleared alarm may still wait for its acknowledgement). A FIRE of a rule whose
alarm is active updates that alarm (count, last value, severity); a FIRE after the alarm was cleared opens a new
one, so a cleared alarm is never active again. `fold` applies a batch of transitions to the active alarms; `decide`
checks a person's operation against the one `ALLOWED` table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from chengyun.alarms.signals import Change, Severity, Transition
from chengyun.auth.model import Principal, Role
from chengyun.devices.model import DeviceFacts
from chengyun.errors import Conflict, Forbidden, Invalid

MAX_NOTE = 1000
Key = tuple[str, str]  # (device_id, rule_id)


class EventKind(StrEnum):
    """What happened to an alarm (its own history, stored codes)."""

    RAISED = "raised"
    UPDATED = "updated"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"
    COMMENTED = "commented"
    ASSIGNED = "assigned"
    CASE_OPENED = "case_opened"


REFLECTED = frozenset({EventKind.ACKNOWLEDGED, EventKind.CLEARED, EventKind.COMMENTED, EventKind.ASSIGNED})
"""Events written into the linked case's timeline as a note (raising is the case's opening itself)."""


class Clearer(StrEnum):
    """Who cleared an alarm: its rule stopped holding, or a person cleared it by hand."""

    RULE = "rule"
    PERSON = "person"


class Operation(StrEnum):
    """What a person may do to an alarm."""

    ACKNOWLEDGE = "acknowledge"
    CLEAR = "clear"
    COMMENT = "comment"
    ASSIGN = "assign"


class CaseLink(StrEnum):
    """How far opening the alarm's case got (alarm types that open no case stay `none`)."""

    NONE = "none"
    PENDING = "pending"
    OPENED = "opened"
    FAILED = "failed"


CENTER = frozenset({Role.ADMIN, Role.OPERATOR})
FIELD = frozenset({Role.GRID_WORKER})
READERS = CENTER | FIELD | {Role.AUDITOR}
"""Who may read alarms (within their area scope)."""


@dataclass(frozen=True, slots=True)
class OperationRule:
    """One row of the table: who may do it and what the alarm must be like."""

    roles: frozenset[Role]
    needs_active: bool = False
    needs_unacknowledged: bool = False
    needs_note: bool = False


ALLOWED: Mapping[Operation, OperationRule] = {
    Operation.ACKNOWLEDGE: OperationRule(CENTER | FIELD, needs_unacknowledged=True),
    Operation.CLEAR: OperationRule(CENTER | FIELD, needs_active=True),
    Operation.COMMENT: OperationRule(CENTER | FIELD, needs_note=True),
    Operation.ASSIGN: OperationRule(CENTER, needs_active=True),
}


@dataclass(frozen=True, slots=True)
class Alarm:
    """The aggregate: what the lifecycle rules look at. Storage adds the place and the case link."""

    device_id: str
    rule_id: str
    alarm_type: str
    severity: Severity
    first_at: datetime
    last_at: datetime
    count: int = 1
    params: Mapping[str, Any] = field(default_factory=dict)
    active: bool = True
    acknowledged: bool = False
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    cleared_at: datetime | None = None
    cleared_by: str | None = None
    clearer: Clearer | None = None
    assignee_user_id: int | None = None
    version: int = 1

    @property
    def key(self) -> Key:
        """(device, rule): at most one active alarm per key."""
        return self.device_id, self.rule_id

    @property
    def status(self) -> str:
        """The two axes as one code, e.g. `active_unacknowledged`."""
        return status_code(self.active, self.acknowledged)


def status_code(active: bool, acknowledged: bool) -> str:
    """`active|cleared` × `acknowledged|unacknowledged` as one stored-style code."""
    return f"{'active' if active else 'cleared'}_{'acknowledged' if acknowledged else 'unacknowledged'}"


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of an alarm's own history."""

    kind: EventKind
    at: datetime
    actor: str  # a username, or `rule:<rule id>` for what the rule engine did
    actor_id: int | None = None
    note: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Place:
    """Where an alarm happened, copied from its device's facts when it is raised."""

    area_code: str | None = None
    area_path: str = ""
    place_codes: tuple[str, ...] = ()  # gazetteer codes, nearest first (building, compound)
    household: str | None = None
    resident_id: int | None = None


def place_of(facts: DeviceFacts | None) -> Place:
    """The place of a device (nowhere for a device the directory does not know)."""
    if facts is None:
        return Place()
    return Place(facts.area_code, facts.area_path, tuple(facts.place_codes), facts.household, facts.resident_id)


def codes_text(codes: Iterable[str]) -> str:
    """Place codes as stored, `/building/compound/`, so `LIKE '%/code/%'` finds every alarm below a place."""
    joined = "/".join(c for c in codes if c and "/" not in c)
    return f"/{joined}/" if joined else ""


def codes_of(text: str | None) -> tuple[str, ...]:
    """Stored place codes back as a tuple, nearest first."""
    return tuple(c for c in (text or "").split("/") if c)


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """What one batch changed about one alarm, for linkage and the console: raised, updated or cleared.

    `previous_severity` is set on an update whose severity changed; `opens_case` says whether the type opens a case.
    """

    kind: EventKind
    alarm_id: int
    alarm_type: str
    severity: Severity
    device_id: str
    rule_id: str
    at: datetime
    count: int
    area_code: str | None
    area_path: str
    household: str | None
    place_codes: tuple[str, ...]
    resident_id: int | None
    params: Mapping[str, Any]
    opens_case: bool
    previous_severity: Severity | None = None


def moment(epoch: float) -> datetime:
    """A transition's UTC epoch seconds as an aware datetime."""
    return datetime.fromtimestamp(epoch, UTC)


def jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters as JSON can store them: numbers, booleans, text and None kept, anything else as text."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            out[str(key)] = str(value)
        elif isinstance(value, str | int | float | bool) or value is None:
            out[str(key)] = value
        else:
            out[str(key)] = str(value)
    return out


def _rule_actor(t: Transition) -> str:
    return f"rule:{t.rule_id}"[:64]


def raised(t: Transition) -> tuple[Alarm, Event]:
    """A new active, unacknowledged alarm from a FIRE."""
    at = moment(t.at)
    alarm = Alarm(t.device_id, t.rule_id, t.alarm_type, Severity(t.severity), at, at, 1, jsonable(t.params))
    return alarm, Event(EventKind.RAISED, at, _rule_actor(t), data={"severity": alarm.severity.value,
                                                                    "params": alarm.params})


def retriggered(alarm: Alarm, t: Transition) -> tuple[Alarm, Event]:
    """The active alarm fired again: one more, the latest value, the latest severity."""
    if not alarm.active:
        raise Conflict("alarms.not_active", device=alarm.device_id, rule=alarm.rule_id)
    at = moment(t.at)
    new = replace(alarm, count=alarm.count + 1, last_at=max(alarm.last_at, at), params=jsonable(t.params),
                  severity=Severity(t.severity), version=alarm.version + 1)
    data: dict[str, Any] = {"severity": new.severity.value, "count": new.count, "params": new.params}
    if new.severity != alarm.severity:
        data["previous_severity"] = alarm.severity.value
    return new, Event(EventKind.UPDATED, at, _rule_actor(t), data=data)


def auto_cleared(alarm: Alarm, t: Transition) -> tuple[Alarm, Event]:
    """The rule stopped holding: the alarm is cleared (it stays as acknowledged or not as it was)."""
    if not alarm.active:
        raise Conflict("alarms.already_cleared", device=alarm.device_id, rule=alarm.rule_id)
    at = moment(t.at)
    new = replace(alarm, active=False, cleared_at=at, cleared_by=_rule_actor(t), clearer=Clearer.RULE,
                  last_at=max(alarm.last_at, at), version=alarm.version + 1)
    return new, Event(EventKind.CLEARED, at, _rule_actor(t), data={"clearer": Clearer.RULE.value,
                                                                   "params": jsonable(t.params)})


def decide(alarm: Alarm, op: Operation, by: Principal, at: datetime, note: str = "",
           assignee: int | None = None) -> tuple[Alarm, Event]:
    """The alarm after a person's operation and its history entry, or a precise error; nothing else changes."""
    rule = ALLOWED[op]
    if by.role not in rule.roles:
        raise Forbidden("alarms.role_not_allowed", operation=op.value, role=by.role.value)
    note = check_note(note, required=rule.needs_note)
    if rule.needs_unacknowledged and alarm.acknowledged:
        raise Conflict("alarms.already_acknowledged", by=alarm.acknowledged_by or "")
    if rule.needs_active and not alarm.active:
        raise Conflict("alarms.already_cleared" if op == Operation.CLEAR else "alarms.not_active",
                       operation=op.value)
    bump = alarm.version + 1
    if op == Operation.ACKNOWLEDGE:
        return (replace(alarm, acknowledged=True, acknowledged_at=at, acknowledged_by=by.username, version=bump),
                _by_person(EventKind.ACKNOWLEDGED, at, by, note))
    if op == Operation.CLEAR:
        return (replace(alarm, active=False, cleared_at=at, cleared_by=by.username, clearer=Clearer.PERSON,
                        version=bump),
                _by_person(EventKind.CLEARED, at, by, note, {"clearer": Clearer.PERSON.value}))
    if op == Operation.ASSIGN:
        if assignee is None:
            raise Invalid("alarms.assignee_required")
        return (replace(alarm, assignee_user_id=assignee, version=bump),
                _by_person(EventKind.ASSIGNED, at, by, note, {"assignee_user_id": assignee}))
    return replace(alarm, version=bump), _by_person(EventKind.COMMENTED, at, by, note)


def _by_person(kind: EventKind, at: datetime, by: Principal, note: str,
               data: Mapping[str, Any] | None = None) -> Event:
    return Event(kind, at, by.username[:64], by.user_id or None, note, {"by": by.display_name, **(data or {})})


def check_note(note: str, *, required: bool = False) -> str:
    """The stripped note, refused when required and empty or when too long."""
    text = (note or "").strip()
    if required and not text:
        raise Invalid("alarms.note_required")
    if len(text) > MAX_NOTE:
        raise Invalid("alarms.note_too_long", max=MAX_NOTE, length=len(text))
    return text


def allowed_operations(alarm: Alarm, role: Role) -> list[Operation]:
    """Operations the table lets this role try on the alarm now (the service still checks everything)."""
    return [op for op, rule in ALLOWED.items()
            if role in rule.roles and not (rule.needs_active and not alarm.active)
            and not (rule.needs_unacknowledged and alarm.acknowledged)]


@dataclass
class Slot:
    """One alarm a batch touches: a stored one (its id and the version read) or a new one (no id yet)."""

    alarm: Alarm
    stored_id: int | None = None
    stored_version: int | None = None
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Effect:
    """One visible change of a batch: which slot, raised/updated/cleared, the alarm just after it, and the
    severity before an update that changed it."""

    slot: int
    kind: EventKind
    alarm: Alarm
    previous_severity: Severity | None = None


@dataclass
class Plan:
    """Everything a batch of transitions does: the alarms to insert or update, and the changes in order."""

    slots: list[Slot] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


def fold(active: Mapping[Key, tuple[int, Alarm]], transitions: Iterable[Transition]) -> Plan:
    """Apply transitions in order to the stored active alarms (by key: id and alarm).

    A FIRE raises (no active alarm) or updates (active alarm); a CLEAR clears the active alarm or, with none, is
    ignored. A FIRE after a CLEAR in the same batch opens a new alarm.
    """
    plan = Plan()
    current: dict[Key, int] = {}  # key -> index of its active slot
    seen: set[Key] = set()  # keys whose stored alarm was taken into a slot (or found absent)
    for t in transitions:
        key = (t.device_id, t.rule_id)
        if key not in seen:
            seen.add(key)
            if key in active:
                stored_id, alarm = active[key]
                plan.slots.append(Slot(alarm, stored_id, alarm.version))
                current[key] = len(plan.slots) - 1
        index = current.get(key)
        if t.change == Change.FIRE:
            _fire(plan, current, key, index, t)
        elif index is not None:
            slot = plan.slots[index]
            slot.alarm, event = auto_cleared(slot.alarm, t)
            slot.events.append(event)
            plan.effects.append(Effect(index, EventKind.CLEARED, slot.alarm))
            del current[key]
    return plan


def _fire(plan: Plan, current: dict[Key, int], key: Key, index: int | None, t: Transition) -> None:
    if index is None:
        alarm, event = raised(t)
        plan.slots.append(Slot(alarm, events=[event]))
        current[key] = len(plan.slots) - 1
        plan.effects.append(Effect(current[key], EventKind.RAISED, alarm))
        return
    slot = plan.slots[index]
    before = slot.alarm.severity
    slot.alarm, event = retriggered(slot.alarm, t)
    slot.events.append(event)
    plan.effects.append(Effect(index, EventKind.UPDATED, slot.alarm,
                               before if before != slot.alarm.severity else None))
