"""Each rule kind as a pure evaluator behind the engine: fire, hysteresis, minimum duration, clear, windows."""

from __future__ import annotations

from chengyun.alarms.signals import Severity
from chengyun.devices.model import DeviceFacts, MessageKind
from tests.unit.alarm_rules_support import T0, changes, engine, feed_all, reading

GAS = DeviceFacts("g1", "gas_detector")

THRESHOLD = """
id: gas
alarm_type: gas_leak
severity: major
applies_to: gas_detector
kind: threshold
params: {property: gas_lel, fire_at: 20, clear_at: 10}
"""


def test_threshold_fires_once_and_clears_only_below_the_lower_bound() -> None:
    eng = engine(THRESHOLD)
    out = feed_all(eng, GAS, [(T0 + i, {"gas_lel": v}) for i, v in enumerate([5, 19.9, 20, 30, 15, 11, 25, 9.99, 12])])
    assert changes(out) == [("fire", "gas", T0 + 2), ("clear", "gas", T0 + 7)]
    assert out[0].params == {"property": "gas_lel", "value": 20.0, "threshold": 20.0}
    assert out[1].params["threshold"] == 10.0 and out[0].severity is Severity.MAJOR and out[0].alarm_type == "gas_leak"
    assert eng.active("g1") == ()


def test_threshold_below_direction_for_hydrant_pressure() -> None:
    eng = engine("""
id: low
alarm_type: hydrant_low_pressure
severity: major
applies_to: hydrant_pressure
kind: threshold
params: {property: pressure, direction: below, fire_at: 0.10, clear_at: 0.14}
""")
    hydrant = DeviceFacts("h1", "hydrant_pressure")
    out = feed_all(eng, hydrant, [(T0 + i, {"pressure": v}) for i, v in enumerate([0.3, 0.1, 0.05, 0.13, 0.15])])
    assert changes(out) == [("fire", "low", T0 + 1), ("clear", "low", T0 + 4)]


def test_threshold_minimum_duration_fires_at_the_end_of_the_hold_by_tick_or_by_reading() -> None:
    rules = THRESHOLD.replace("clear_at: 10}", "clear_at: 10, for: 60}")
    eng = engine(rules)
    assert feed_all(eng, GAS, [(T0, {"gas_lel": 25}), (T0 + 30, {"gas_lel": 26})]) == []
    assert eng.tick(T0 + 59) == []
    fired = eng.tick(T0 + 500)
    assert changes(fired) == [("fire", "gas", T0 + 60)]  # the instant it became true, not the tick's
    # without any tick: the next reading settles the overdue hold first
    eng2 = engine(rules)
    out = feed_all(eng2, GAS, [(T0, {"gas_lel": 25}), (T0 + 90, {"gas_lel": 5})])
    assert changes(out) == [("fire", "gas", T0 + 60), ("clear", "gas", T0 + 90)]


def test_threshold_minimum_duration_restarts_when_a_reading_breaks_it() -> None:
    eng = engine(THRESHOLD.replace("clear_at: 10}", "clear_at: 10, for: 60}"))
    assert feed_all(eng, GAS, [(T0, {"gas_lel": 25}), (T0 + 40, {"gas_lel": 15}), (T0 + 50, {"gas_lel": 25})]) == []
    assert eng.tick(T0 + 100) == []  # 50 s since the restart
    assert changes(eng.tick(T0 + 110)) == [("fire", "gas", T0 + 110)]


def test_threshold_escalates_with_a_refire_and_clears_once() -> None:
    eng = engine(THRESHOLD.replace("clear_at: 10}", "clear_at: 10, escalate: [{at: 50, severity: critical}]}"))
    out = feed_all(eng, GAS, [(T0 + i, {"gas_lel": v}) for i, v in enumerate([25, 55, 60, 30, 55, 5])])
    assert [(t.change.value, t.severity.value) for t in out] == [("fire", "major"), ("fire", "critical"),
                                                               ("clear", "major")]
    eng2 = engine(THRESHOLD.replace("clear_at: 10}", "clear_at: 10, escalate: [{at: 50, severity: critical}]}"))
    first = feed_all(eng2, GAS, [(T0, {"gas_lel": 70})])
    assert [(t.change.value, t.severity.value) for t in first] == [("fire", "critical")]


