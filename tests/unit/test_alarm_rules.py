"""Rule files (YAML) with precise errors, schedules on the Chinese working calendar, overrides, household rules,
and the engine's lifecycle helpers (watch, assume_active, forget, changed facts)."""

from __future__ import annotations

import pytest

from chengyun.alarms.rule_params import Kind, OfflineParams, ThresholdParams
from chengyun.alarms.rules import default_rules, load_rules
from chengyun.alarms.schedule import Days, Schedule, ScheduleClock
from chengyun.alarms.signals import Severity
from chengyun.cases.calendar import WorkingCalendar
from chengyun.devices.model import DeviceFacts, MessageKind
from chengyun.errors import Invalid
from chengyun.i18n import translate
from tests.unit.alarm_rules_support import T0, changes, engine, feed_all, local, reading

BASE = """
id: gas
alarm_type: gas_leak
severity: critical
applies_to: gas_detector
kind: threshold
params: {property: gas_lel, fire_at: 20, clear_at: 10}
"""


def error(text: str) -> Invalid:
    with pytest.raises(Invalid) as caught:
        load_rules(text)
    return caught.value


# --- rule files -----------------------------------------------------------------------------------------------


def test_default_rules_cover_every_default_alarm_type() -> None:
    rules = default_rules()
    alarm_types = {rule.alarm_type for rule in rules.rules if rule.emit}
    assert alarm_types == {"gas_leak", "smoke", "sos", "elderly_inactivity", "household_silence",
                           "hydrant_low_pressure", "water_intrusion", "ebike_hot_spot", "device_offline",
                           "low_battery", "gas_repeated"}
    assert {rule.kind for rule in rules.rules} == set(Kind)
    severities = {rule.alarm_type: rule.severity for rule in rules.rules if rule.emit}
    assert severities["gas_leak"] is Severity.CRITICAL and severities["device_offline"] is Severity.MINOR
    assert severities["low_battery"] is Severity.WARNING and severities["household_silence"] is Severity.MAJOR


@pytest.mark.parametrize(("text", "code", "params"), [
    (BASE.replace("kind: threshold", "kind: thresold"), "alarms.rules.unknown_kind",
     {"rule": "gas", "kind": "thresold"}),
    (BASE.replace("fire_at: 20, ", ""), "alarms.rules.missing_field", {"rule": "gas", "field": "params.fire_at"}),
    (BASE.replace("severity: critical\n", ""), "alarms.rules.missing_field", {"rule": "gas", "field": "severity"}),
    (BASE.replace("clear_at: 10", "clear_at: 30"), "alarms.rules.bad_hysteresis", {"rule": "gas", "clear_at": 30.0}),
    (BASE.replace("clear_at: 10", "clear_at: 10, fire_after: 3"), "alarms.rules.unknown_field",
     {"rule": "gas", "field": "params.fire_after"}),
    (BASE.replace("fire_at: 20", "fire_at: lots"), "alarms.rules.bad_value",
     {"rule": "gas", "field": "params.fire_at", "value": "lots", "expected": "number"}),
    (BASE + "schedule: {windows: ['25:00-06:00']}\n", "alarms.rules.bad_value", {"field": "schedule.windows[0]"}),
    (BASE + "schedule: {days: weekdays}\n", "alarms.rules.bad_value", {"field": "schedule.days"}),
    (BASE + "overrides: [{params: {fire_at: 30}}]\n", "alarms.rules.missing_field",
     {"field": "overrides[0].device_type|area|place"}),
    (BASE + "overrides: [{place: B-1, params: {fire_at: 5}}]\n", "alarms.rules.bad_hysteresis",
     {"field": "overrides[0].params.clear_at"}),
    (BASE.replace("id: gas", "id: 'Gas Leak'"), "alarms.rules.bad_value", {"field": "id"}),
    (BASE.replace("id: gas", "id: off"), "alarms.rules.bad_value", {"rule": "#1", "field": "id"}),
    ("id: gas\nkind: [threshold\n", "alarms.rules.bad_yaml", {}),
    ("just text", "alarms.rules.no_rules", {}),
    ("rules: []", "alarms.rules.no_rules", {}),
    ("- " + BASE.strip().replace("\n", "\n  ") + "\n- " + BASE.strip().replace("\n", "\n  "),
     "alarms.rules.duplicate_id", {"rule": "gas"}),
    ("id: hs\nseverity: major\nkind: composite\nparams: {all: [a, b]}\n", "alarms.rules.unknown_component",
     {"rule": "hs", "component": "a"}),
    ("id: hs\nseverity: major\nkind: composite\nparams: {all: [a, b]}\nschedule: {days: every_day}\n",
     "alarms.rules.unknown_field", {"rule": "hs", "field": "schedule"}),
    ("id: hs\nseverity: major\nkind: composite\napplies_to: door_sensor\nparams: {all: [a, b]}\n",
     "alarms.rules.unknown_field", {"rule": "hs", "field": "applies_to"}),
    ("id: x\nseverity: major\napplies_to: door_sensor\nkind: repeating\nparams: {property: event, count: 3, "
     "window: 1m}\n", "alarms.rules.missing_field", {"field": "params.fire_at"}),
    ("id: x\nseverity: major\napplies_to: door_sensor\nkind: offline\nparams: {timeout: soon}\n",
     "alarms.rules.bad_value", {"field": "params.timeout", "expected": "duration"}),
])
def test_rule_file_errors_name_the_rule_and_the_field(text: str, code: str, params: dict[str, object]) -> None:
    exc = error(text)
    assert exc.code == code
    assert params.items() <= exc.params.items()
    for locale in ("zh-CN", "en"):
        sentence = translate(exc.code, locale, **exc.params)
        assert sentence != exc.code and "{" not in sentence


