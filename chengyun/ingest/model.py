"""What ingestion agrees on, pure: device topics, the idempotency window, counters, outcomes, quarantine records.

Topic: `chengyun/{device_type}/{device_id}/{telemetry|event|heartbeat}`. A message is identified for idempotency by
its device and the device's own `msg_id`; the window keeps the last few ids per device as 64-bit hashes in one flat
array, so a QoS 1 redelivery (or a device re-sending after a lost PUBACK) changes nothing twice.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, NamedTuple

from chengyun.devices.model import DEVICE_ID, MessageKind
from chengyun.errors import Invalid

TOPIC_ROOT: Final = "chengyun"
MAX_TOPIC: Final = 256  # bytes; a valid device topic is far shorter
TYPE_CODE: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
KINDS: Final[Mapping[str, MessageKind]] = {k.value: k for k in MessageKind}
QUARANTINE_PAYLOAD_BYTES: Final = 4096  # what is kept of a quarantined payload
WINDOW_SIZE: Final = 8  # message ids remembered per device (a redelivery is one of the last few)

SHED: Final = "ingest.shed"
INTERNAL: Final = "ingest.internal"
ENGINE_FAILED: Final = "ingest.engine_failed"
UNKNOWN_DEVICE: Final = "ingest.device.unknown"
TYPE_MISMATCH: Final = "ingest.device.type_mismatch"
NO_CREDENTIAL: Final = "ingest.credential.missing"
BAD_CREDENTIAL: Final = "ingest.credential.invalid"


class Topic(NamedTuple):
    """The three facts a device topic carries."""

    device_type: str
    device_id: str
    kind: MessageKind


def device_topic(device_type: str, device_id: str, kind: MessageKind | str) -> str:
    """The topic a device publishes on."""
    return f"{TOPIC_ROOT}/{device_type}/{device_id}/{MessageKind(kind).value}"


def subscription(group: str | None) -> str:
    """The topic filter of the ingest workers: an MQTT 5 shared subscription when `group` is given."""
    wildcard = f"{TOPIC_ROOT}/+/+/+"
    return f"$share/{group}/{wildcard}" if group else wildcard


def parse_topic(topic: str | bytes) -> Topic:
    """The device topic's parts, or `Invalid` with a precise `ingest.topic.*` code."""
    if isinstance(topic, bytes | bytearray):
        try:
            topic = bytes(topic).decode()
        except UnicodeDecodeError:
            raise Invalid("ingest.topic.not_utf8") from None
    if len(topic) > MAX_TOPIC:
        raise Invalid("ingest.topic.too_long", length=len(topic), limit=MAX_TOPIC)
    parts = topic.split("/")
    if parts[0] != TOPIC_ROOT:
        raise Invalid("ingest.topic.not_ours", topic=topic[:80], root=TOPIC_ROOT)
    if len(parts) != 4:
        raise Invalid("ingest.topic.levels", topic=topic[:80], levels=len(parts))
    _, device_type, device_id, kind_text = parts
    kind = KINDS.get(kind_text)
    if kind is None:
        raise Invalid("ingest.topic.bad_kind", value=kind_text[:40], expected="telemetry | event | heartbeat")
    if not TYPE_CODE.fullmatch(device_type):
        raise Invalid("ingest.topic.bad_type", value=device_type[:40])
    if not DEVICE_ID.fullmatch(device_id):
        raise Invalid("ingest.topic.bad_device_id", value=device_id[:64])
    return Topic(device_type, device_id, kind)


def partition_of(device_id: str, partitions: int) -> int:
    """A stable partition of a device id (FNV-1a over its bytes): the same in every process and on every run."""
    h = 0x811C9DC5
    for byte in device_id.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h % partitions


class IdempotencyWindow:
    """The last `size` message ids of every device, as 64-bit hashes in one flat array.

    Per device: `8 × size` bytes in the array, one cursor byte and one dict slot (plus its row number); ids are
    hashed with the process's string hash (equal ids, equal hashes; a false "seen" needs a 64-bit collision with
    one of the device's last `size` ids). Not thread-safe: one window per pipeline.
    """

    __slots__ = ("_blank", "_cursor", "_free", "_hashes", "_rows", "size")

    def __init__(self, size: int = WINDOW_SIZE) -> None:
        if not 1 <= size <= 255:
            raise ValueError("window size must be 1..255")
        self.size = size
        self._rows: dict[str, int] = {}
        self._hashes = array("q")
        self._cursor = bytearray()
        self._free: list[int] = []
        self._blank = array("q", bytes(8 * size))

    def __len__(self) -> int:
        return len(self._rows)

    def seen(self, device_id: str, msg_id: str) -> bool:
        """True when `msg_id` is among the device's last `size` ids."""
        row = self._rows.get(device_id)
        if row is None:
            return False
        start = row * self.size
        return _hash(msg_id) in self._hashes[start:start + self.size]

    def add(self, device_id: str, msg_id: str) -> None:
        """Remember `msg_id` for the device, forgetting its oldest remembered id when the window is full."""
        row = self._rows.get(device_id)
        if row is None:
            row = self._new_row(device_id)
        slot = self._cursor[row]
        self._hashes[row * self.size + slot] = _hash(msg_id)
        self._cursor[row] = (slot + 1) % self.size

    def forget(self, device_id: str) -> None:
        """Drop a device's window (device removed); its row is reused."""
        row = self._rows.pop(device_id, None)
        if row is not None:
            start = row * self.size
            self._hashes[start:start + self.size] = self._blank
            self._cursor[row] = 0
            self._free.append(row)

    def _new_row(self, device_id: str) -> int:
        if self._free:
            row = self._free.pop()
        else:
            row = len(self._cursor)
            self._hashes.extend(self._blank)
            self._cursor.append(0)
        self._rows[device_id] = row
        return row


