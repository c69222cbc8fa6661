"""A pipelined MQTT publisher for the device simulator and the benchmarks: one connection for many devices.

paho's `publish()` costs ~60 µs a QoS 1 message (message objects, locks, one write each), so the simulator could
not outrun the consumer it is meant to load. Here packets are encoded once, written in batches through the paho
client's queue, and PUBACKs are only counted; at most `window` messages are unacknowledged at once (never more than
the broker's receive maximum). A message unacknowledged when the connection drops is counted in `lost`, not resent:
this is a load generator, not a device.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from paho.mqtt.enums import MQTTProtocolVersion

from chengyun.adapters.mqtt import Broker, FastClient, _connect, _wait, encode_publish
from chengyun.errors import Unavailable

MAX_MID = 65_535


class MqttPublisher:
    """Publishes (topic, payload) pairs at QoS 1 (or 0) over one connection; `flush` writes, `wait` confirms.
    Not thread-safe (one publishing thread); `Unavailable` when the broker confirms nothing for `stall_s`."""

    def __init__(self, broker: Broker | str, *, client_id: str = "chengyun-simulator", qos: int = 1,
                 window: int = 2_000, batch: int = 200, stall_s: float = 30.0,
                 protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311) -> None:
        self.broker = Broker.parse(broker) if isinstance(broker, str) else broker
        self.qos, self.window, self.batch, self.stall_s = qos, min(window, MAX_MID - 1), batch, stall_s
        self.client = FastClient(client_id, protocol=protocol)
        self.client.on_acked = self._acked
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected
        self._v5 = protocol == MQTTProtocolVersion.MQTTv5
        self._ready = threading.Event()
        self._buffer: list[bytes] = []
        self._mid = 0
        self.sent = 0  # messages written to the connection
        self.acked = 0  # of which the broker confirmed (QoS 1)
        self.lost = 0  # unconfirmed when a connection dropped

    def connect(self, timeout: float = 10.0) -> MqttPublisher:
        """Connect and start the network thread; `Unavailable` when the broker does not answer."""
        _connect(self.client, self.broker, keepalive=30, properties=None, clean_start=True)
        self.client.loop_start()
        _wait(self._ready, timeout, self.broker, "connection")
        return self

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one message; it is written with the next batch (blocks while `window` are unacknowledged)."""
        mid = 0
        if self.qos:
            self._mid = mid = self._mid % MAX_MID + 1
        self._buffer.append(encode_publish(topic.encode(), payload, mid, qos=self.qos, v5=self._v5))
        if len(self._buffer) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Write the queued messages now."""
        if not self._buffer:
            return
        if self.qos:
            deadline = time.monotonic() + self.stall_s
            while self.sent + len(self._buffer) - self.acked > self.window:
                if time.monotonic() > deadline:
                    raise Unavailable("mqtt.unreachable", broker=str(self.broker), error="no acknowledgements")
                if not self._ready.wait(0.5):
                    continue
                time.sleep(0.0002)
        blob, n = b"".join(self._buffer), len(self._buffer)
        self._buffer = []
        self.client.send_raw(blob)
        self.sent += n
        if not self.qos:
            self.acked += n

    @property
    def outstanding(self) -> int:
        """Messages written and not yet confirmed."""
        return self.sent - self.acked

    def wait(self, timeout: float = 30.0) -> bool:
        """Flush, then wait until every message written is confirmed; False on timeout."""
        self.flush()
        deadline = time.monotonic() + timeout
        while self.outstanding > 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
        return True

    def close(self) -> None:
        """Confirm what was sent (briefly), then disconnect."""
        try:
            self.wait(5.0)
        finally:
            self.client.disconnect()
            self.client.loop_stop()

    def _acked(self, n: int) -> None:
        self.acked += n

    def _connected(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        receive_maximum = getattr(properties, "ReceiveMaximum", None) if properties is not None else None
        if receive_maximum:
            self.window = min(self.window, int(receive_maximum))
        self._ready.set()

    def _disconnected(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._ready.clear()
        self.lost += self.sent - self.acked
        self.acked = self.sent
