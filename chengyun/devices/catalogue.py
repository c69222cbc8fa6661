"""Device types as data: measured properties with units, datatypes and ranges, events, heartbeat, FIWARE mapping.

Pure apart from reading the packaged (or a street's own) JSON or YAML file. Every problem in a file is refused
with a precise code and the path of the offending field (`types[2].properties[0].max`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from chengyun.devices.model import MessageKind
from chengyun.errors import Invalid

TYPE_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")  # also an MQTT topic level: no '/', '+' or '#'
NAME_CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
EVENT_KEY = "event"  # an event message's values: {"event": "<code>", …status properties}
MAX_HEARTBEAT_S = 7 * 24 * 3600

# FIWARE Smart Data Models, dataModel.Device device-schema.json, ControlledPropertyType (spelling as published)
FIWARE_CONTROLLED_PROPERTIES = frozenset({
    "temperature", "humidity", "light", "motion", "fillingLevel", "occupancy", "power", "pressure", "smoke",
    "energy", "airPollution", "noiseLevel", "weatherConditions", "precipitation", "windSpeed", "windDirection",
    "atmosphericPressure", "solarRadiation", "depth", "pH", "conductivity", "conductance", "tss", "tds",
    "turbidity", "salinity", "orp", "cdom", "waterPollution", "location", "speed", "heading", "weight",
    "waterConsumption", "gasComsumption", "electricityConsumption", "soilMoisture", "trafficFlow",
    "eatingActivity", "milking", "movementActivity", "freeChlorine", "refractiveIndex",
})
FIWARE_CATEGORIES = frozenset({"sensor", "actuator", "meter", "HVAC", "network", "multimedia", "implement",
                               "irrSystem", "irrSection", "endgun"})


class DataType(StrEnum):
    """What a property's value is in the JSON payload."""

    NUMBER = "number"  # a JSON number (not a bool), finite, within [min, max] when given
    BOOL = "bool"  # true or false
    STRING = "string"  # a string, one of `values` when given


@dataclass(frozen=True, slots=True)
class PropertySpec:
    """One measured property: code, names, unit, datatype, range or allowed values, FIWARE controlledProperty."""

    code: str
    name_zh: str
    name_en: str
    datatype: DataType
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] = ()
    fiware: str | None = None


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One event a device may send as `{"event": code}`."""

    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True, slots=True)
class DeviceType:
    """A device type with its lookups precomputed for the hot path: `accepts[kind]` maps each property a message
    of that kind may carry to its spec (telemetry: the type's properties and the status properties; event and
    heartbeat: the status properties); `event_codes` are the events it may send."""

    code: str
    name_zh: str
    name_en: str
    heartbeat_s: int
    properties: tuple[PropertySpec, ...]
    events: tuple[EventSpec, ...] = ()
    status_properties: tuple[PropertySpec, ...] = ()
    fiware_category: str | None = None
    accepts: Mapping[MessageKind, Mapping[str, PropertySpec]] = field(init=False, repr=False, compare=False)
    event_codes: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        status = {p.code: p for p in self.status_properties}
        own = {p.code: p for p in self.properties}
        accepts = {MessageKind.TELEMETRY: {**status, **own}, MessageKind.EVENT: status,
                   MessageKind.HEARTBEAT: status}
        object.__setattr__(self, "accepts", accepts)
        object.__setattr__(self, "event_codes", frozenset(e.code for e in self.events))

    @property
    def controlled_property(self) -> tuple[str, ...]:
        """The FIWARE Device.controlledProperty values of its properties (empty when the vocabulary has none)."""
        return tuple(dict.fromkeys(p.fiware for p in self.properties if p.fiware))

    def name(self, locale: str) -> str:
        """The type's name in a locale (zh-CN default)."""
        return self.name_en if locale == "en" else self.name_zh


def load_device_types(path: Path | None = None) -> dict[str, DeviceType]:
    """The device types of a street's file (JSON, or YAML by suffix), or the packaged defaults; code → type."""
    if path is None:
        return dict(_defaults())
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Invalid("devices.types.unreadable", where=str(path), msg=str(exc)[:200]) from None
    return parse_device_types(text, yaml=path.suffix.lower() in {".yaml", ".yml"}, where=path.name)


@cache
def _defaults() -> dict[str, DeviceType]:
    text = resources.files("chengyun.devices").joinpath("data/device_types.json").read_text("utf-8")
    return parse_device_types(text, where="device_types.json")