def test_yaml_syntax_errors_give_the_line() -> None:
    exc = error("rules:\n  - id: a\n    params: {fire_at: [1, 2}\n")
    assert exc.code == "alarms.rules.bad_yaml" and exc.params["line"] == 3


def test_durations_and_defaults_parse() -> None:
    rules = load_rules("""
rules:
  - {id: a, severity: minor, applies_to: [smoke_detector, gas_detector], kind: offline, params: {timeout: 1.5h}}
  - {id: b, severity: minor, applies_to: gas_detector, kind: threshold, params: {property: x, fire_at: 3, for: 90}}
""")
    assert rules.by_id("a").params == OfflineParams(5400.0)
    assert rules.by_id("a").applies_to == ("smoke_detector", "gas_detector")
    b = rules.by_id("b").params
    assert isinstance(b, ThresholdParams) and b.clear_at == 3.0 and b.hold == 90.0
    with pytest.raises(Invalid):
        rules.by_id("zzz")


# --- overrides ------------------------------------------------------------------------------------------------


OVERRIDDEN = BASE + """overrides:
  - {device_type: gas_detector, params: {fire_at: 25, clear_at: 12}}
  - {area: "510113002", params: {fire_at: 30, clear_at: 15}}
  - {area: "510113002001", params: {fire_at: 35, clear_at: 15}}
  - {place: B-7, params: {fire_at: 40, clear_at: 15}}
  - {place: C-2, params: {fire_at: 45, clear_at: 15}}
"""


@pytest.mark.parametrize(("facts", "fire_at"), [
    (DeviceFacts("a", "gas_detector"), 25.0),
    (DeviceFacts("b", "gas_detector", "510113002009", "/510113/510113002/510113002009/"), 30.0),
    (DeviceFacts("c", "gas_detector", "510113002001", "/510113/510113002/510113002001/"), 35.0),
    (DeviceFacts("d", "gas_detector", "510113002001", "/510113/510113002/510113002001/", ("B-7", "C-2")), 40.0),
    (DeviceFacts("e", "gas_detector", "510113002001", "", ("B-9", "C-2")), 45.0),
    (DeviceFacts("f", "gas_detector", "510114001001", "/510114/510114001/510114001001/"), 25.0),
])
def test_the_most_specific_override_replaces_the_params(facts: DeviceFacts, fire_at: float) -> None:
    rule = load_rules(OVERRIDDEN).by_id("gas")
    params = rule.params_for(facts)
    assert isinstance(params, ThresholdParams) and params.fire_at == fire_at


def test_overrides_act_in_the_engine_and_devices_share_evaluators() -> None:
    eng = engine(OVERRIDDEN)
    plain, at_place = DeviceFacts("a", "gas_detector"), DeviceFacts("d", "gas_detector", place_codes=("B-7",))
    twin = DeviceFacts("a2", "gas_detector")
    out = [*eng.feed(reading(plain, T0, gas_lel=30), plain), *eng.feed(reading(at_place, T0, gas_lel=30), at_place),
           *eng.feed(reading(twin, T0, gas_lel=1), twin)]
    assert [(t.device_id, t.change.value) for t in out] == [("a", "fire")]
    assert eng._devices["a"].plan is eng._devices["a2"].plan
    assert eng._devices["a"].plan is not eng._devices["d"].plan


