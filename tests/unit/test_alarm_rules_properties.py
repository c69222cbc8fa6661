"""Properties of the rule engine over random reading streams (hypothesis): verdicts alternate, hysteresis holds,
ticks and batching change nothing, devices do not influence each other."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from chengyun.alarms.engine import RuleEngine
from chengyun.alarms.rules import default_rules
from chengyun.alarms.signals import Transition
from chengyun.devices.model import DeviceFacts, MessageKind, Reading
from tests.unit.alarm_rules_support import FIRE, T0, engine, reading

CHECK = settings(deadline=None, max_examples=120)  # no wall-clock limits in unit tests

DEVICES = [
    DeviceFacts("g1", "gas_detector", household="H"),
    DeviceFacts("s1", "smoke_detector"),
    DeviceFacts("w1", "water_meter", household="H", resident_id=1),
    DeviceFacts("d1", "door_sensor", household="H"),
    DeviceFacts("b1", "sos_button"),
    DeviceFacts("c1", "thermal_camera"),
    DeviceFacts("p1", "hydrant_pressure"),
    DeviceFacts("i1", "water_immersion"),
]
PAYLOADS: dict[str, st.SearchStrategy[tuple[MessageKind, dict[str, object]]]] = {
    "gas_detector": st.tuples(st.just(MessageKind.TELEMETRY),
                              st.fixed_dictionaries({"gas_lel": st.sampled_from([0.0, 5.0, 9.0, 10.0, 15.0, 20.0,
                                                                                 35.0, 60.0])})),
    "smoke_detector": st.tuples(st.just(MessageKind.TELEMETRY), st.fixed_dictionaries({"smoke": st.booleans()})),
    "water_meter": st.tuples(st.just(MessageKind.TELEMETRY),
                             st.fixed_dictionaries({"water_total": st.sampled_from([1.0, 1.0, 2.0, 3.0])})),
    "door_sensor": st.tuples(st.just(MessageKind.EVENT),
                             st.fixed_dictionaries({"event": st.sampled_from(["door_opened", "door_closed"])})),
    "sos_button": st.tuples(st.sampled_from([MessageKind.EVENT, MessageKind.HEARTBEAT]),
                            st.one_of(st.just({"event": "sos_pressed"}),
                                      st.fixed_dictionaries({"battery": st.sampled_from([10.0, 25.0, 50.0])}))),
    "thermal_camera": st.tuples(st.just(MessageKind.TELEMETRY),
                                st.fixed_dictionaries({"temp_max": st.sampled_from([20.0, 30.0, 45.0, 65.0])})),
    "hydrant_pressure": st.tuples(st.just(MessageKind.TELEMETRY),
                                  st.fixed_dictionaries({"pressure": st.sampled_from([0.05, 0.12, 0.3])})),
    "water_immersion": st.tuples(st.just(MessageKind.TELEMETRY), st.fixed_dictionaries({"water_leak": st.booleans()})),
}


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[Reading, DeviceFacts, bool]]:
    """Readings in time order, each flagged whether a tick runs just before it."""
    out: list[tuple[Reading, DeviceFacts, bool]] = []
    ts = T0
    for n in range(draw(st.integers(1, 60))):
        ts += draw(st.sampled_from([0.0, 1.0, 30.0, 61.0, 400.0, 1000.0, 4000.0, 50_000.0]))
        device = draw(st.sampled_from(DEVICES))
        kind, values = draw(PAYLOADS[device.type_code])
        out.append((Reading(device.device_id, device.type_code, kind, ts, values, str(n)), device, draw(st.booleans())))
    return out


def by_key(transitions: list[Transition]) -> dict[tuple[str, str], list[tuple[str, str, float]]]:
    grouped: dict[tuple[str, str], list[tuple[str, str, float]]] = defaultdict(list)
    for t in transitions:
        grouped[(t.device_id, t.rule_id)].append((t.change.value, t.severity.value, t.at))
    return dict(grouped)


def run(stream: list[tuple[Reading, DeviceFacts, bool]], ticks: bool) -> list[Transition]:
    eng = RuleEngine(default_rules())
    out: list[Transition] = []
    for r, device, tick in stream:
        if ticks and tick:
            out.extend(eng.tick(r.ts - 0.5))
        out.extend(eng.feed(r, device))
    out.extend(eng.tick(stream[-1][0].ts + 200_000))
    return out


@CHECK
@given(st.lists(st.floats(min_value=-5, max_value=60, allow_nan=False), min_size=1, max_size=80),
       st.floats(0, 20), st.floats(0, 20))
def test_threshold_with_hysteresis_alternates_and_respects_both_bounds(values: list[float], gap: float,
                                                                        hold_s: float) -> None:
    fire_at, clear_at, hold_s = 30.0, round(30.0 - gap, 3), round(hold_s, 3)
    eng = engine(f"""
id: t
severity: major
applies_to: gas_detector
kind: threshold
params: {{property: gas_lel, fire_at: {fire_at}, clear_at: {clear_at}, for: {hold_s}}}
""")
    gas = DeviceFacts("g", "gas_detector")
    out: list[Transition] = []
    for i, value in enumerate(values):
        out.extend(eng.feed(reading(gas, T0 + 7 * i, gas_lel=value), gas))
    expected = FIRE
    for t in out:
        assert t.change is expected
        value = float(t.params["value"])  # type: ignore[arg-type]
        assert value >= fire_at if t.change is FIRE else value < clear_at
        expected = t.change.__class__("clear" if expected is FIRE else "fire")


@CHECK
@given(streams())
def test_verdicts_alternate_fire_then_clear_per_device_and_rule(stream: list[tuple[Reading, DeviceFacts, bool]]) \
        -> None:
    for key, seq in by_key(run(stream, ticks=True)).items():
        assert [c for c, _, _ in seq] == ["fire", "clear"] * (len(seq) // 2) + ["fire"] * (len(seq) % 2), key
        assert [at for _, _, at in seq] == sorted(at for _, _, at in seq), key


@CHECK
@given(streams())
def test_ticks_in_between_change_nothing(stream: list[tuple[Reading, DeviceFacts, bool]]) -> None:
    assert by_key(run(stream, ticks=True)) == by_key(run(stream, ticks=False))


@CHECK
@given(streams())
def test_batch_equals_one_by_one_and_devices_do_not_influence_each_other(
        stream: list[tuple[Reading, DeviceFacts, bool]]) -> None:
    alone = [(r, d) for r, d, _ in stream if d.household is None]
    if not alone:
        return
    one_by_one = RuleEngine(default_rules())
    singles = [t for r, d in alone for t in one_by_one.feed(r, d)]
    assert RuleEngine(default_rules()).feed_many(alone) == singles
    grouped = RuleEngine(default_rules())  # every device's readings fed in one run, device after device
    per_device = [t for device_id in sorted({r.device_id for r, _ in alone})
                  for t in grouped.feed_many([(r, d) for r, d in alone if r.device_id == device_id])]
    assert by_key(per_device) == by_key(singles)
