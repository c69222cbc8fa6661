"""Devices, pure: the type catalogue and its loader, payload checks (with fuzzing), the directory's credentials."""

from __future__ import annotations

import json
import re
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chengyun.devices.catalogue import (
    FIWARE_CONTROLLED_PROPERTIES,
    DataType,
    DeviceType,
    load_device_types,
    parse_device_types,
)
from chengyun.devices.directory import DeviceDirectory, credential_key, new_token, token_hash
from chengyun.devices.model import DeviceFacts, MessageKind, check_device_id, household_key
from chengyun.devices.payload import MAX_PAYLOAD_BYTES, read_message
from chengyun.errors import Invalid
from chengyun.i18n import catalogue, translate

ROOT = Path(__file__).resolve().parents[2]
TYPES = load_device_types()
TELEMETRY, EVENT, HEARTBEAT = MessageKind.TELEMETRY, MessageKind.EVENT, MessageKind.HEARTBEAT
TS = "2026-12-04T08:00:00+08:00"
EPOCH = 1_796_342_400.0  # TS as epoch seconds


def message(values: dict[str, Any] | None = None, **fields: Any) -> bytes:
    body: dict[str, Any] = {"msg_id": "m-1", "ts": TS, "token": "t0k3n", **fields}
    if values is not None:
        body["values"] = values
    return json.dumps(body).encode()


def refused(kind: DeviceType, msg_kind: MessageKind, payload: bytes, **kwargs: Any) -> Invalid:
    with pytest.raises(Invalid) as info:
        read_message(kind, "dev-1", msg_kind, payload, **kwargs)
    return info.value


# --- the catalogue ----------------------------------------------------------------------------------------------


def test_the_eight_default_types_with_units_ranges_events_and_fiware_values() -> None:
    assert list(TYPES) == ["gas_detector", "smoke_detector", "water_meter", "sos_button", "door_sensor",
                           "hydrant_pressure", "water_immersion", "thermal_camera"]
    gas = TYPES["gas_detector"]
    assert (gas.name_zh, gas.name_en) == ("燃气报警器", "Gas detector")
    [lel] = gas.properties
    assert (lel.code, lel.unit, lel.datatype, lel.min, lel.max) == ("gas_lel", "%LEL", DataType.NUMBER, 0, 100)
    assert set(gas.accepts[TELEMETRY]) == {"gas_lel", "battery", "rssi"}
    assert set(gas.accepts[HEARTBEAT]) == {"battery", "rssi"}
    assert TYPES["door_sensor"].event_codes == {"door_opened", "door_closed"}
    assert TYPES["sos_button"].event_codes == {"sos_pressed"}
    fiware = {code: kind.controlled_property for code, kind in TYPES.items()}
    assert fiware == {"gas_detector": (), "smoke_detector": ("smoke",), "water_meter": ("waterConsumption",),
                      "sos_button": (), "door_sensor": (), "hydrant_pressure": ("pressure",),
                      "water_immersion": (), "thermal_camera": ("temperature",)}
    assert all(set(values) <= FIWARE_CONTROLLED_PROPERTIES for values in fiware.values())
    assert TYPES["water_meter"].fiware_category == "meter"
    assert all(60 <= kind.heartbeat_s <= 86400 for kind in TYPES.values())


def test_a_street_file_in_yaml_replaces_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "types.yaml"
    path.write_text(
        "types:\n"
        "  - code: manhole_cover\n"
        "    name: {zh-CN: 智能井盖, en: Smart manhole cover}\n"
        "    heartbeat_s: 600\n"
        "    properties:\n"
        "      - {code: tilt, name: {zh-CN: 倾角, en: Tilt}, unit: '°', datatype: number, min: 0, max: 90,"
        " fiware: null}\n"
        "      - {code: state, name: {zh-CN: 状态, en: State}, datatype: string, values: [closed, open]}\n",
        encoding="utf-8")
    types = load_device_types(path)
    assert list(types) == ["manhole_cover"]
    reading, _ = read_message(types["manhole_cover"], "mc-1", TELEMETRY, message({"tilt": 12, "state": "open"}))
    assert reading.values == {"tilt": 12, "state": "open"}
    error = refused(types["manhole_cover"], TELEMETRY, message({"state": "ajar"}))
    assert (error.code, error.params["expected"]) == ("devices.payload.bad_value", "closed | open")


