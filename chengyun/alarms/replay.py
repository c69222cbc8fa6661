"""Dry runs of rules against recorded readings (JSON Lines): parse each line with precise errors, drive the engine
in recorded order, describe each transition in local time; pure (the CLI does the file reading and printing)."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from chengyun.alarms.engine import RuleEngine
from chengyun.alarms.signals import Change, Transition
from chengyun.devices.model import DeviceFacts, MessageKind, Reading, Value
from chengyun.errors import Invalid

TIME_PARAMS = frozenset({"since", "last_seen"})  # epoch seconds shown as local time


@dataclass
class Replay:
    """What a dry run saw: every transition in order, how many readings, what still holds at the end."""

    transitions: list[Transition] = field(default_factory=list)
    readings: int = 0
    still_active: list[tuple[str, str]] = field(default_factory=list)  # (device id, rule id)

    def counts(self) -> Counter[Change]:
        """Fires and clears."""
        return Counter(t.change for t in self.transitions)


def replay(engine: RuleEngine, lines: Iterable[str], until: float | None = None) -> Replay:
    """Feed every reading (time-driven deadlines settled up to each reading's instant first), then run the clock on
    to `until` (default: the last reading's instant)."""
    result = Replay()
    last = -math.inf
    devices: dict[str, DeviceFacts] = {}
    for reading, device in parse_lines(lines, devices):
        result.transitions.extend(engine.tick(reading.ts))
        result.transitions.extend(engine.feed(reading, device))
        result.readings += 1
        last = max(last, reading.ts)
    end = until if until is not None else last
    if math.isfinite(end):
        result.transitions.extend(engine.tick(end))
    result.still_active = [(device_id, rule_id) for device_id in sorted(devices)
                           for rule_id in engine.active(device_id)]
    return result


def parse_lines(lines: Iterable[str], devices: dict[str, DeviceFacts]) -> Iterator[tuple[Reading, DeviceFacts]]:
    """Readings from JSON Lines (blank lines and `#` comments skipped); one facts object per device."""
    for number, text in enumerate(lines, start=1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        reading, facts = parse_line(number, text)
        known = devices.get(facts.device_id)
        if known is None or known != facts:
            known = devices[facts.device_id] = facts
        yield reading, known


def parse_line(number: int, text: str) -> tuple[Reading, DeviceFacts]:
    """One line: device_id, type, kind (default telemetry), ts (ISO 8601 with zone, or epoch seconds), values,
    optional msg_id, household, place_codes, area_code, area_path, resident_id."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid("alarms.readings.bad_json", line=number, problem=exc.msg) from None
    if not isinstance(raw, dict):
        raise _bad(number, "(line)", raw, "JSON object")
    device_id, type_code = _text(raw, "device_id", number), _text(raw, "type", number)
    kind_text = raw.get("kind", "telemetry")
    try:
        kind = MessageKind(kind_text)
    except ValueError:
        raise _bad(number, "kind", kind_text, "|".join(MessageKind)) from None
    reading = Reading(device_id, type_code, kind, parse_ts(raw.get("ts"), number), _values(raw, number),
                      str(raw.get("msg_id") or f"line-{number}"))
    return reading, _facts(raw, number, device_id, type_code)


def _bad(number: int, name: str, value: object, expected: str) -> Invalid:
    return Invalid("alarms.readings.bad_field", line=number, field=name, value=str(value)[:60], expected=expected)


def _text(raw: Mapping[str, object], name: str, number: int) -> str:
    value = raw.get(name)
    if value is None:
        raise Invalid("alarms.readings.missing_field", line=number, field=name)
    if not isinstance(value, str) or not value.strip():
        raise _bad(number, name, value, "text")
    return value.strip()


def parse_ts(value: object, number: int) -> float:
    """Epoch seconds from a number or an ISO 8601 instant with a zone; anything else names the line."""
    if value is None:
        raise Invalid("alarms.readings.missing_field", line=number, field="ts")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if not isinstance(value, str):
        raise _bad(number, "ts", value, "ISO 8601 or epoch seconds")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _bad(number, "ts", value, "ISO 8601 or epoch seconds") from None
    if moment.tzinfo is None:
        raise Invalid("alarms.readings.naive_ts", line=number, value=value)
    return moment.timestamp()


def _values(raw: Mapping[str, object], number: int) -> dict[str, Value]:
    values = raw.get("values")
    if values is None:
        raise Invalid("alarms.readings.missing_field", line=number, field="values")
    if not isinstance(values, dict):
        raise _bad(number, "values", values, "JSON object")
    for key, value in values.items():
        if not isinstance(value, str | int | float) or (isinstance(value, float) and not math.isfinite(value)):
            raise _bad(number, f"values.{key}", value, "text, number or true/false")
    return values


def _facts(raw: Mapping[str, object], number: int, device_id: str, type_code: str) -> DeviceFacts:
    places = raw.get("place_codes", [])
    if isinstance(places, str):
        places = [places]
    if not isinstance(places, list) or not all(isinstance(p, str) for p in places):
        raise _bad(number, "place_codes", places, "list of codes")
    resident = raw.get("resident_id")
    if resident is not None and (isinstance(resident, bool) or not isinstance(resident, int)):
        raise _bad(number, "resident_id", resident, "integer")
    optional = {name: raw.get(name) for name in ("household", "area_code", "area_path")}
    for name, value in optional.items():
        if value is not None and not isinstance(value, str):
            raise _bad(number, name, value, "text")
    return DeviceFacts(device_id, type_code, optional["area_code"], str(optional["area_path"] or ""),  # type: ignore[arg-type]
                       tuple(places), optional["household"], resident)  # type: ignore[arg-type]


def local_time(ts: float, zone: ZoneInfo) -> str:
    """`2026-01-01 08:05:00` in the zone."""
    return datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M:%S")


def explain(params: Mapping[str, object], zone: ZoneInfo) -> str:
    """`key=value` pairs, numbers compact, instants in local time."""
    parts = []
    for key, value in params.items():
        if key in TIME_PARAMS and isinstance(value, int | float):
            shown = local_time(float(value), zone)
        elif isinstance(value, float):
            shown = f"{value:g}"
        elif isinstance(value, list | tuple):
            shown = "+".join(str(v) for v in value)
        else:
            shown = str(value)
        parts.append(f"{key}={shown}")
    return " ".join(parts)