def test_booleans_count_as_one_and_zero_and_other_properties_are_ignored() -> None:
    eng = engine("""
id: smoke
severity: critical
applies_to: smoke_detector
kind: threshold
params: {property: smoke, fire_at: 1}
""")
    smoke = DeviceFacts("s1", "smoke_detector")
    out = feed_all(eng, smoke, [(T0, {"battery": 5}), (T0 + 1, {"smoke": False}), (T0 + 2, {"smoke": True}),
                                (T0 + 3, {"smoke": True}), (T0 + 4, {"smoke": "n/a"}), (T0 + 5, {"smoke": False})])
    assert changes(out) == [("fire", "smoke", T0 + 2), ("clear", "smoke", T0 + 5)]
    assert out[0].alarm_type == "smoke"  # alarm_type defaults to the rule id


REPEATING = """
id: rep
alarm_type: gas_repeated
severity: warning
applies_to: gas_detector
kind: repeating
params: {property: gas_lel, fire_at: 10, count: 3, window: 10m}
"""


def test_repeating_counts_rising_edges_within_the_window_and_clears_when_one_leaves_it() -> None:
    eng = engine(REPEATING)
    values = [12, 13, 2, 11, 3, 15]  # edges at 0, 180, 300 (13 at 60 s is the same episode)
    out = feed_all(eng, GAS, [(T0 + 60 * i, {"gas_lel": v}) for i, v in enumerate(values)])
    assert changes(out) == [("fire", "rep", T0 + 300)]
    assert out[0].params["count"] == 3
    assert eng.tick(T0 + 599) == []
    assert changes(eng.tick(T0 + 3600)) == [("clear", "rep", T0 + 600)]  # the edge at 0 s leaves the window


def test_repeating_window_cleanup_forgets_old_hits_and_frees_the_state() -> None:
    eng = engine(REPEATING)
    feed_all(eng, GAS, [(T0, {"gas_lel": 12}), (T0 + 1, {"gas_lel": 1}), (T0 + 700, {"gas_lel": 12}),
                        (T0 + 701, {"gas_lel": 1}), (T0 + 1400, {"gas_lel": 12}), (T0 + 1401, {"gas_lel": 1})])
    assert eng.active("g1") == ()  # never three within ten minutes
    eng.tick(T0 + 5000)
    dev = eng._devices["g1"]  # the state is dropped once nothing is left to remember
    assert dev.states[dev.plan.index["rep"]] is None


def test_repeating_on_event_values_counts_every_match() -> None:
    eng = engine("""
id: doors
severity: warning
applies_to: door_sensor
kind: repeating
params: {property: event, value: door_opened, count: 2, window: 60}
""")
    door = DeviceFacts("d1", "door_sensor")
    out = feed_all(eng, door, [(T0, {"event": "door_opened"}), (T0 + 10, {"event": "door_closed"}),
                               (T0 + 20, {"event": "door_opened"})])
    assert changes(out) == [("fire", "doors", T0 + 20)]


def test_rate_of_change_fires_on_a_fast_rise_and_clears_when_it_slows() -> None:
    eng = engine("""
id: rise
alarm_type: ebike_hot_spot
severity: critical
applies_to: thermal_camera
kind: rate
params: {property: temp_max, rate: 10, per: 1m, clear_rate: 2, max_gap: 3m}
""")
    cam = DeviceFacts("c1", "thermal_camera")
    out = feed_all(eng, cam, [(T0, {"temp_max": 25}), (T0 + 30, {"temp_max": 28}), (T0 + 60, {"temp_max": 35}),
                              (T0 + 90, {"temp_max": 38}), (T0 + 120, {"temp_max": 38.5}),
                              (T0 + 1000, {"temp_max": 90}), (T0 + 1000, {"temp_max": 99})])
    # 3/30 s = 6/min; 7/30 s = 14/min fires; 3/30 s = 6/min holds; 0.5/30 s = 1/min clears; a 880 s gap is ignored
    assert changes(out) == [("fire", "rise", T0 + 60), ("clear", "rise", T0 + 120)]
    assert out[0].params["rate"] == 14.0