def _hash(msg_id: str) -> int:
    h = hash(msg_id)
    return h or 1  # 0 marks an empty slot


class Status(StrEnum):
    """What became of one message (stored lowercase codes)."""

    ACCEPTED = "accepted"  # checked and fed to the rule engine
    DUPLICATE = "duplicate"  # its msg_id was seen already for this device: nothing changed
    QUARANTINED = "quarantined"  # refused with a reason, kept for inspection
    SHED = "shed"  # dropped unprocessed because the worker's queue was full (counted and recorded)


EMPTY: Final[Mapping[str, Any]] = {}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One message's fate: the status, for a refusal its reason code and params, and the transitions it caused."""

    status: Status
    code: str = ""
    params: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    transitions: tuple[Any, ...] = ()


ACCEPTED: Final = Outcome(Status.ACCEPTED)
DUPLICATE: Final = Outcome(Status.DUPLICATE)


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """A refused message kept for inspection: its topic, the first 4 KB of its payload and its full size, why,
    when (UTC epoch seconds) and which worker refused it."""

    topic: str
    payload: bytes
    size: int
    code: str
    params: Mapping[str, Any]
    received_at: float
    worker_id: str
    device_id: str | None = None


def quarantine_record(topic: str | bytes, payload: bytes, code: str, params: Mapping[str, Any],
                      received_at: float, worker_id: str, device_id: str | None = None) -> QuarantineRecord:
    """A record with the topic made printable and the payload cut to `QUARANTINE_PAYLOAD_BYTES`."""
    if isinstance(topic, bytes | bytearray):
        topic = bytes(topic).decode(errors="backslashreplace")
    payload = bytes(payload)
    return QuarantineRecord(topic[:MAX_TOPIC], payload[:QUARANTINE_PAYLOAD_BYTES], len(payload), code,
                            dict(params), received_at, worker_id, device_id)


@dataclass(frozen=True, slots=True)
class CounterSnapshot:
    """The counters of one worker (or the sum of several) at one moment."""

    accepted: int = 0
    duplicate: int = 0
    quarantined: Mapping[str, int] = field(default_factory=dict)  # reason code -> messages
    shed: int = 0
    transitions: int = 0

    @property
    def total_quarantined(self) -> int:
        """Refused messages of every reason."""
        return sum(self.quarantined.values())

    @property
    def received(self) -> int:
        """Every message this worker was handed."""
        return self.accepted + self.duplicate + self.total_quarantined + self.shed

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the stored snapshot)."""
        return {"accepted": self.accepted, "duplicate": self.duplicate, "quarantined": dict(self.quarantined),
                "shed": self.shed, "transitions": self.transitions}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CounterSnapshot:
        """Read a stored snapshot back (unknown keys ignored, missing ones zero)."""
        quarantined = raw.get("quarantined") or {}
        return cls(int(raw.get("accepted", 0)), int(raw.get("duplicate", 0)),
                   {str(k): int(v) for k, v in dict(quarantined).items()}, int(raw.get("shed", 0)),
                   int(raw.get("transitions", 0)))

    def __add__(self, other: CounterSnapshot) -> CounterSnapshot:
        merged = dict(self.quarantined)
        for code, n in other.quarantined.items():
            merged[code] = merged.get(code, 0) + n
        return CounterSnapshot(self.accepted + other.accepted, self.duplicate + other.duplicate, merged,
                               self.shed + other.shed, self.transitions + other.transitions)


class Counters:
    """Running counts of one pipeline (plain integer attributes: cheap to bump on the hot path)."""

    __slots__ = ("accepted", "duplicate", "quarantined", "shed", "transitions")

    def __init__(self) -> None:
        self.accepted = 0
        self.duplicate = 0
        self.shed = 0
        self.transitions = 0
        self.quarantined: dict[str, int] = {}

    def refuse(self, code: str) -> None:
        """Count one quarantined message under its reason."""
        self.quarantined[code] = self.quarantined.get(code, 0) + 1

    def snapshot(self) -> CounterSnapshot:
        """The counts now, as an immutable value."""
        return CounterSnapshot(self.accepted, self.duplicate, dict(self.quarantined), self.shed, self.transitions)
