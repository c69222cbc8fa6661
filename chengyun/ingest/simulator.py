"""The device simulator: realistic telemetry, events and heartbeats for a set of devices, and scenarios injected on
demand or at random (gas leak, smoke, elderly inactivity, SOS, hydrant low pressure, water intrusion, e-bike shed
hot spot, a device going offline). Pure apart from the publisher it is given: MQTT (`adapters.mqtt_publish`) or
in-process (`InProcessPublisher`, straight into a pipeline, so the demo needs no broker).
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from chengyun.devices.model import MessageKind
from chengyun.errors import Invalid
from chengyun.ingest.model import device_topic

RAMP_S = {"gas_leak": 20.0, "hydrant_low_pressure": 30.0, "ebike_hot_spot": 12.0}  # time to reach the alarm level
ALARM_REPORT_S = 5.0  # a device in a scenario reports this often, besides its turn (detectors in alarm report fast)
SCENARIO_HOLD_S = 900.0  # a scenario's device returns to normal after this long (offline: comes back)


class Scenario(StrEnum):
    """Situations the simulator can put a device in (the alarm types they should raise)."""

    GAS_LEAK = "gas_leak"
    SMOKE = "smoke"
    ELDERLY_INACTIVITY = "elderly_inactivity"
    SOS = "sos"
    HYDRANT_LOW_PRESSURE = "hydrant_low_pressure"
    WATER_INTRUSION = "water_intrusion"
    EBIKE_HOT_SPOT = "ebike_hot_spot"
    OFFLINE = "offline"


SCENARIO_TYPE: dict[Scenario, str | None] = {
    Scenario.GAS_LEAK: "gas_detector", Scenario.SMOKE: "smoke_detector", Scenario.ELDERLY_INACTIVITY: "water_meter",
    Scenario.SOS: "sos_button", Scenario.HYDRANT_LOW_PRESSURE: "hydrant_pressure",
    Scenario.WATER_INTRUSION: "water_immersion", Scenario.EBIKE_HOT_SPOT: "thermal_camera", Scenario.OFFLINE: None,
}


def parse_scenario(value: str) -> Scenario:
    """A scenario by its code, or a precise refusal listing the choices."""
    try:
        return Scenario(value.strip().lower())
    except ValueError:
        raise Invalid("simulate.unknown_scenario", value=value[:40],
                      choices=", ".join(s.value for s in Scenario)) from None


@dataclass(frozen=True, slots=True)
class SimDevice:
    """A device the simulator speaks for: its id, type and token."""

    device_id: str
    type_code: str
    token: str


class Publisher(Protocol):
    """Where simulated messages go."""

    def publish(self, topic: str, payload: bytes) -> None: ...

    def flush(self) -> None: ...


@dataclass(slots=True)
class _State:
    """What the simulator remembers of one device (small: a sequence number and a few values)."""

    seq: int = 0
    offset: float = 0.0  # this device's own level above or below the typical
    water_total: float = 0.0
    door_open: bool = False
    scenario: Scenario | None = None
    since: float = 0.0
    reported: float = 0.0  # when a device in a scenario last reported on top of its turn


@dataclass
class Simulator:
    """Messages for `devices` in a shuffled round robin, with heartbeats mixed in and scenarios on top."""

    devices: Sequence[SimDevice]
    rng: random.Random = field(default_factory=lambda: random.Random(7))  # noqa: S311  (simulation, not secrets)
    heartbeat_share: float = 0.1
    boot: str = field(default_factory=lambda: format(int(time.time() * 1000), "x"))  # msg ids unique per run
    hold_s: float = SCENARIO_HOLD_S
    alarm_report_s: float = ALARM_REPORT_S
    _states: dict[str, _State] = field(init=False, default_factory=dict)
    _order: list[int] = field(init=False, default_factory=list)
    _next: int = field(init=False, default=0)
    _by_id: dict[str, SimDevice] = field(init=False, default_factory=dict)
    _in_scenario: set[str] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        if not self.devices:
            raise Invalid("simulate.no_devices")
        self._by_id = {d.device_id: d for d in self.devices}
        self._order = list(range(len(self.devices)))
        self.rng.shuffle(self._order)
        for d in self.devices:
            self._states[d.device_id] = _State(offset=round(self.rng.uniform(-2, 2), 2),
                                               water_total=round(self.rng.uniform(10, 500), 3))

    # --- scenarios -----------------------------------------------------------------------------------

    def inject(self, scenario: Scenario, now: float, device_id: str | None = None) -> SimDevice:
        """Put a device (the given one, or a random one of the fitting type) into a scenario from `now`."""
        wanted = SCENARIO_TYPE[scenario]
        if device_id is not None:
            device = self._by_id.get(device_id)
            if device is None:
                raise Invalid("simulate.device_not_found", device_id=device_id)
            if wanted is not None and device.type_code != wanted:
                raise Invalid("simulate.no_device_for_scenario", scenario=scenario.value, type=wanted)
        else:
            fitting = [d for d in self.devices if wanted is None or d.type_code == wanted]
            if not fitting:
                raise Invalid("simulate.no_device_for_scenario", scenario=scenario.value, type=wanted or "-")
            device = self.rng.choice(fitting)
        state = self._states[device.device_id]
        state.scenario, state.since, state.reported = scenario, now, now
        self._in_scenario.add(device.device_id)
        return device

    def inject_random(self, now: float) -> tuple[Scenario, SimDevice] | None:
        """A random scenario on a random fitting device (None when no device fits the one drawn)."""
        scenario = self.rng.choice(list(Scenario))
        try:
            return scenario, self.inject(scenario, now)
        except Invalid:
            return None

    def scenario_of(self, device_id: str) -> Scenario | None:
        """The scenario a device is in (None: normal)."""
        return self._states[device_id].scenario

    # --- messages ------------------------------------------------------------------------------------

    def next_messages(self, now: float, n: int) -> list[tuple[str, bytes]]:
        """The next `n` messages at time `now` (offline devices are skipped, so fewer may come back), plus a report
        from each device in a scenario that has not reported for `alarm_report_s`."""
        out = self._scenario_reports(now)
        count = len(self.devices)
        for _ in range(n):
            device = self.devices[self._order[self._next]]
            self._next = (self._next + 1) % count
            message = self.message(device, now)
            if message is not None:
                out.append(message)
        return out

    def _scenario_reports(self, now: float) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        for device_id in list(self._in_scenario):
            state = self._states[device_id]
            if state.scenario is None:
                self._in_scenario.discard(device_id)
            elif now - state.reported >= self.alarm_report_s:
                state.reported = now
                message = self.message(self._by_id[device_id], now)
                if message is not None:
                    out.append(message)
        return out

    def message(self, device: SimDevice, now: float) -> tuple[str, bytes] | None:
        """One message from `device` at `now` (None while it is offline)."""
        state = self._states[device.device_id]
        if state.scenario is not None and now - state.since > self.hold_s:
            state.scenario = None
        if state.scenario is Scenario.OFFLINE:
            return None
        kind, values = self._values(device, state, now)
        state.seq += 1
        body: dict[str, Any] = {"msg_id": f"{self.boot}-{state.seq}", "ts": round(now, 3), "token": device.token}
        if values:
            body["values"] = values
        return device_topic(device.type_code, device.device_id, kind), json.dumps(body).encode()

    def _values(self, device: SimDevice, state: _State, now: float) -> tuple[MessageKind, dict[str, Any]]:
        rng = self.rng
        if state.scenario is None and rng.random() < self.heartbeat_share:
            return MessageKind.HEARTBEAT, {"battery": rng.randint(60, 100), "rssi": rng.randint(-95, -50)}
        maker = VALUES.get(device.type_code)
        if maker is None:
            return MessageKind.HEARTBEAT, {"battery": rng.randint(60, 100)}
        return maker(rng, state, now)


def _ramp(state: _State, now: float, start: float, end: float, key: str) -> float:
    progress = min(1.0, (now - state.since) / RAMP_S[key])
    return round(start + (end - start) * progress, 2)


def _gas(rng: random.Random, state: _State, now: float) -> tuple[MessageKind, dict[str, Any]]:
    if state.scenario is Scenario.GAS_LEAK:
        return MessageKind.TELEMETRY, {"gas_lel": _ramp(state, now, 2.0, 45.0, "gas_leak")}
    return MessageKind.TELEMETRY, {"gas_lel": round(rng.uniform(0, 2.5), 2), "battery": rng.randint(70, 100)}


def _smoke(rng: random.Random, state: _State, now: float) -> tuple[MessageKind, dict[str, Any]]:
    return MessageKind.TELEMETRY, {"smoke": state.scenario is Scenario.SMOKE, "battery": rng.randint(70, 100)}


def _water(rng: random.Random, state: _State, now: float) -> tuple[MessageKind, dict[str, Any]]:
    flow = 0.0 if state.scenario is Scenario.ELDERLY_INACTIVITY or rng.random() < 0.5 else rng.uniform(0.05, 0.6)
    state.water_total = round(state.water_total + flow / 360, 4)  # a message every ~10 s of use
    return MessageKind.TELEMETRY, {"water_total": state.water_total, "flow": round(flow, 3)}


def _sos(rng: random.Random, state: _State, now: float) -> tuple[MessageKind, dict[str, Any]]:
    if state.scenario is Scenario.SOS:
        state.scenario = None  # one press
        return MessageKind.EVENT, {"event": "sos_pressed"}
    return MessageKind.HEARTBEAT, {"battery": rng.randint(60, 100)}


def _door(rng: random.Random, state: _State, now: float) -> tuple[MessageKind, dict[str, Any]]:
    state.door_open = not state.door_open
    return MessageKind.EVENT, {"event": "door_opened" if state.door_open else "door_closed"}


def _hydrant(rng: random.Random, state: _State, now: float) -> tuple[MessageKind, dict[str, Any]]:
    if state.scenario is Scenario.HYDRANT_LOW_PRESSURE:
        return MessageKind.TELEMETRY, {"pressure": _ramp(state, now, 0.30, 0.05, "hydrant_low_pressure")}
    return MessageKind.TELEMETRY, {"pressure": round(rng.uniform(0.26, 0.34), 3)}


def _immersion(rng: random.Random, state: _State, now: float) -> tuple[MessageKind, dict[str, Any]]:
    return MessageKind.TELEMETRY, {"water_leak": state.scenario is Scenario.WATER_INTRUSION}


def _thermal(rng: random.Random, state: _State, now: float) -> tuple[MessageKind, dict[str, Any]]:
    if state.scenario is Scenario.EBIKE_HOT_SPOT:
        return MessageKind.TELEMETRY, {"temp_max": _ramp(state, now, 30.0, 75.0, "ebike_hot_spot")}
    # a shed's warmest spot follows the day smoothly (the rate-of-rise rule compares consecutive readings)
    daily = 28.0 + 5.0 * math.sin(2 * math.pi * (now % 86_400) / 86_400)
    return MessageKind.TELEMETRY, {"temp_max": round(daily + state.offset + rng.uniform(-0.05, 0.05), 2)}


Values = Callable[[random.Random, _State, float], tuple[MessageKind, dict[str, Any]]]
VALUES: dict[str, Values] = {
    "gas_detector": _gas, "smoke_detector": _smoke, "water_meter": _water, "sos_button": _sos,
    "door_sensor": _door, "hydrant_pressure": _hydrant, "water_immersion": _immersion, "thermal_camera": _thermal,
}
SYNTHETIC_MIX = (("gas_detector", 25), ("smoke_detector", 25), ("water_meter", 20), ("door_sensor", 10),
                 ("sos_button", 5), ("water_immersion", 7), ("hydrant_pressure", 4), ("thermal_camera", 4))


def synthetic_devices(count: int, token: Callable[[str], str], *, seed: int = 7) -> list[SimDevice]:
    """`sim-000001…` devices of the default types in a fixed mix (for benchmarks; tokens from `token`)."""
    rng = random.Random(seed)  # noqa: S311  (simulation, not secrets)
    types = [code for code, weight in SYNTHETIC_MIX for _ in range(weight)]
    out = []
    for k in range(1, count + 1):
        device_id = f"sim-{k:06d}"
        out.append(SimDevice(device_id, rng.choice(types), token(device_id)))
    return out


@dataclass
class RunReport:
    """What a run published."""

    sent: int = 0
    scenarios: list[tuple[float, Scenario, str]] = field(default_factory=list)


def run(simulator: Simulator, publisher: Publisher, *, rate: float, stop: threading.Event,
        duration_s: float | None = None, random_scenarios_per_min: float = 0.0,
        clock: Callable[[], float] = time.time, on_scenario: Callable[[float, Scenario, SimDevice], object] | None
        = None, step_s: float = 0.01) -> RunReport:
    """Publish at `rate` messages/s until `stop` is set or `duration_s` passed; random scenarios if asked."""
    report = RunReport()
    start = clock()
    paced = 0  # round-robin messages asked for (scenario reports and offline gaps make `sent` differ)
    while not stop.is_set():
        now = clock()
        if duration_s is not None and now - start >= duration_s:
            break
        if random_scenarios_per_min and simulator.rng.random() < random_scenarios_per_min * step_s / 60:
            drawn = simulator.inject_random(now)
            if drawn is not None:
                report.scenarios.append((now, drawn[0], drawn[1].device_id))
                if on_scenario is not None:
                    on_scenario(now, *drawn)
        due = min(int(rate * (now - start) - paced), max(1, int(rate)))  # at most a second behind
        if due >= 1:
            messages = simulator.next_messages(now, due)
            for topic, payload in messages:
                publisher.publish(topic, payload)
            paced += due
            report.sent += len(messages)
            publisher.flush()
        stop.wait(step_s)
    publisher.flush()
    return report


class InProcessPublisher:
    """Messages straight into a pipeline in this process (no broker): flushed in batches, like a worker."""

    def __init__(self, pipeline: Any, clock: Callable[[], float] = time.time, batch: int = 500) -> None:
        self.pipeline, self.clock, self.batch = pipeline, clock, batch
        self._buffer: list[tuple[str, bytes]] = []
        self.sent = 0

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one message; a full batch goes through the pipeline at once."""
        self._buffer.append((topic, payload))
        if len(self._buffer) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Run the queued messages through the pipeline and store what they produced."""
        if self._buffer:
            batch, self._buffer = self._buffer, []
            self.pipeline.handle_many(batch, self.clock())
            self.sent += len(batch)
        if self.pipeline.pending:
            self.pipeline.flush()


class HttpPublisher:
    """Messages to a running Chengyun's HTTP ingest (`POST /api/ingest/{type}/{id}/{kind}`), e.g. to start a
    scenario in the served demo from another terminal; refused messages are counted, not retried."""

    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        import httpx2 as httpx

        self._client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self.sent = self.acked = self.refused = 0

    def publish(self, topic: str, payload: bytes) -> None:
        """Post one message (topic `chengyun/{type}/{id}/{kind}`); 202 counts as acknowledged."""
        path = topic.split("/", 1)[1] if topic.startswith("chengyun/") else topic
        answer = self._client.post(f"/api/ingest/{path}", content=payload,
                                   headers={"Content-Type": "application/json"})
        self.sent += 1
        if answer.status_code == 202:
            self.acked += 1
        else:
            self.refused += 1

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