def parse_device_types(text: str, *, yaml: bool = False, where: str = "") -> dict[str, DeviceType]:
    """Parse a device-type file's text, refusing the first problem precisely."""
    try:
        raw = _yaml_load(text) if yaml else json.loads(text)
    except ValueError as exc:
        raise Invalid("devices.types.unreadable", where=where, msg=str(exc)[:200]) from None
    root = _dict(raw, where or "file")
    status = tuple(_property(p, f"status_properties[{i}]")
                   for i, p in enumerate(_list(root.get("status_properties", []), "status_properties")))
    types: dict[str, DeviceType] = {}
    for i, item in enumerate(_list(root.get("types"), "types")):
        kind = _type(item, f"types[{i}]", status)
        if kind.code in types:
            raise Invalid("devices.types.duplicate", where=f"types[{i}].code", code=kind.code)
        types[kind.code] = kind
    if not types:
        raise Invalid("devices.types.bad_field", where="types", expected="non-empty list")
    return types


def _yaml_load(text: str) -> Any:
    import yaml  # only a YAML file pays for it

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


def _type(raw: Any, where: str, status: tuple[PropertySpec, ...]) -> DeviceType:
    item = _dict(raw, where)
    code = _code(item.get("code"), f"{where}.code", TYPE_CODE)
    zh, en = _names(item, where)
    heartbeat = item.get("heartbeat_s")
    if type(heartbeat) is not int or not 10 <= heartbeat <= MAX_HEARTBEAT_S:
        raise Invalid("devices.types.bad_field", where=f"{where}.heartbeat_s",
                      expected=f"integer seconds 10–{MAX_HEARTBEAT_S}")
    properties = tuple(_property(p, f"{where}.properties[{i}]")
                       for i, p in enumerate(_list(item.get("properties", []), f"{where}.properties")))
    events = tuple(_event(e, f"{where}.events[{i}]")
                   for i, e in enumerate(_list(item.get("events", []), f"{where}.events")))
    _unique([p.code for p in properties], f"{where}.properties")
    _unique([e.code for e in events], f"{where}.events")
    if not properties and not events:
        raise Invalid("devices.types.bad_field", where=f"{where}.properties", expected="properties or events")
    category = item.get("fiware_category")
    if category is not None and category not in FIWARE_CATEGORIES:
        raise Invalid("devices.types.bad_fiware", where=f"{where}.fiware_category", value=str(category)[:40])
    return DeviceType(code, zh, en, heartbeat, properties, events, status, category)


def _property(raw: Any, where: str) -> PropertySpec:
    item = _dict(raw, where)
    code = _code(item.get("code"), f"{where}.code", NAME_CODE)
    if code == EVENT_KEY:
        raise Invalid("devices.types.bad_code", where=f"{where}.code", value=code)
    zh, en = _names(item, where)
    try:
        datatype = DataType(str(item.get("datatype")))
    except ValueError:
        raise Invalid("devices.types.bad_field", where=f"{where}.datatype", expected="number, bool or string") \
            from None
    unit = _optional_text(item.get("unit"), f"{where}.unit")
    low, high = _bound(item.get("min"), f"{where}.min"), _bound(item.get("max"), f"{where}.max")
    if low is not None and high is not None and low > high:
        raise Invalid("devices.types.bad_range", where=where, min=low, max=high)
    values = tuple(_list(item.get("values", []), f"{where}.values"))
    if not all(isinstance(v, str) and v for v in values):
        raise Invalid("devices.types.bad_field", where=f"{where}.values", expected="list of strings")
    fiware = item.get("fiware")
    if fiware is not None and fiware not in FIWARE_CONTROLLED_PROPERTIES:
        raise Invalid("devices.types.bad_fiware", where=f"{where}.fiware", value=str(fiware)[:40])
    return PropertySpec(code, zh, en, datatype, unit, low, high, values, fiware)


def _event(raw: Any, where: str) -> EventSpec:
    item = _dict(raw, where)
    zh, en = _names(item, where)
    return EventSpec(_code(item.get("code"), f"{where}.code", NAME_CODE), zh, en)


def _names(item: Mapping[str, Any], where: str) -> tuple[str, str]:
    names = _dict(item.get("name"), f"{where}.name")
    zh, en = names.get("zh-CN"), names.get("en")
    if not (isinstance(zh, str) and zh.strip() and isinstance(en, str) and en.strip()):
        raise Invalid("devices.types.bad_field", where=f"{where}.name", expected='{"zh-CN": …, "en": …}')
    return zh.strip(), en.strip()


def _code(value: Any, where: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise Invalid("devices.types.bad_code", where=where, value=str(value)[:40])
    return value


def _bound(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid("devices.types.bad_field", where=where, expected="a finite number")
    return float(value)


def _optional_text(value: Any, where: str) -> str | None:
    if value is None or (isinstance(value, str) and len(value) <= 20):
        return value or None
    raise Invalid("devices.types.bad_field", where=where, expected="text of at most 20 characters")


def _dict(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise Invalid("devices.types.bad_field", where=where, expected="an object")
    return value


def _list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise Invalid("devices.types.bad_field", where=where, expected="a list")
    return value


def _unique(codes: Sequence[str], where: str) -> None:
    seen: set[str] = set()
    for code in codes:
        if code in seen:
            raise Invalid("devices.types.duplicate", where=where, code=code)
        seen.add(code)