def test_event_fires_at_once_and_clears_automatically_after_the_last_press() -> None:
    eng = engine("""
id: sos
severity: critical
applies_to: sos_button
kind: event
params: {value: sos_pressed, clear_after: 5m}
""")
    button = DeviceFacts("b1", "sos_button")
    first = eng.feed(reading(button, T0, MessageKind.EVENT, event="sos_pressed"), button)
    again = eng.feed(reading(button, T0 + 120, MessageKind.EVENT, event="sos_pressed"), button)
    assert changes(first) == [("fire", "sos", T0)] and again == []
    assert eng.tick(T0 + 400) == []  # the second press extended it
    assert changes(eng.tick(T0 + 420)) == [("clear", "sos", T0 + 420)]


def test_event_clear_value_and_other_value() -> None:
    eng = engine("""
- id: open_door
  severity: warning
  applies_to: door_sensor
  kind: event
  params: {value: door_opened, clear_value: door_closed}
- id: leak
  severity: major
  applies_to: water_immersion
  kind: event
  params: {property: water_leak, value: true}
""")
    door, leak = DeviceFacts("d1", "door_sensor"), DeviceFacts("w1", "water_immersion")
    out = feed_all(eng, door, [(T0, {"event": "door_opened"}), (T0 + 5, {"event": "tamper"}),
                               (T0 + 9, {"event": "door_closed"})])
    assert changes(out) == [("fire", "open_door", T0), ("clear", "open_door", T0 + 9)]
    out = feed_all(eng, leak, [(T0, {"water_leak": True}), (T0 + 3, {"water_leak": False})])
    assert changes(out) == [("fire", "leak", T0), ("clear", "leak", T0 + 3)]


def test_offline_fires_after_the_timeout_and_clears_on_any_newer_message() -> None:
    eng = engine("""
id: offline
severity: minor
applies_to: smoke_detector
kind: offline
params: {timeout: 15m}
""")
    smoke = DeviceFacts("s1", "smoke_detector")
    eng.feed(reading(smoke, T0, MessageKind.HEARTBEAT), smoke)
    eng.feed(reading(smoke, T0 + 600, MessageKind.HEARTBEAT, battery=80), smoke)
    assert eng.tick(T0 + 1499) == []
    assert changes(eng.tick(T0 + 1600)) == [("fire", "offline", T0 + 1500)]
    assert eng.feed(reading(smoke, T0 + 100, MessageKind.HEARTBEAT), smoke) == []  # older: says nothing of now
    back = eng.feed(reading(smoke, T0 + 2000, MessageKind.EVENT, event="test"), smoke)
    assert changes(back) == [("clear", "offline", T0 + 2000)]


def test_watch_detects_a_device_that_never_reports() -> None:
    eng = engine("""
id: offline
severity: minor
applies_to: smoke_detector
kind: offline
params: {timeout: 60}
""")
    eng.watch(DeviceFacts("s9", "smoke_detector"), T0)
    assert [(t.device_id, t.at) for t in eng.tick(T0 + 61)] == [("s9", T0 + 60)]


def test_inactivity_on_a_cumulative_meter_ignores_flat_and_falling_values() -> None:
    eng = engine("""
id: idle
severity: major
applies_to: water_meter
kind: inactivity
params: {property: water_total, for: 1h}
""")
    meter = DeviceFacts("w1", "water_meter")
    out = feed_all(eng, meter, [(T0, {"water_total": 10.0}), (T0 + 1800, {"water_total": 10.0}),
                                (T0 + 3000, {"flow": 0.0}), (T0 + 3300, {"water_total": 2.0})])
    assert out == []  # a replaced meter (fall) is no sign of life
    assert changes(eng.tick(T0 + 3700)) == [("fire", "idle", T0 + 3600)]
    back = feed_all(eng, meter, [(T0 + 4000, {"water_total": 2.5})])
    assert changes(back) == [("clear", "idle", T0 + 4000)]
    assert changes(eng.tick(T0 + 4000 + 3600)) == [("fire", "idle", T0 + 7600)]
