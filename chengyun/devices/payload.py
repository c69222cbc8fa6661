"""Checking one device message against its type, fast: the hot path of ingestion (pure, no I/O).

Payload: `{"msg_id": "<unique per device>", "ts": "<ISO 8601 with zone>" | <epoch seconds or milliseconds>,
"token": "<device credential>", "values": {...}}`. Telemetry values are the type's properties and the status
properties (battery, rssi); an event's values are `{"event": "<code>"}` plus status properties; a heartbeat's
values (optional) are status properties. Unknown top-level keys are ignored; unknown values are refused.
Anything wrong raises `Invalid` with a `devices.payload.*` code, never another exception.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chengyun.devices.catalogue import EVENT_KEY, DataType, DeviceType, PropertySpec
from chengyun.devices.model import MessageKind, Reading
from chengyun.errors import Invalid

MAX_PAYLOAD_BYTES = 4096
MAX_MSG_ID = 64
MAX_TOKEN = 128
MIN_TS, MAX_TS = 946_684_800.0, 4_102_444_800.0  # 2000-01-01 … 2100-01-01 UTC
MS_FROM = 1e11  # an epoch number this large is milliseconds (as seconds it would be the year 5138)
MAX_AHEAD_S = 600.0  # a device clock may run this far ahead of ours
_EMPTY: dict[str, Any] = {}
_NUMBER, _BOOL = DataType.NUMBER, DataType.BOOL
_EVENT, _TELEMETRY = MessageKind.EVENT, MessageKind.TELEMETRY
_DECODER = json.JSONDecoder()
_scan: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]  # the C scanner
_decode = _DECODER.decode
_WHITESPACE = " \t\n\r"  # what JSON allows around a value


def read_message(device_type: DeviceType, device_id: str, kind: MessageKind, payload: bytes, *,
                 now: float | None = None) -> tuple[Reading, str | None]:
    """The checked reading and the token found in the payload (None when absent).

    `now` (epoch seconds), when given, stands in for a missing `ts` and refuses a `ts` more than
    `MAX_AHEAD_S` in the future; without it a missing `ts` is refused."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Invalid("devices.payload.too_large", size=len(payload), limit=MAX_PAYLOAD_BYTES)
    body = _parse(payload)
    if type(body) is not dict:
        raise Invalid("devices.payload.not_object")
    msg_id = body.get("msg_id")
    if type(msg_id) is not str or not 0 < len(msg_id) <= MAX_MSG_ID or not msg_id.isprintable():
        msg_id = _msg_id(msg_id)
    ts = _ts(body.get("ts"), now)
    token = body.get("token")
    if token is not None and (type(token) is not str or len(token) > MAX_TOKEN):
        raise Invalid("devices.payload.bad_token")
    values = body.get("values", _EMPTY)
    if type(values) is not dict:
        raise Invalid("devices.payload.values_not_object")
    _check_values(device_type, kind, values)
    return Reading(device_id, device_type.code, kind, ts, values, msg_id), token


def _parse(payload: bytes) -> Any:
    """The JSON value: the C scanner straight on the text (a third of `json.loads`), the full decoder when that
    fails (leading whitespace, or to name the error)."""
    try:
        text = payload.decode()
    except UnicodeDecodeError as exc:
        raise Invalid("devices.payload.not_json", msg=str(exc)[:120]) from None
    try:
        value, end = _scan(text, 0)
        if end == len(text) or not text[end:].strip(_WHITESPACE):
            return value
    except (ValueError, StopIteration, RecursionError):
        pass
    try:
        return _decode(text)
    except (ValueError, RecursionError) as exc:
        raise Invalid("devices.payload.not_json", msg=str(exc)[:120]) from None


def _msg_id(raw: object) -> str:
    """The message id when it is not a plain short string: a non-negative integer, or a precise refusal."""
    if raw is None or raw == "":
        raise Invalid("devices.payload.missing_msg_id")
    if type(raw) is int and 0 <= raw < 10**MAX_MSG_ID:
        return str(raw)
    raise Invalid("devices.payload.bad_msg_id", max=MAX_MSG_ID)


def _ts(raw: object, now: float | None) -> float:
    """Epoch seconds from an ISO 8601 string with a zone or an epoch number (seconds, or milliseconds)."""
    kind = type(raw)
    if kind is float or kind is int:
        number: float = raw  # type: ignore[assignment]
        if not MIN_TS <= number <= MAX_TS * 1000:  # also refuses NaN
            raise Invalid("devices.payload.bad_ts", value=str(raw)[:40])
        ts = number / 1000.0 if number >= MS_FROM else float(number)
    elif kind is str:
        ts = _iso(raw)  # type: ignore[arg-type]
    elif raw is None:
        if now is None:
            raise Invalid("devices.payload.missing_ts")
        return now
    else:
        raise Invalid("devices.payload.bad_ts", value=str(raw)[:40])
    if not MIN_TS <= ts <= MAX_TS or (now is not None and ts > now + MAX_AHEAD_S):
        raise Invalid("devices.payload.bad_ts", value=str(raw)[:40])
    return ts


def _iso(text: str) -> float:
    if len(text) > 40:
        raise Invalid("devices.payload.bad_ts", value=text[:40])
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise Invalid("devices.payload.ts_without_zone", value=text)
        return moment.timestamp()
    except (ValueError, OverflowError):
        raise Invalid("devices.payload.bad_ts", value=text) from None


def _check_values(device_type: DeviceType, kind: MessageKind, values: dict[str, Any]) -> None:
    """Every value is a known property of this kind with the right datatype and within range."""
    accepts = device_type.accepts[kind]
    if kind is _EVENT:
        _check_event(device_type, values)
    elif kind is _TELEMETRY and not values:
        raise Invalid("devices.payload.no_values")
    for name, value in values.items():
        spec = accepts.get(name)
        if spec is None:
            if kind is _EVENT and name == EVENT_KEY:
                continue
            raise Invalid("devices.payload.unknown_property", property=name[:40], type=device_type.code,
                          kind=kind.value)
        datatype = spec.datatype
        if datatype is _NUMBER:
            _check_number(spec, value)
        elif datatype is _BOOL:
            if type(value) is not bool:
                raise Invalid("devices.payload.bad_value", property=name, expected=datatype.value)
        else:
            _check_string(spec, value)


def _check_event(device_type: DeviceType, values: dict[str, Any]) -> None:
    event = values.get(EVENT_KEY)
    if event is None:
        raise Invalid("devices.payload.missing_event")
    if type(event) is not str or event not in device_type.event_codes:
        raise Invalid("devices.payload.unknown_event", event=str(event)[:40], type=device_type.code)


def _check_string(spec: PropertySpec, value: Any) -> None:
    if type(value) is not str or (spec.values and value not in spec.values):
        raise Invalid("devices.payload.bad_value", property=spec.code,
                      expected=" | ".join(spec.values) if spec.values else spec.datatype.value)


def _check_number(spec: PropertySpec, value: Any) -> None:
    kind = type(value)
    if kind is not int and (kind is not float or not math.isfinite(value)):
        raise Invalid("devices.payload.bad_value", property=spec.code, expected=DataType.NUMBER.value)
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        raise Invalid("devices.payload.out_of_range", property=spec.code, value=str(value)[:40],
                      min=_bound(spec.min), max=_bound(spec.max))


def _bound(bound: float | None) -> str:
    if bound is None:
        return "∞"
    return str(int(bound)) if bound.is_integer() else str(bound)
