"""MQTT through paho-mqtt 2.x: a consumer that reads device messages into a bounded queue and acknowledges them
after processing, and a fast QoS 1 publisher for the simulator and the benchmarks.

paho's own receive path reads a packet with three `recv` calls, wakes `select` once per packet and builds an
`MQTTMessage` with its MQTT 5 `Properties` for each, ~50 µs a message: below 20,000 messages/s before any work is
done. `FastClient` keeps paho for everything but the hot path (connect, TLS, auth, keep-alive, reconnect,
subscribe) and changes three things: reads are buffered (one `recv` per 256 KB), one wake-up drains every packet
received, and PUBLISH packets are decoded to `(topic, payload, packet id)` without message objects and handed over
per read as one batch. PUBACKs go out in batches too. These overrides use paho 2.x internals (`_sock_recv`,
`_packet_read`, `_in_packet`, `_packet_queue`), so paho is pinned below 3; the broker tests exercise them.
"""

from __future__ import annotations

import logging
import ssl
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from chengyun.errors import Invalid, Unavailable

log = logging.getLogger("chengyun.mqtt")

READ_CHUNK = 256 * 1024
READ_BATCH = 1000  # packets read before the network loop gets to write (acks) and keep the connection alive
_PUBLISH, _PUBACK, _RAW = 0x30, 0x40, 0x00  # _RAW: a queued blob of several packets, no paho bookkeeping
_H = struct.Struct("!H")
_PUBACK_PACKET = struct.Struct("!BBH")
Delivery = tuple[bytes, bytes, int]  # topic, payload, packet id (0 for QoS 0)


