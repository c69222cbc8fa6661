"""The device simulator: every message it makes passes the real payload checks, and each scenario raises its
alarm in the real rule engine (in-process publisher, simulated time)."""

from __future__ import annotations

import json
import random
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from chengyun.alarms.engine import RuleEngine
from chengyun.alarms.rules import default_rules
from chengyun.alarms.signals import Change, Transition
from chengyun.devices.catalogue import DeviceType
from chengyun.devices.model import DeviceFacts
from chengyun.devices.payload import read_message
from chengyun.errors import Invalid
from chengyun.ingest.model import Status
from chengyun.ingest.pipeline import Pipeline
from chengyun.ingest.simulator import (
    SCENARIO_TYPE,
    InProcessPublisher,
    Scenario,
    SimDevice,
    Simulator,
    parse_scenario,
    run,
    synthetic_devices,
)
from tests.unit.test_ingest_pipeline import TYPES

T0 = datetime(2026, 12, 7, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()  # a Monday, 06:00 local
DEVICES = [SimDevice(f"{code}-1", code, f"tok-{code}") for code in
           ("gas_detector", "smoke_detector", "water_meter", "sos_button", "door_sensor", "hydrant_pressure",
            "water_immersion", "thermal_camera")]


class SimDirectory:
    """The simulated devices; the water meter watches over a resident."""

    def __init__(self, devices: list[SimDevice]) -> None:
        self.devices = {d.device_id: d for d in devices}
        self.facts_by_id = {d.device_id: DeviceFacts(d.device_id, d.type_code, resident_id=7 if
                                                     d.type_code == "water_meter" else None) for d in devices}

    def facts(self, device_id: str) -> DeviceFacts | None:
        return self.facts_by_id.get(device_id)

    def type_of(self, device_id: str) -> DeviceType | None:
        device = self.devices.get(device_id)
        return TYPES[device.type_code] if device else None

    def verify(self, device_id: str, token: str | None) -> bool:
        device = self.devices.get(device_id)
        return device is not None and device.token == token


def pipeline_for(devices: list[SimDevice], stored: list[Transition]) -> Pipeline:
    return Pipeline(SimDirectory(devices), read_message, RuleEngine(default_rules()), stored.extend)


def test_every_simulated_message_passes_the_payload_checks() -> None:
    devices = synthetic_devices(300, lambda d: f"t-{d}")
    assert {d.type_code for d in devices} == set(SCENARIO_TYPE.values()) - {None} | {"door_sensor"}
    pipeline = pipeline_for(devices, [])
    simulator = Simulator(devices, random.Random(3))
    for step in range(20):
        for topic, payload in simulator.next_messages(T0 + step, 300):
            outcome = pipeline.handle(topic, payload, T0 + step)
            assert outcome.status is Status.ACCEPTED, (topic, payload, outcome)
    kinds = {topic.rsplit("/", 1)[1] for topic, _ in simulator.next_messages(T0 + 30, 300)}
    assert kinds == {"telemetry", "event", "heartbeat"}


@pytest.mark.parametrize(("scenario", "seconds"), [
    (Scenario.GAS_LEAK, 40), (Scenario.SMOKE, 5), (Scenario.SOS, 5), (Scenario.HYDRANT_LOW_PRESSURE, 6 * 60 + 40),
    (Scenario.WATER_INTRUSION, 5), (Scenario.EBIKE_HOT_SPOT, 30),
])
def test_each_scenario_raises_its_alarm(scenario: Scenario, seconds: int) -> None:
    stored: list[Transition] = []
    publisher = InProcessPublisher(pipeline_for(DEVICES, stored), clock=lambda: now)
    simulator = Simulator(DEVICES, random.Random(5), heartbeat_share=0.0)
    now = T0
    for _ in range(10):  # a normal start: nothing fires
        for topic, payload in simulator.next_messages(now, len(DEVICES)):
            publisher.publish(topic, payload)
        now += 1
    publisher.flush()
    assert stored == []
    device = simulator.inject(scenario, now)
    assert device.type_code == SCENARIO_TYPE[scenario]
    for _ in range(seconds):
        for topic, payload in simulator.next_messages(now, len(DEVICES)):
            publisher.publish(topic, payload)
        publisher.flush()
        now += 1
    fired = {(t.alarm_type, t.device_id) for t in stored if t.change is Change.FIRE}
    assert (scenario.value, device.device_id) in fired


def test_an_elderly_residents_water_meter_that_stops_raises_inactivity_in_the_daytime() -> None:
    stored: list[Transition] = []
    pipeline = pipeline_for(DEVICES, stored)
    simulator = Simulator(DEVICES, random.Random(5), heartbeat_share=0.0, hold_s=24 * 3600)
    simulator.inject(Scenario.ELDERLY_INACTIVITY, T0, "water_meter-1")
    for minute in range(0, 13 * 60, 10):  # every device every 10 minutes, 06:00 to 19:00
        now = T0 + minute * 60
        pipeline.handle_many(simulator.next_messages(now, len(DEVICES)), now)
        pipeline.tick(now)
    pipeline.flush()
    messages = [simulator.message(DEVICES[2], T0 + k) for k in range(3)]
    assert len({json.loads(m[1])["values"]["water_total"] for m in messages if m is not None}) == 1  # no use
    assert ("elderly_inactivity", "water_meter-1") in {(t.alarm_type, t.device_id) for t in stored}


def test_an_offline_device_stops_sending_and_is_reported_offline() -> None:
    stored: list[Transition] = []
    pipeline = pipeline_for(DEVICES, stored)
    simulator = Simulator(DEVICES, random.Random(5), hold_s=3600)
    for minute in range(22):
        now = T0 + minute * 60
        if minute == 2:
            simulator.inject(Scenario.OFFLINE, now, "smoke_detector-1")
            assert simulator.message(DEVICES[1], now) is None
        pipeline.handle_many(simulator.next_messages(now, len(DEVICES)), now)
        pipeline.tick(now)
    pipeline.flush()
    offline = {t.device_id for t in stored if t.alarm_type == "device_offline" and t.change is Change.FIRE}
    assert offline == {"smoke_detector-1"}


def test_scenarios_are_chosen_by_code_and_fit_the_device() -> None:
    assert parse_scenario(" Gas_Leak ") is Scenario.GAS_LEAK
    with pytest.raises(Invalid) as caught:
        parse_scenario("earthquake")
    assert caught.value.code == "simulate.unknown_scenario"
    simulator = Simulator(DEVICES)
    for device_id, code in (("nobody", "simulate.device_not_found"), ("door_sensor-1",
                                                                      "simulate.no_device_for_scenario")):
        with pytest.raises(Invalid) as caught:
            simulator.inject(Scenario.SMOKE, T0, device_id)
        assert caught.value.code == code
    with pytest.raises(Invalid) as caught:
        Simulator([SimDevice("d", "door_sensor", "t")]).inject(Scenario.GAS_LEAK, T0)
    assert caught.value.code == "simulate.no_device_for_scenario"
    with pytest.raises(Invalid):
        Simulator([])


def test_run_paces_messages_and_injects_random_scenarios() -> None:
    ticks = iter(T0 + k * 0.1 for k in range(100_000))
    sent: list[str] = []

    class Collect:
        def publish(self, topic: str, payload: bytes) -> None:
            sent.append(topic)

        def flush(self) -> None:
            pass

    seen: list[Scenario] = []
    report = run(Simulator(DEVICES, random.Random(1)), Collect(), rate=50, stop=threading.Event(), duration_s=20,
                 random_scenarios_per_min=6000, clock=lambda: next(ticks),
                 on_scenario=lambda at, s, d: seen.append(s), step_s=0.001)
    assert 950 <= report.sent <= 1000
    assert len(sent) <= report.sent  # offline devices send nothing
    assert seen and [s for _, s, _ in report.scenarios] == seen