GOOD_TYPE = {"code": "x_meter", "name": {"zh-CN": "表", "en": "Meter"}, "heartbeat_s": 60,
             "properties": [{"code": "v", "name": {"zh-CN": "值", "en": "Value"}, "datatype": "number"}]}


@pytest.mark.parametrize(("change", "code", "where"), [
    ({"code": "X-Meter"}, "devices.types.bad_code", "types[0].code"),
    ({"heartbeat_s": 5}, "devices.types.bad_field", "types[0].heartbeat_s"),
    ({"name": {"zh-CN": "表"}}, "devices.types.bad_field", "types[0].name"),
    ({"properties": [], "events": []}, "devices.types.bad_field", "types[0].properties"),
    ({"properties": [{"code": "v", "name": {"zh-CN": "值", "en": "V"}, "datatype": "float"}]},
     "devices.types.bad_field", "types[0].properties[0].datatype"),
    ({"properties": [{"code": "v", "name": {"zh-CN": "值", "en": "V"}, "datatype": "number", "min": 5, "max": 1}]},
     "devices.types.bad_range", "types[0].properties[0]"),
    ({"properties": [{"code": "v", "name": {"zh-CN": "值", "en": "V"}, "datatype": "number", "fiware": "gasLeak"}]},
     "devices.types.bad_fiware", "types[0].properties[0].fiware"),
    ({"properties": [{"code": "event", "name": {"zh-CN": "值", "en": "V"}, "datatype": "string"}]},
     "devices.types.bad_code", "types[0].properties[0].code"),
    ({"events": [{"code": "e", "name": {"zh-CN": "事", "en": "E"}}] * 2}, "devices.types.duplicate", "types[0].events"),
])
def test_a_bad_type_file_is_refused_with_the_path_of_the_field(change: dict[str, Any], code: str,
                                                               where: str) -> None:
    with pytest.raises(Invalid) as info:
        parse_device_types(json.dumps({"types": [{**GOOD_TYPE, **change}]}))
    assert (info.value.code, info.value.params["where"]) == (code, where)


def test_unreadable_and_duplicate_types_are_refused(tmp_path: Path) -> None:
    with pytest.raises(Invalid) as info:
        parse_device_types("{not json")
    assert info.value.code == "devices.types.unreadable"
    with pytest.raises(Invalid) as info:
        parse_device_types(json.dumps({"types": [GOOD_TYPE, GOOD_TYPE]}))
    assert (info.value.code, info.value.params["code"]) == ("devices.types.duplicate", "x_meter")
    with pytest.raises(Invalid) as info:
        load_device_types(tmp_path / "missing.json")
    assert info.value.code == "devices.types.unreadable"


# --- payloads ---------------------------------------------------------------------------------------------------


def test_a_telemetry_message_becomes_a_reading_with_its_token() -> None:
    reading, token = read_message(TYPES["gas_detector"], "GAS-1", TELEMETRY, message({"gas_lel": 3.5, "battery": 87}))
    assert token == "t0k3n"
    assert (reading.device_id, reading.type_code, reading.kind, reading.ts, reading.msg_id) == (
        "GAS-1", "gas_detector", TELEMETRY, EPOCH, "m-1")
    assert reading.values == {"gas_lel": 3.5, "battery": 87}


@pytest.mark.parametrize(("ts", "expected"), [
    (TS, EPOCH), ("2026-12-04T00:00:00Z", EPOCH), (EPOCH, EPOCH), (int(EPOCH), EPOCH),
    (EPOCH * 1000, EPOCH), ("2026-12-04T00:00:00.250+00:00", EPOCH + 0.25),
])
def test_times_in_iso_with_a_zone_or_epoch_seconds_or_milliseconds(ts: Any, expected: float) -> None:
    reading, _ = read_message(TYPES["smoke_detector"], "s", TELEMETRY, message({"smoke": False}, ts=ts))
    assert reading.ts == pytest.approx(expected)


