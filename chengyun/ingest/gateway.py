"""HTTP ingestion for devices that cannot speak MQTT: the same pipeline, answered precisely and synchronously.

Without a broker the message goes through this process's pipeline and its transitions are stored before the
answer. With a broker configured, the message is checked here (same codes) and forwarded to the MQTT workers, so
one engine keeps each device's state; the answer waits for the broker's acknowledgement.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from chengyun.alarms.signals import Transition
from chengyun.devices.model import DeviceFacts, Reading
from chengyun.ingest.model import Outcome, Status
from chengyun.ingest.pipeline import Pipeline

SEEN_EVERY_S = 1.0
Forward = Callable[[str, bytes], None]  # publish (topic, payload) and return once the broker has it


class NullEngine:
    """An engine that evaluates nothing (a forwarding gateway's pipeline only checks)."""

    def feed(self, reading: Reading, device: DeviceFacts) -> list[Transition]:
        """No rules here: no transitions."""
        return []

    def tick(self, now: float) -> list[Transition]:
        """No deadlines here."""
        return []


class Gateway:
    """One message at a time from HTTP requests (thread-safe)."""

    def __init__(self, pipeline: Pipeline, forward: Forward | None = None,
                 refresh: Callable[[], object] | None = None) -> None:
        self.pipeline = pipeline
        self.forward = forward
        self.refresh = refresh  # e.g. the device service's `directory` (re-reads changes at most every 2 s)
        self._lock = threading.Lock()
        self._seen_at = 0.0

    def submit(self, topic: str, payload: bytes, received_at: float) -> Outcome:
        """The message's outcome once it is durable: stored (transitions, quarantine) or accepted by the broker.
        Raises when a store or the broker fails (the device should retry)."""
        if self.refresh is not None:
            self.refresh()
        if self.forward is not None:
            outcome = self.pipeline.check(topic, payload, received_at)
            if outcome.status is Status.ACCEPTED:
                with self._lock:
                    self.forward(topic, payload)
        else:
            outcome = self.pipeline.handle(topic, payload, received_at)
        self.pipeline.flush()
        self._seen(received_at)
        return outcome

    def tick(self, now: float) -> int:
        """Let the in-process engine act on deadlines and store what it produced; how many transitions."""
        produced = self.pipeline.tick(now)
        self.pipeline.flush()
        self.pipeline.flush_seen()
        return produced

    def _seen(self, now: float) -> None:
        if now - self._seen_at >= SEEN_EVERY_S:
            self._seen_at = now
            self.pipeline.flush_seen()


def mqtt_forward(url: str, *, client_id: str, timeout_s: float = 5.0) -> Forward:
    """A forward that publishes at QoS 1 through one connection and waits for the broker's acknowledgement."""
    from chengyun.adapters.mqtt_publish import MqttPublisher
    from chengyun.errors import Unavailable

    publisher = MqttPublisher(url, client_id=client_id, batch=1).connect()

    def forward(topic: str, payload: bytes) -> None:
        publisher.publish(topic, payload)
        if not publisher.wait(timeout_s):
            raise Unavailable("mqtt.unreachable", broker=str(publisher.broker), error="no acknowledgement")

    return forward
