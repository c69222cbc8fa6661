"""What every part of the IoT path agrees on: a device's facts and one reading from it; pure, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from chengyun.errors import Invalid

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


DEVICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")  # also an MQTT topic level: no '/', '+', '#'


def check_device_id(raw: str) -> str:
    """A device id as stored and used in topics (1–64 of A–Z a–z 0–9 _ . : -), or a precise refusal."""
    value = raw.strip()
    if not DEVICE_ID.match(value):
        raise Invalid("devices.bad_device_id", value=value[:64])
    return value


class DeviceStatus(StrEnum):
    """Whether a device has been heard from recently enough (stored lowercase codes)."""

    ONLINE = "online"
    OFFLINE = "offline"  # also a device never heard from (its last_seen_at is empty)


def household_key(place_code: str | None, unit: str | None, room: str | None) -> str | None:
    """`<place_code>/<unit>/<room>` for a device in a room of a known place (the unit may be empty); else None."""
    if not place_code or not room:
        return None
    return f"{place_code}/{unit or ''}/{room}"


@dataclass(frozen=True, slots=True)
class Contact:
    """A person to notify about a device's resident, in order: `phone` is the plain number for authorised
    sending (its reveal is audited), `phone_masked` the one to show."""

    seq: int
    name: str
    relation: str
    phone: str
    phone_masked: str
