"""Every kind of rule through the real broker (Mosquitto at 127.0.0.1:1883): readings with their own timestamps are
published, consumed by the ingest worker and fed to the real engine with the default rules; the worker's periodic
tick fires the time-driven kinds (inactivity, household composite, offline)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from chengyun.adapters.mqtt_publish import MqttPublisher
from chengyun.alarms.engine import RuleEngine
from chengyun.alarms.rules import default_rules
from chengyun.alarms.signals import Transition
from chengyun.devices.model import DeviceFacts
from chengyun.devices.payload import read_message
from chengyun.ingest.pipeline import Pipeline
from tests.integration.ingest_fixtures import BROKER, TOKEN, body, need_broker, unique
from tests.integration.test_ingest_broker import Running, wait_for
from tests.unit.test_ingest_pipeline import FakeDirectory

HOME = "bld-1/2/301"
DEVICES = {"GD1": "gas_detector", "TC1": "thermal_camera", "HP1": "hydrant_pressure", "WM1": "water_meter",
           "DS1": "door_sensor", "SOS1": "sos_button"}


class HouseholdDirectory(FakeDirectory):
    """The fake directory, with the elderly resident's meter, door sensor and SOS button in one home."""

    def __init__(self) -> None:
        super().__init__({d: (t, TOKEN) for d, t in DEVICES.items()})
        for device_id in ("WM1", "DS1", "SOS1"):
            facts, token = self.devices[device_id]
            self.devices[device_id] = (DeviceFacts(device_id, facts.type_code, household=HOME, resident_id=7,
                                                   place_codes=("bld-1", "cmp-1")), token)


@pytest.fixture
def publisher() -> Iterator[MqttPublisher]:
    need_broker()
    pub = MqttPublisher(BROKER, client_id=unique("p-")).connect()
    yield pub
    pub.close()


def test_every_rule_kind_fires_through_the_real_broker(publisher: MqttPublisher) -> None:
    stored: list[Transition] = []
    pipeline = Pipeline(HouseholdDirectory(), read_message, RuleEngine(default_rules()), stored.extend)
    run, t0 = unique("r"), time.time() - 30 * 3600  # a day and a quarter ago: the quiet rules have run out
    readings = [
        # repeating: gas above 10 %LEL three times within 10 minutes (never the 20 of a leak)
        *[("GD1", "telemetry", t0 + 30 * k, {"gas_lel": 12.0 if k % 2 == 0 else 1.0}) for k in range(5)],
        # rate of change: the shed's hottest point climbs 15 °C in a minute (below the 60 °C threshold)
        ("TC1", "telemetry", t0, {"temp_max": 30.0}), ("TC1", "telemetry", t0 + 60, {"temp_max": 45.0}),
        # threshold below, held for 5 minutes: the hydrant's pressure stays at 0.05 MPa
        ("HP1", "telemetry", t0, {"pressure": 0.05}), ("HP1", "telemetry", t0 + 360, {"pressure": 0.05}),
        # event: the SOS button
        ("SOS1", "event", t0 + 400, {"event": "sos_pressed"}),
        # the home's last signs of life; afterwards the meter does not move and the door stays shut
        ("WM1", "telemetry", t0, {"water_total": 120.5}), ("DS1", "event", t0, {"event": "door_closed"}),
    ]
    with Running(pipeline):
        for k, (device_id, kind, ts, values) in enumerate(readings):
            topic = f"chengyun/{DEVICES[device_id]}/{device_id}/{kind}"
            publisher.publish(topic, body(f"{run}-{k}", ts, **values))
        assert publisher.wait(10)
        wait_for(lambda: pipeline.counters().accepted >= len(readings), "every reading accepted")
        wanted = {("GD1", "gas_repeated"), ("TC1", "ebike_hot_spot"), ("HP1", "hydrant_low_pressure"),
                  ("SOS1", "sos"), ("WM1", "elderly_inactivity"), ("DS1", "household_silence"),
                  ("GD1", "device_offline"), ("HP1", "device_offline")}
        wait_for(lambda: wanted <= {(t.device_id, t.alarm_type) for t in stored if t.change.value == "fire"},
                 "every kind of rule to fire")
    fired = [(t.device_id, t.rule_id) for t in stored if t.change.value == "fire"]
    assert len(fired) == len(set(fired))  # each rule fired once per device: no repeats while it holds
    assert pipeline.counters().total_quarantined == 0