def test_events_heartbeats_and_a_missing_token_or_time() -> None:
    reading, _ = read_message(TYPES["sos_button"], "sos", EVENT, message({"event": "sos_pressed", "battery": 50}))
    assert reading.values["event"] == "sos_pressed"
    beat, token = read_message(TYPES["water_meter"], "wm", HEARTBEAT, b'{"msg_id": 7, "ts": 1796342400}')
    assert (beat.values, beat.msg_id, token) == ({}, "7", None)
    at_now, _ = read_message(TYPES["water_meter"], "wm", HEARTBEAT, b'{"msg_id": "h1"}', now=EPOCH + 5)
    assert at_now.ts == EPOCH + 5


BAD_MESSAGES: list[tuple[str, MessageKind, bytes, str, dict[str, Any]]] = [
    ("gas_detector", TELEMETRY, b"\xff\xfe", "devices.payload.not_json", {}),
    ("gas_detector", TELEMETRY, b'{"msg_id": "a"', "devices.payload.not_json", {}),
    ("gas_detector", TELEMETRY, b'{"a": 1} {"b": 2}', "devices.payload.not_json", {}),
    ("gas_detector", TELEMETRY, b"[1, 2]", "devices.payload.not_object", {}),
    ("gas_detector", TELEMETRY, b" " * (MAX_PAYLOAD_BYTES + 1), "devices.payload.too_large", {}),
    ("gas_detector", TELEMETRY, message({"gas_lel": 1}, msg_id=""), "devices.payload.missing_msg_id", {}),
    ("gas_detector", TELEMETRY, message({"gas_lel": 1}, msg_id="a\nb"), "devices.payload.bad_msg_id", {}),
    ("gas_detector", TELEMETRY, message({"gas_lel": 1}, msg_id=True), "devices.payload.bad_msg_id", {}),
    ("gas_detector", TELEMETRY, message({"gas_lel": 1}, ts="2026-12-04T08:00:00"),
     "devices.payload.ts_without_zone", {}),
    ("gas_detector", TELEMETRY, message({"gas_lel": 1}, ts="yesterday"), "devices.payload.bad_ts", {}),
    ("gas_detector", TELEMETRY, message({"gas_lel": 1}, ts=12), "devices.payload.bad_ts", {}),
    ("gas_detector", TELEMETRY, message({"gas_lel": 1}, ts=True), "devices.payload.bad_ts", {}),
    ("gas_detector", TELEMETRY, b'{"msg_id": "a", "ts": NaN, "values": {"gas_lel": 1}}', "devices.payload.bad_ts",
     {}),
    ("gas_detector", TELEMETRY, message({"gas_lel": 1}, ts=None), "devices.payload.missing_ts", {}),
    ("gas_detector", TELEMETRY, message({"gas_lel": 1}, token=5), "devices.payload.bad_token", {}),
    ("gas_detector", TELEMETRY, b'{"msg_id": "a", "ts": 1796342400, "values": [1]}',
     "devices.payload.values_not_object", {}),
    ("gas_detector", TELEMETRY, message({}), "devices.payload.no_values", {}),
    ("gas_detector", TELEMETRY, message({"smoke": True}), "devices.payload.unknown_property",
     {"property": "smoke", "type": "gas_detector"}),
    ("gas_detector", TELEMETRY, message({"gas_lel": "3"}), "devices.payload.bad_value",
     {"property": "gas_lel", "expected": "number"}),
    ("gas_detector", TELEMETRY, message({"gas_lel": True}), "devices.payload.bad_value", {"property": "gas_lel"}),
    ("gas_detector", TELEMETRY, b'{"msg_id": "a", "ts": 1796342400, "values": {"gas_lel": Infinity}}',
     "devices.payload.bad_value", {"property": "gas_lel"}),
    ("gas_detector", TELEMETRY, message({"gas_lel": 101}), "devices.payload.out_of_range",
     {"property": "gas_lel", "min": "0", "max": "100"}),
    ("smoke_detector", TELEMETRY, message({"smoke": 1}), "devices.payload.bad_value",
     {"property": "smoke", "expected": "bool"}),
    ("sos_button", EVENT, message({"battery": 50}), "devices.payload.missing_event", {}),
    ("sos_button", EVENT, message({"event": "door_opened"}), "devices.payload.unknown_event",
     {"event": "door_opened"}),
    ("sos_button", EVENT, message({"event": ["sos_pressed"]}), "devices.payload.unknown_event", {}),
    ("water_meter", HEARTBEAT, message({"flow": 1.0}), "devices.payload.unknown_property",
     {"property": "flow", "kind": "heartbeat"}),
    ("water_meter", HEARTBEAT, message({"rssi": -200}), "devices.payload.out_of_range", {"property": "rssi"}),
]


