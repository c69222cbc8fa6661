"""What every part of the IoT path agrees on: a device's facts and one reading from it; pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

Value = float | bool | str


class MessageKind(StrEnum):
    """The last segment of a device topic `chengyun/{device_type}/{device_id}/{kind}`."""

    TELEMETRY = "telemetry"  # measured properties, e.g. {"gas_lel": 3.5}
    EVENT = "event"  # something happened, e.g. {"event": "sos_pressed"} or {"door": "opened"}
    HEARTBEAT = "heartbeat"  # alive; may carry battery or signal strength


@dataclass(frozen=True, slots=True)
class Reading:
    """One checked message from a device: `ts` is the measurement time as UTC epoch seconds (floats keep the hot
    path cheap); `msg_id` is the device's own message id, the key of idempotent processing."""

    device_id: str
    type_code: str
    kind: MessageKind
    ts: float
    values: Mapping[str, Value]
    msg_id: str


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What the rule engine and the alarms need to know about one device; one shared instance per device in memory.

    `household` groups the devices of one home (e.g. `<building code>/2/301`) for composite rules and propagation;
    `place_codes` are the gazetteer codes above it, nearest first (building, compound); `area_path` is the located
    area chain as cases store it (scope and propagation up to community and street)."""

    device_id: str
    type_code: str
    area_code: str | None = None
    area_path: str = ""
    place_codes: tuple[str, ...] = ()
    household: str | None = None
    resident_id: int | None = None