def test_rules_apply_only_to_their_types_and_resident_only_rules_to_bound_devices() -> None:
    eng = engine("""
- {id: idle, severity: major, applies_to: water_meter, resident_only: true, kind: inactivity,
   params: {property: water_total, for: 1h}}
- {id: gas, severity: critical, applies_to: gas_detector, kind: threshold, params: {property: gas_lel, fire_at: 20}}
""")
    lonely, plain = DeviceFacts("w1", "water_meter", resident_id=7), DeviceFacts("w2", "water_meter")
    for meter in (lonely, plain):
        eng.feed(reading(meter, T0, water_total=1.0, gas_lel=50), meter)
    assert [(t.device_id, t.rule_id) for t in eng.tick(T0 + 7200)] == [("w1", "idle")]


# --- schedules ------------------------------------------------------------------------------------------------


def test_schedule_windows_and_working_days_follow_the_chinese_calendar() -> None:
    clock = ScheduleClock(Schedule(((540, 1020),), Days.WORKING_DAYS), WorkingCalendar())
    assert clock.active(local("2025-10-13 10:00"))  # Monday
    assert not clock.active(local("2025-10-13 17:00"))  # window ends at 17:00
    assert not clock.active(local("2025-10-01 10:00"))  # National Day
    assert clock.active(local("2025-10-11 10:00"))  # Saturday made a working day (调休)
    assert not clock.active(local("2025-10-12 10:00"))  # an ordinary Sunday
    assert clock.advance(local("2025-10-10 16:00"), 2 * 3600) == local("2025-10-11 10:00")
    assert clock.counted(local("2025-10-10 16:00"), local("2025-10-13 10:00")) == (1 + 8 + 1) * 3600


def test_windows_across_midnight_and_days_off() -> None:
    clock = ScheduleClock(Schedule(((0, 360), (1320, 1440)), Days.DAYS_OFF), WorkingCalendar())
    assert clock.active(local("2025-10-12 23:00")) and clock.active(local("2025-10-12 05:59"))
    assert not clock.active(local("2025-10-11 23:00"))  # the make-up Saturday is a working day
    assert ScheduleClock(Schedule((), Days.EVERY_DAY), WorkingCalendar()).advance(T0, 60) is None


def test_inactivity_counts_only_daytime_hours() -> None:
    eng = engine("""
id: elderly
severity: major
applies_to: water_meter
kind: inactivity
params: {property: water_total, for: 12h}
schedule: {windows: ["06:00-22:00"]}
""")
    meter = DeviceFacts("w1", "water_meter")
    eng.feed(reading(meter, local("2025-10-13 20:00"), water_total=5.0), meter)
    assert eng.tick(local("2025-10-14 15:59")) == []  # 2 h on Monday evening + 9 h 59 min on Tuesday
    assert changes(eng.tick(local("2025-10-14 23:00"))) == [("fire", "elderly", local("2025-10-14 16:00"))]


def test_schedule_gates_firing_of_reading_driven_rules_but_not_clearing() -> None:
    eng = engine(BASE + "schedule: {days: working_days, windows: ['08:00-18:00']}\n")
    gas = DeviceFacts("g1", "gas_detector")
    out = feed_all(eng, gas, [(local("2025-10-11 09:00"), {"gas_lel": 50}),  # make-up Saturday: fires
                              (local("2025-10-11 19:00"), {"gas_lel": 5}),  # clears outside the window
                              (local("2025-10-12 09:00"), {"gas_lel": 50}),  # Sunday: nothing
                              (local("2025-10-13 07:59"), {"gas_lel": 50}),  # Monday before the window
                              (local("2025-10-13 08:00"), {"gas_lel": 50})])
    assert changes(out) == [("fire", "gas", local("2025-10-11 09:00")), ("clear", "gas", local("2025-10-11 19:00")),
                            ("fire", "gas", local("2025-10-13 08:00"))]


# --- households -----------------------------------------------------------------------------------------------


def household_engine():  # type: ignore[no-untyped-def]
    rules = default_rules()
    from chengyun.alarms.engine import RuleEngine

    return RuleEngine(rules)