@pytest.mark.parametrize(("type_code", "kind", "payload", "code", "params"), BAD_MESSAGES)
def test_bad_messages_are_refused_with_precise_codes(type_code: str, kind: MessageKind, payload: bytes, code: str,
                                                      params: dict[str, Any]) -> None:
    error = refused(TYPES[type_code], kind, payload)
    assert error.code == code
    assert {k: error.params[k] for k in params} == params
    for locale in ("zh-CN", "en"):
        assert "{" not in translate(error.code, locale, **error.params)


def test_a_time_far_in_the_future_is_refused_only_when_now_is_known() -> None:
    ahead = message({"smoke": False}, ts=EPOCH + 3600)
    assert read_message(TYPES["smoke_detector"], "s", TELEMETRY, ahead)[0].ts == EPOCH + 3600
    assert refused(TYPES["smoke_detector"], TELEMETRY, ahead, now=EPOCH).code == "devices.payload.bad_ts"


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                   max_size=4), max_leaves=12)


def _only_invalid(call: Callable[[], object]) -> None:
    try:
        call()
    except Invalid as exc:
        assert re.fullmatch(r"devices\.payload\.[a-z_]+", exc.code)
        assert exc.code in catalogue("en")


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(sorted(TYPES)), st.sampled_from(list(MessageKind)), st.binary(max_size=300))
def test_random_bytes_never_raise_anything_but_invalid(type_code: str, kind: MessageKind, payload: bytes) -> None:
    _only_invalid(lambda: read_message(TYPES[type_code], "d", kind, payload))


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(sorted(TYPES)), st.sampled_from(list(MessageKind)),
       st.fixed_dictionaries({}, optional={"msg_id": JSONISH, "ts": JSONISH, "token": JSONISH, "values": JSONISH}),
       st.dictionaries(st.sampled_from(["gas_lel", "smoke", "event", "battery", "flow", "temp_max", "rssi"]),
                       JSONISH, max_size=3))
def test_random_json_never_raises_anything_but_invalid(type_code: str, kind: MessageKind, body: dict[str, Any],
                                                       values: dict[str, Any]) -> None:
    if values:
        body["values"] = values
    payload = json.dumps(body).encode()
    _only_invalid(lambda: read_message(TYPES[type_code], "d", kind, payload))
    _only_invalid(lambda: read_message(TYPES[type_code], "d", kind, payload, now=EPOCH))


@settings(max_examples=300, deadline=None)
@given(st.floats(0, 100), st.integers(0, 100), st.integers(-150, 0))
def test_any_value_in_range_is_accepted(lel: float, battery: int, rssi: int) -> None:
    reading, _ = read_message(TYPES["gas_detector"], "g", TELEMETRY,
                              message({"gas_lel": lel, "battery": battery, "rssi": rssi}))
    assert reading.values == {"gas_lel": lel, "battery": battery, "rssi": rssi}


# --- ids, households, the directory -----------------------------------------------------------------------------


def test_device_ids_are_topic_safe_and_households_need_a_room() -> None:
    assert check_device_id(" GAS-000001 ") == "GAS-000001"
    for bad in ("", "a/b", "a+b", "a#", "-x", "x" * 65, "设备1"):
        with pytest.raises(Invalid) as info:
            check_device_id(bad)
        assert info.value.code == "devices.bad_device_id"
    assert household_key("cmp-001-03", "2", "301") == "cmp-001-03/2/301"
    assert household_key("cmp-001", "", "12") == "cmp-001//12"
    assert household_key("cmp-001", "2", "") is None and household_key(None, "2", "301") is None


KEY = credential_key("instance-secret-0123456789abcdefghijklmnop")