@dataclass(frozen=True, slots=True)
class Broker:
    """Where the broker is: `mqtt://[user[:password]@]host[:port]` (1883) or `mqtts://…` (TLS, 8883)."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> Broker:
        """The broker of a URL, or `Invalid("mqtt.bad_url")`."""
        parts = urlsplit(url.strip())
        if parts.scheme not in {"mqtt", "mqtts", "tcp", "ssl"} or not parts.hostname:
            raise Invalid("mqtt.bad_url", url=url[:200])
        tls = parts.scheme in {"mqtts", "ssl"}
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError:
            raise Invalid("mqtt.bad_url", url=url[:200]) from None
        return cls(parts.hostname, port, tls, unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


class FastClient(paho.Client):
    """A paho client with a buffered, batched receive path (see the module docstring)."""

    def __init__(self, client_id: str, *, protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5,
                 clean_session: bool = True) -> None:
        v5 = protocol == MQTTProtocolVersion.MQTTv5
        super().__init__(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol, manual_ack=True,
                         clean_session=None if v5 else clean_session)
        self._rbuf = b""
        self._rpos = 0
        self._inbox: list[Delivery] = []
        self.on_deliveries: Callable[[list[Delivery]], None] | None = None
        self.on_acked: Callable[[int], None] | None = None

    # --- receiving -------------------------------------------------------------------------------------

    def _sock_recv(self, bufsize: int) -> bytes:
        buf, pos = self._rbuf, self._rpos
        if pos >= len(buf):
            buf = super()._sock_recv(READ_CHUNK)  # raises BlockingIOError when nothing is waiting
            pos = 0
            if not buf:
                return buf
        out = buf[pos:pos + bufsize]
        self._rbuf, self._rpos = buf, pos + len(out)
        return out

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """Read the packets that have arrived (not just one) and hand the PUBLISH packets over as one batch.

        Under a steady flood it returns after `READ_BATCH` packets, but only where the read buffer is used up: the
        network loop then writes the acknowledgements and keep-alives and waits on the socket, which still holds
        the rest (nothing is left behind in the buffer, where `select` could not see it)."""
        count = 0
        try:
            while True:
                if self._sock is None:
                    return MQTTErrorCode.MQTT_ERR_NO_CONN
                rc = self._packet_read()
                if rc > 0:
                    return self._loop_rc_handle(rc)
                if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                    return MQTTErrorCode.MQTT_ERR_SUCCESS
                count += 1
                if count >= READ_BATCH and self._rpos >= len(self._rbuf):
                    return MQTTErrorCode.MQTT_ERR_SUCCESS
        finally:
            self._deliver()

    def _deliver(self) -> None:
        if self._inbox:
            batch, self._inbox = self._inbox, []
            if self.on_deliveries is not None:
                self.on_deliveries(batch)

    def _handle_publish(self) -> MQTTErrorCode:
        packet = self._in_packet["packet"]
        qos = (self._in_packet["command"] & 0x06) >> 1
        if qos > 1 or self.on_deliveries is None:
            return super()._handle_publish()
        try:
            (size,) = _H.unpack_from(packet, 0)
            pos = 2 + size
            topic = bytes(packet[2:pos])
            mid = 0
            if qos:
                (mid,) = _H.unpack_from(packet, pos)
                pos += 2
            if self._protocol == MQTTProtocolVersion.MQTTv5:
                pos = _skip_properties(packet, pos)
        except (struct.error, IndexError):
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        self._inbox.append((topic, bytes(packet[pos:]), mid))
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_pubackcomp(self, cmd: Any) -> MQTTErrorCode:
        if cmd == "PUBACK" and self.on_acked is not None:
            self.on_acked(1)
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._handle_pubackcomp(cmd)

    def reconnect(self) -> MQTTErrorCode:
        """Reconnect with an empty read buffer (bytes of the old connection must not be parsed)."""
        self._rbuf, self._rpos, self._inbox = b"", 0, []
        return super().reconnect()

    # --- sending ---------------------------------------------------------------------------------------

    def ack_many(self, mids: Iterable[int]) -> None:
        """Acknowledge QoS 1 messages by packet id, in one write (thread-safe: paho's queue and wake-up)."""
        blob = b"".join([_PUBACK_PACKET.pack(_PUBACK, 2, mid) for mid in mids if mid])
        if blob:
            self._packet_queue(_RAW, blob, 0, 0)

    def send_raw(self, blob: bytes) -> None:
        """Queue pre-encoded packets for the network thread (thread-safe)."""
        self._packet_queue(_RAW, blob, 0, 0)


def _skip_properties(packet: bytes | bytearray, pos: int) -> int:
    """The position after an MQTT 5 property block (a variable byte integer length, then the properties)."""
    mult, length = 1, 0
    for _ in range(4):
        byte = packet[pos]
        pos += 1
        length += (byte & 0x7F) * mult
        if not byte & 0x80:
            return pos + length
        mult *= 128
    raise IndexError("malformed property length")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, byte = divmod(n, 128)
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def encode_publish(topic: bytes, payload: bytes, mid: int, *, qos: int = 1, v5: bool = False) -> bytes:
    """One PUBLISH packet (QoS 0 or 1, no properties)."""
    header = _H.pack(len(topic)) + topic + (_H.pack(mid) if qos else b"") + (b"\x00" if v5 else b"")
    return bytes([_PUBLISH | (qos << 1)]) + _varint(len(header) + len(payload)) + header + payload


def _connect(client: FastClient, broker: Broker, *, keepalive: int, properties: Properties | None,
             clean_start: bool) -> None:
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set_context(ssl.create_default_context())
    client.reconnect_delay_set(1, 30)
    try:
        if client.protocol == MQTTProtocolVersion.MQTTv5:
            client.connect(broker.host, broker.port, keepalive=keepalive, clean_start=clean_start,
                           properties=properties)
        else:  # MQTT 3.1.1: the session flag was given to the client (clean_session)
            client.connect(broker.host, broker.port, keepalive=keepalive)
    except OSError as exc:
        raise Unavailable("mqtt.unreachable", broker=str(broker), error=str(exc)[:200]) from None


def _wait(event: threading.Event, timeout: float, broker: Broker, what: str) -> None:
    if not event.wait(timeout):
        raise Unavailable("mqtt.unreachable", broker=str(broker), error=f"no {what} within {timeout:g} s")


Chunk = tuple[float, int, list[Delivery]]  # received at (epoch s), connection generation, messages


class Inbox:
    """The bounded queue between the network thread and the processing thread, counted in messages."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._chunks: deque[Chunk] = deque()
        self._size = 0
        self._cond = threading.Condition()

    def __len__(self) -> int:
        return self._size

    def put(self, received_at: float, generation: int, items: list[Delivery]) -> list[Delivery]:
        """Queue what fits; the rest is returned (to be shed)."""
        with self._cond:
            room = self.capacity - self._size
            if room <= 0:
                return items
            kept, rest = (items, []) if len(items) <= room else (items[:room], items[room:])
            self._chunks.append((received_at, generation, kept))
            self._size += len(kept)
            self._cond.notify()
        return rest

    def take(self, max_items: int, timeout: float) -> list[Chunk]:
        """Up to `max_items` queued messages, oldest first, waiting at most `timeout` seconds for the first."""
        with self._cond:
            if not self._size and timeout > 0:
                self._cond.wait(timeout)
            out: list[Chunk] = []
            n = 0
            while self._chunks and n < max_items:
                received_at, generation, items = self._chunks.popleft()
                if n + len(items) > max_items:
                    cut = max_items - n
                    self._chunks.appendleft((received_at, generation, items[cut:]))
                    items = items[:cut]
                out.append((received_at, generation, items))
                n += len(items)
            self._size -= n
            return out


class MqttConsumer:
    """Device messages from a (shared) subscription at QoS 1 into a bounded `Inbox`; acknowledged by the caller
    after processing. When the inbox is full, messages are shed: handed to `on_shed` (count and record them) and
    acknowledged, so a burst is never silently lost and never stalls the broker's delivery window. `accept`
    (partitioning by device) filters by topic before queueing; messages it rejects are acknowledged at once."""

    def __init__(self, broker: Broker, *, client_id: str, topic_filter: str,
                 on_shed: Callable[[list[Delivery], float], object], queue_size: int = 20_000,
                 receive_maximum: int = 65_535, session_expiry_s: int = 0, keepalive: int = 30,
                 accept: Callable[[bytes], bool] | None = None,
                 protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5) -> None:
        self.broker, self.topic_filter = broker, topic_filter
        self.inbox = Inbox(queue_size)
        self.on_shed, self.accept = on_shed, accept
        self.receive_maximum, self.session_expiry_s, self.keepalive = receive_maximum, session_expiry_s, keepalive
        self.client = FastClient(client_id, protocol=protocol, clean_session=not session_expiry_s)
        self.client.on_deliveries = self._received
        self.client.on_connect = self._connected
        self.client.on_subscribe = self._subscribed
        self.client.on_disconnect = self._disconnected
        self.generation = 0
        self.skipped = 0  # messages of other partitions
        self._ready = threading.Event()

    @property
    def connected(self) -> bool:
        """True while subscribed on a live connection."""
        return self._ready.is_set() and self.client.is_connected()

    def start(self, timeout: float = 10.0) -> None:
        """Connect, subscribe and start the network thread; `Unavailable` when the broker does not answer."""
        v5 = self.client.protocol == MQTTProtocolVersion.MQTTv5
        props = None
        if v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.ReceiveMaximum = self.receive_maximum
            if self.session_expiry_s:
                props.SessionExpiryInterval = self.session_expiry_s
        clean = not self.session_expiry_s
        _connect(self.client, self.broker, keepalive=self.keepalive, properties=props, clean_start=clean)
        self.client.loop_start()
        try:
            _wait(self._ready, timeout, self.broker, "subscription")
        except Unavailable:
            self.stop()
            raise

    def take(self, max_items: int = 500, timeout: float = 0.05) -> list[Chunk]:
        """The next queued messages (see `Inbox.take`)."""
        return self.inbox.take(max_items, timeout)

    def ack(self, generation: int, mids: Iterable[int]) -> None:
        """Acknowledge processed messages of connection `generation` (a stale generation is skipped: the broker
        of a clean session forgot them, a persistent one redelivers them and the idempotency window drops them)."""
        if generation == self.generation:
            self.client.ack_many(mids)

    def stop(self) -> None:
        """Disconnect and stop the network thread."""
        self._ready.clear()
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()

    def _received(self, batch: list[Delivery]) -> None:
        now = time.time()
        accept = self.accept
        if accept is not None:
            ours: list[Delivery] = []
            foreign: list[Delivery] = []
            for delivery in batch:
                (ours if accept(delivery[0]) else foreign).append(delivery)
            if foreign:
                self.skipped += len(foreign)
                self.client.ack_many(mid for _, _, mid in foreign)
                batch = ours
        shed = self.inbox.put(now, self.generation, batch) if batch else []
        if shed:
            try:
                self.on_shed(shed, now)
            finally:
                self.client.ack_many(mid for _, _, mid in shed)

    def _connected(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.error("broker %s refused the connection: %s", self.broker, reason)
            return
        self.generation += 1
        self.client.subscribe(self.topic_filter, qos=1)
        log.info("connected to %s, subscribing to %s", self.broker, self.topic_filter)

    def _subscribed(self, client: Any, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        failed = [r for r in reasons if getattr(r, "is_failure", False)]
        if failed:
            log.error("broker %s refused the subscription %s: %s", self.broker, self.topic_filter, failed)
            return
        self._ready.set()

    def _disconnected(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._ready.clear()
        level = logging.WARNING if getattr(reason, "is_failure", True) else logging.INFO
        log.log(level, "disconnected from %s: %s", self.broker, reason)