def test_household_silence_needs_every_component_on_every_member() -> None:
    eng = household_engine()
    door = DeviceFacts("d1", "door_sensor", household="H1")
    meter = DeviceFacts("w1", "water_meter", household="H1")
    meter2 = DeviceFacts("w2", "water_meter", household="H1")
    other = DeviceFacts("d9", "door_sensor", household="H2")
    eng.feed(reading(door, T0, MessageKind.EVENT, event="door_opened"), door)
    eng.feed(reading(meter, T0 + 60, water_total=3.0), meter)
    eng.feed(reading(meter2, T0 + 60, water_total=8.0), meter2)
    eng.feed(reading(other, T0, MessageKind.EVENT, event="door_opened"), other)
    eng.feed(reading(meter2, T0 + 7200, water_total=8.5), meter2)  # the second meter is used
    silence = [t for t in eng.tick(T0 + 86400 + 3600) if t.rule_id == "household_silence"]
    assert silence == []
    fired = [t for t in eng.tick(T0 + 7200 + 86400) if t.rule_id == "household_silence"]
    assert [(t.change.value, t.device_id, t.at) for t in fired] == [("fire", "d1", T0 + 7200 + 86400)]
    assert fired[0].params["household"] == "H1" and eng.holds("w1", "household_silence")
    assert not eng.holds("d9", "household_silence")  # no water meter there: cannot judge, never fires
    cleared = eng.feed(reading(door, T0 + 100_000, MessageKind.EVENT, event="door_opened"), door)
    assert [(t.rule_id, t.change.value, t.device_id) for t in cleared if t.rule_id == "household_silence"] == \
        [("household_silence", "clear", "d1")]
    assert all(t.rule_id not in {"door_quiet", "water_quiet"} for t in cleared)  # internal rules never surface


def test_household_verdict_does_not_depend_on_ticks() -> None:
    def run(ticks: bool) -> list[tuple[str, str, float]]:
        eng = household_engine()
        door = DeviceFacts("d1", "door_sensor", household="H1")
        meter = DeviceFacts("w1", "water_meter", household="H1")
        eng.feed(reading(door, T0, MessageKind.EVENT, event="door_opened"), door)
        eng.feed(reading(meter, T0, water_total=3.0), meter)
        out = eng.tick(T0 + 90_000) if ticks else []
        out += eng.feed(reading(meter, T0 + 100_000, water_total=4.0), meter)
        return [c for c in changes(out) if c[1] == "household_silence"]

    assert run(True) == run(False) == [("fire", "household_silence", T0 + 86400),
                                       ("clear", "household_silence", T0 + 100_000)]


# --- lifecycle ------------------------------------------------------------------------------------------------


def test_assume_active_restores_a_held_rule_so_the_next_normal_reading_clears_it() -> None:
    eng = engine(BASE)
    gas = DeviceFacts("g1", "gas_detector")
    eng.assume_active(gas, "gas", T0)
    assert eng.active("g1") == ("gas",)
    assert eng.feed(reading(gas, T0 + 1, gas_lel=25), gas) == []  # still holding: no second fire
    assert changes(eng.feed(reading(gas, T0 + 2, gas_lel=1), gas)) == [("clear", "gas", T0 + 2)]
    with pytest.raises(Invalid) as caught:
        eng.assume_active(gas, "nope", T0)
    assert caught.value.code == "alarms.rules.not_applicable"


def test_assume_active_for_time_driven_kinds() -> None:
    eng = default_engine = household_engine()
    button = DeviceFacts("b1", "sos_button")
    default_engine.assume_active(button, "sos", T0)
    default_engine.assume_active(button, "device_offline", T0)
    assert set(eng.active("b1")) == {"sos", "device_offline"}
    out = eng.feed(reading(button, T0 + 10, MessageKind.HEARTBEAT, battery=90), button)
    assert changes(out) == [("clear", "device_offline", T0 + 10)]
    assert changes(eng.tick(T0 + 400)) == [("clear", "sos", T0 + 300)]


def test_forget_clears_what_held_and_changed_facts_move_the_device() -> None:
    eng = engine(BASE + "overrides: [{place: B-7, params: {fire_at: 40, clear_at: 15}}]\n")
    gas = DeviceFacts("g1", "gas_detector")
    assert changes(eng.feed(reading(gas, T0, gas_lel=30), gas)) == [("fire", "gas", T0)]
    moved = DeviceFacts("g1", "gas_detector", place_codes=("B-7",))
    assert eng.feed(reading(moved, T0 + 1, gas_lel=30), moved) == []  # state kept, new params in force
    assert changes(eng.feed(reading(moved, T0 + 2, gas_lel=14), moved)) == [("clear", "gas", T0 + 2)]
    eng.feed(reading(moved, T0 + 3, gas_lel=45), moved)
    retyped = DeviceFacts("g1", "smoke_detector")
    out = eng.feed(reading(retyped, T0 + 4, smoke=True), retyped)
    assert [(t.change.value, t.params) for t in out] == [("clear", {"reason": "not_watched"})]
    eng.feed(reading(moved, T0 + 5, gas_lel=45), moved)
    assert changes(eng.forget("g1", T0 + 6)) == [("clear", "gas", T0 + 6)]
    assert eng.forget("g1", T0 + 7) == [] and eng.device_count == 0