def _facts(n: int) -> DeviceFacts:
    return DeviceFacts(f"GAS-{n:06d}", "gas_detector", "510113002001001", "/510100000000/510113002001001/",
                       ("cmp-001-03", "cmp-001"), f"cmp-001-03/1/{n % 40}", None)


def test_the_directory_verifies_tokens_in_constant_time_and_caches_a_verified_one() -> None:
    directory = DeviceDirectory(KEY, TYPES)
    token = new_token()
    directory.put(_facts(1), token_hash(KEY, token))
    assert len(token) == 32 and len(directory) == 1 and "GAS-000001" in directory
    assert directory.facts("GAS-000001") == _facts(1)
    assert directory.type_of("GAS-000001") is TYPES["gas_detector"]
    assert directory.facts("nope") is None and directory.type_of("nope") is None
    assert not directory.verify("GAS-000001", None) and not directory.verify("GAS-000001", "")
    wrong = token[:-1] + ("y" if token.endswith("x") else "x")  # one character off (a random token may end in x)
    assert not directory.verify("GAS-000001", wrong) and not directory.verify("nope", token)
    assert not directory.verify("GAS-000001", "x" * 500)
    assert directory.verify("GAS-000001", token) and directory.verify("GAS-000001", token)  # second: cached
    assert not directory.verify("GAS-000001", token.upper())
    directory.put(_facts(1), token_hash(KEY, token))  # the same credential again keeps the cache
    assert directory.verify("GAS-000001", token)
    fresh = new_token()
    directory.put(_facts(1), token_hash(KEY, fresh))  # a new credential: the old token stops at once
    assert not directory.verify("GAS-000001", token) and directory.verify("GAS-000001", fresh)
    directory.remove("GAS-000001")
    assert not directory.verify("GAS-000001", fresh) and directory.facts("GAS-000001") is None
    assert token_hash(credential_key("another secret"), fresh) != token_hash(KEY, fresh)
    odd = "x" * 31  # its remembered form would be as long as a digest: it is checked by HMAC every time
    directory.put(_facts(2), token_hash(KEY, odd))
    assert all(directory.verify("GAS-000002", odd) for _ in range(3)) and not directory.verify("GAS-000002", "y" * 31)


def test_the_directory_shares_equal_strings_and_costs_about_300_bytes_a_device() -> None:
    count = 20_000
    tokens = [new_token() for _ in range(count)]
    hashes = [token_hash(KEY, t) for t in tokens]
    facts = [_facts(n) for n in range(count)]
    ids = [sys.intern(f.device_id) for f in facts]  # the ids exist anyway (the caller's rows)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    directory = DeviceDirectory(KEY, TYPES)
    for f, h in zip(facts, hashes, strict=True):
        directory.put(f, h)
    for device_id, token in zip(ids, tokens, strict=True):
        assert directory.verify(device_id, token)
    per_device = (tracemalloc.get_traced_memory()[0] - before) / count
    tracemalloc.stop()
    assert per_device < 400, per_device
    a, b = directory.facts(ids[0]), directory.facts(ids[40])
    assert a is not None and b is not None and a.area_path is b.area_path and a.place_codes is b.place_codes


# --- translations -----------------------------------------------------------------------------------------------


def test_every_devices_code_in_the_source_has_both_translations() -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "chengyun/devices").glob("*.py"))
    used = set(re.findall(r'"((?:devices|cli\.devices)[a-z_]*\.[a-z_.]*[a-z_])"', source))
    used -= {"devices.read", "devices.manage", "devices.import", "devices.reset_token"}  # permissions, audit actions
    assert len(used) > 40, sorted(used)
    for locale in ("zh-CN", "en"):
        assert not sorted(used - set(catalogue(locale))), locale
    zh = json.loads((ROOT / "chengyun/i18n/zh_CN.devices.json").read_text(encoding="utf-8"))
    en = json.loads((ROOT / "chengyun/i18n/en.devices.json").read_text(encoding="utf-8"))
    assert set(zh) == set(en)
    for code in zh:
        assert set(re.findall(r"\{(\w+)\}", zh[code])) == set(re.findall(r"\{(\w+)\}", en[code])), code
