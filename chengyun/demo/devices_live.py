"""The served demo's devices keep talking: telemetry and heartbeats of the demo street's devices go through the
in-process ingest gateway (the same pipeline as HTTP ingest, no broker needed), with a scenario now and then."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from chengyun.bootstrap import Container
from chengyun.ingest.service import demo_sim_devices
from chengyun.ingest.simulator import SCENARIO_TYPE, Scenario, Simulator

DEFAULT_RATE = 20.0  # messages per second, all demo devices together
DEFAULT_SCENARIOS_PER_HOUR = 4.0
MAX_CATCH_UP_S = 5.0  # after a pause, send at most this many seconds' worth of messages


@dataclass
class LiveDevices:
    """`tick()` sends the messages due since the last tick and, by chance, starts a scenario (gas leak, smoke …)."""

    container: Container
    seed: int = 2026
    rate: float = DEFAULT_RATE
    scenarios_per_hour: float = DEFAULT_SCENARIOS_PER_HOUR
    clock: Callable[[], float] = time.time
    sent: int = 0
    scenarios: list[tuple[float, str, str]] = field(default_factory=list)
    _sim: Simulator | None = field(default=None, init=False)
    _last: float | None = field(default=None, init=False)

    def tick(self) -> int:
        """Send what is due now; the number of messages sent (0 when the demo has no devices)."""
        sim = self._simulator()
        if sim is None:
            return 0
        now = self.clock()
        elapsed = min(now - (self._last if self._last is not None else now - 1.0), MAX_CATCH_UP_S)
        self._last = now
        if sim.rng.random() < self.scenarios_per_hour * elapsed / 3600:
            drawn = sim.inject_random(now)
            if drawn is not None:
                self.scenarios.append((now, drawn[0].value, drawn[1].device_id))
        messages = sim.next_messages(now, max(1, int(self.rate * elapsed)))
        gateway = self.container.ingest_gateway()
        gateway.pipeline.handle_many(messages, now)
        gateway.pipeline.flush()
        self.sent += len(messages)
        return len(messages)

    def inject(self, scenario: Scenario, device_id: str | None = None) -> str:
        """Start a scenario now (on the given device or a fitting one); the device id."""
        sim = self._simulator()
        if sim is None:
            raise LookupError("the demo has no devices")
        device = sim.inject(scenario, self.clock(), device_id or self._in_a_cared_for_home(sim, scenario))
        self.scenarios.append((self.clock(), scenario.value, device.device_id))
        return device.device_id

    def _in_a_cared_for_home(self, sim: Simulator, scenario: Scenario) -> str | None:
        """A fitting device in the home of a resident with family contacts, so a drill shows the whole plan
        (None: any fitting device)."""
        wanted, directory = SCENARIO_TYPE[scenario], self.container.devices.directory()
        homes = [d.device_id for d in sim.devices if (wanted is None or d.type_code == wanted)
                 and (facts := directory.facts(d.device_id)) is not None and facts.resident_id is not None]
        return sim.rng.choice(homes) if homes else None

    def _simulator(self) -> Simulator | None:
        if self._sim is None:
            devices = demo_sim_devices(self.container)
            if not devices:
                return None
            self._sim = Simulator(devices, rng=random.Random(self.seed))  # noqa: S311 - a demo, not a secret
        return self._sim
