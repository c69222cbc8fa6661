"""The alarm aggregate: raise, re-trigger, clear, a new alarm after a clear, people's operations, random sequences."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chengyun.alarms.model import (
    ALLOWED,
    Alarm,
    Clearer,
    EventKind,
    Key,
    Operation,
    Place,
    allowed_operations,
    codes_of,
    codes_text,
    decide,
    fold,
    jsonable,
    moment,
    place_of,
)
from chengyun.alarms.signals import Change, Severity, Transition
from chengyun.auth.model import Principal, Role
from chengyun.devices.model import DeviceFacts
from chengyun.errors import Conflict, Forbidden, Invalid

T0 = 1_790_000_000.0
OPERATOR = Principal(7, "op1", "值班员", Role.OPERATOR, "510113002000", "/510100000000/510113000000/510113002000/")
GRID = Principal(8, "grid1", "网格员", Role.GRID_WORKER, "510113002001", "/x/")
AUDITOR = Principal(9, "aud1", "审计员", Role.AUDITOR, "510113002000", "/x/")


def fire(device: str = "gas-1", rule: str = "gas_high", at: float = T0, severity: Severity = Severity.CRITICAL,
         **params: object) -> Transition:
    return Transition(rule, "gas_leak", severity, Change.FIRE, device, at, params or {"gas_lel": 25.0})


def clear(device: str = "gas-1", rule: str = "gas_high", at: float = T0 + 60) -> Transition:
    return Transition(rule, "gas_leak", Severity.CRITICAL, Change.CLEAR, device, at, {"gas_lel": 2.0})


def test_a_fire_raises_an_active_unacknowledged_alarm() -> None:
    plan = fold({}, [fire()])
    [slot] = plan.slots
    assert slot.stored_id is None and slot.alarm.active and not slot.alarm.acknowledged
    assert slot.alarm.status == "active_unacknowledged" and slot.alarm.count == 1
    assert slot.alarm.first_at == slot.alarm.last_at == datetime.fromtimestamp(T0, UTC)
    assert [e.kind for e in slot.events] == [EventKind.RAISED] and slot.events[0].actor == "rule:gas_high"
    assert [(e.slot, e.kind) for e in plan.effects] == [(0, EventKind.RAISED)]


def test_a_re_trigger_updates_the_active_alarm_and_a_clear_then_fire_opens_a_new_one() -> None:
    plan = fold({}, [fire(), fire(at=T0 + 30, severity=Severity.MAJOR, gas_lel=40.0), clear(at=T0 + 90),
                     fire(at=T0 + 120)])
    first, second = plan.slots
    assert (first.alarm.count, first.alarm.params, first.alarm.severity) == (2, {"gas_lel": 40.0}, Severity.MAJOR)
    assert not first.alarm.active and first.alarm.clearer == Clearer.RULE
    assert first.alarm.cleared_at == moment(T0 + 90) and first.alarm.last_at == moment(T0 + 90)
    assert second.alarm.active and second.alarm.count == 1 and second.alarm.first_at == moment(T0 + 120)
    assert [(e.slot, e.kind) for e in plan.effects] == [(0, "raised"), (0, "updated"), (0, "cleared"),
                                                         (1, "raised")]
    assert plan.effects[1].previous_severity == Severity.CRITICAL and plan.effects[0].alarm.count == 1
    assert first.alarm.version == 3 and [e.kind for e in first.events] == ["raised", "updated", "cleared"]


def test_a_stored_active_alarm_is_updated_and_a_clear_without_one_is_ignored() -> None:
    stored = fold({}, [fire()]).slots[0].alarm
    plan = fold({("gas-1", "gas_high"): (41, stored)}, [fire(at=T0 + 5), clear("smoke-9", "smoke_on")])
    [slot] = plan.slots
    assert (slot.stored_id, slot.stored_version, slot.alarm.count, slot.alarm.version) == (41, 1, 2, 2)
    assert [e.kind for e in plan.effects] == [EventKind.UPDATED] and plan.effects[0].previous_severity is None


def test_acknowledge_once_and_precise_errors() -> None:
    alarm = fold({}, [fire()]).slots[0].alarm
    at = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    acked, event = decide(alarm, Operation.ACKNOWLEDGE, OPERATOR, at, "  已电话联系住户  ")
    assert acked.acknowledged and acked.active and acked.acknowledged_by == "op1" and acked.acknowledged_at == at
    assert (event.kind, event.note, event.actor_id, event.data["by"]) == ("acknowledged", "已电话联系住户", 7, "值班员")
    with pytest.raises(Conflict) as twice:
        decide(acked, Operation.ACKNOWLEDGE, GRID, at)
    assert twice.value.code == "alarms.already_acknowledged" and twice.value.params == {"by": "op1"}
    with pytest.raises(Forbidden) as auditor:
        decide(alarm, Operation.ACKNOWLEDGE, AUDITOR, at)
    assert auditor.value.code == "alarms.role_not_allowed" and auditor.value.params["role"] == "auditor"


def test_manual_clear_then_clearing_again_or_assigning_is_refused_but_acknowledging_is_not() -> None:
    alarm = fold({}, [fire()]).slots[0].alarm
    at = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    cleared, event = decide(alarm, Operation.CLEAR, GRID, at, "现场已关阀")
    assert not cleared.active and cleared.clearer == Clearer.PERSON and cleared.cleared_by == "grid1"
    assert event.data["clearer"] == "person" and cleared.status == "cleared_unacknowledged"
    with pytest.raises(Conflict) as again:
        decide(cleared, Operation.CLEAR, OPERATOR, at)
    assert again.value.code == "alarms.already_cleared"
    with pytest.raises(Conflict) as assign:
        decide(cleared, Operation.ASSIGN, OPERATOR, at, assignee=3)
    assert assign.value.code == "alarms.not_active"
    acked, _ = decide(cleared, Operation.ACKNOWLEDGE, OPERATOR, at)
    assert acked.status == "cleared_acknowledged"
    assert allowed_operations(acked, Role.OPERATOR) == [Operation.COMMENT]


def test_comments_need_text_notes_are_bounded_and_assigning_needs_someone() -> None:
    alarm = fold({}, [fire()]).slots[0].alarm
    at = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
    with pytest.raises(Invalid) as empty:
        decide(alarm, Operation.COMMENT, OPERATOR, at, "   ")
    assert empty.value.code == "alarms.note_required"
    with pytest.raises(Invalid) as long:
        decide(alarm, Operation.ACKNOWLEDGE, OPERATOR, at, "长" * 1001)
    assert long.value.code == "alarms.note_too_long" and long.value.params == {"max": 1000, "length": 1001}
    with pytest.raises(Invalid) as nobody:
        decide(alarm, Operation.ASSIGN, OPERATOR, at)
    assert nobody.value.code == "alarms.assignee_required"
    with pytest.raises(Forbidden):
        decide(alarm, Operation.ASSIGN, GRID, at, assignee=3)  # only the centre assigns
    assigned, event = decide(alarm, Operation.ASSIGN, OPERATOR, at, assignee=3)
    assert assigned.assignee_user_id == 3 and event.data["assignee_user_id"] == 3 and assigned.version == 2
    commented, _ = decide(alarm, Operation.COMMENT, GRID, at, "已上门")
    assert commented.version == 2 and commented.active and not commented.acknowledged


def test_the_operation_table_and_helpers() -> None:
    assert set(ALLOWED) == set(Operation)
    assert Role.AUDITOR not in set().union(*(rule.roles for rule in ALLOWED.values()))
    assert codes_text(["B-01", "C-1"]) == "/B-01/C-1/" and codes_of("/B-01/C-1/") == ("B-01", "C-1")
    assert codes_text([]) == "" and codes_of(None) == ()
    assert jsonable({"v": float("nan"), "ok": True, "x": (1, 2), "n": None}) == {"v": "nan", "ok": True,
                                                                                 "x": "(1, 2)", "n": None}
    facts = DeviceFacts("gas-1", "gas_detector", "510113002001001", "/p/", ("B-01", "C-1"), "B-01/2/301", 5)
    assert place_of(facts) == Place("510113002001001", "/p/", ("B-01", "C-1"), "B-01/2/301", 5)
    assert place_of(None) == Place()


# --- random sequences: the invariants hold whatever the order -------------------------------------------------


@dataclass
class Ledger:
    """An in-memory stand-in for the table: alarms by id, the way the service stores a plan."""

    alarms: dict[int, Alarm] = field(default_factory=dict)
    ever_cleared: set[int] = field(default_factory=set)

    def active(self) -> dict[Key, tuple[int, Alarm]]:
        found: dict[Key, tuple[int, Alarm]] = {}
        for alarm_id, alarm in self.alarms.items():
            if alarm.active:
                assert alarm.key not in found, "two active alarms for one device and rule"
                found[alarm.key] = (alarm_id, alarm)
        return found

    def apply(self, batch: list[Transition]) -> None:
        plan = fold(self.active(), batch)
        for slot in plan.slots:
            if slot.stored_id is None:
                self.alarms[len(self.alarms) + 1] = slot.alarm
            else:
                assert self.alarms[slot.stored_id].version == slot.stored_version
                self.alarms[slot.stored_id] = slot.alarm


KEYS = st.sampled_from([("gas-1", "gas_high"), ("gas-1", "gas_repeat"), ("smoke-2", "smoke_on")])
TRANSITIONS = st.builds(lambda key, change, dt, severity: Transition(
    key[1], "gas_leak", severity, change, key[0], T0 + dt), KEYS, st.sampled_from(list(Change)),
    st.floats(0, 86_400), st.sampled_from(list(Severity)))
PEOPLE = st.sampled_from([OPERATOR, GRID, AUDITOR])
STEPS = st.one_of(st.lists(TRANSITIONS, min_size=1, max_size=6).map(lambda b: ("batch", b)),
                  st.tuples(st.sampled_from(list(Operation)), PEOPLE, st.integers(1, 12)).map(lambda s: ("op", s)))


@settings(max_examples=300, deadline=None)
@given(st.lists(STEPS, max_size=40))
def test_random_sequences_keep_one_active_alarm_per_key_and_never_reactivate_a_cleared_one(steps: list) -> None:
    ledger = Ledger()
    at = datetime(2026, 12, 4, tzinfo=UTC)
    for kind, step in steps:
        if kind == "batch":
            ledger.apply(step)
        else:
            op, who, alarm_id = step
            if alarm_id not in ledger.alarms:
                continue
            before = ledger.alarms[alarm_id]
            try:
                ledger.alarms[alarm_id], event = decide(before, op, who, at, "说明", assignee=3)
            except (Conflict, Forbidden, Invalid):
                assert ledger.alarms[alarm_id] is before  # a refusal changes nothing
            else:
                assert ledger.alarms[alarm_id].version == before.version + 1 and event.at == at
        ledger.active()  # asserts at most one active alarm per key
        for alarm_id, alarm in ledger.alarms.items():
            if alarm_id in ledger.ever_cleared:
                assert not alarm.active, "a cleared alarm became active again"
            if not alarm.active:
                ledger.ever_cleared.add(alarm_id)
                assert alarm.cleared_at is not None and alarm.clearer is not None
            assert alarm.count >= 1 and alarm.first_at <= alarm.last_at + timedelta(0)
