"""Device files, pure: reading rows with precise problems, placing devices on the gazetteer, the demo plan."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chengyun.areas.model import AreaLevel, AreaRef, ImportProblem
from chengyun.demo.district import build_demo_district
from chengyun.devices.demo_plan import Road, Site, demo_devices
from chengyun.devices.placing import PlacedDevice, place_devices
from chengyun.devices.tabular import COLUMNS, DeviceDraft, parse_devices
from chengyun.i18n import translate
from chengyun.shared.privacy import normalise_phone
from tests.helpers import workbook_bytes
from tests.unit.test_places_matching import AREAS, ENTRIES, GAZETTEER, HONGYANG, SHIJIA, TOP, YIHU

TYPES = ["gas_detector", "smoke_detector", "sos_button", "hydrant_pressure"]
HEADER = "device_id,type,name,place,address,lon,lat,building,unit,room,resident_name,resident_phone," \
         "contact1_name,contact1_relation,contact1_phone,contact2_name,contact2_relation,contact2_phone"


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def problems_of(data: bytes, filename: str = "d.csv") -> list[tuple[str, str, object]]:
    parsed = parse_devices(data, filename, TYPES)
    return [(p.code, p.where, p.params.get("column")) for p in parsed.problems]


def test_a_clean_file_gives_drafts_with_residents_and_contacts_in_order() -> None:
    parsed = parse_devices(csv_bytes(
        "SOS-1,sos_button,王奶奶家,cmp-1,,,,3栋,2,301,王秀英,13800138000,李强,儿子,139-0000-1111,,,",
        "GAS-1,gas_detector,,,四川省成都市青白江区红阳路8号,,,,,,,,,,,,,",
        "HYD-1,hydrant_pressure,,road-1,,104.0051,30.0001,,,,,,,,,,,"), "d.csv", TYPES)
    assert parsed.problems == ()
    sos, gas, hydrant = parsed.drafts
    assert (sos.row, sos.device_id, sos.place, sos.building, sos.unit, sos.room) == (2, "SOS-1", "cmp-1", "3栋", "2",
                                                                                     "301")
    assert sos.resident is not None and (sos.resident.name, sos.resident.phone) == ("王秀英", "13800138000")
    assert [(c.name, c.relation, c.phone) for c in sos.contacts] == [("李强", "儿子", "13900001111")]
    assert gas.address.endswith("红阳路8号") and gas.resident is None
    assert (hydrant.lon, hydrant.lat) == (104.0051, 30.0001)


def test_excel_files_and_chinese_headers_read_like_csv() -> None:
    data = workbook_bytes([["设备编号", "类型", "地点", "房号", "住户姓名", "住户电话"],
                           ["GAS-9", "gas_detector", "cmp-2", 502, "张三", 13912345678]])
    [draft] = parse_devices(data, "设备.xlsx", TYPES).drafts
    assert (draft.device_id, draft.place, draft.room) == ("GAS-9", "cmp-2", "502")
    assert draft.resident is not None and draft.resident.phone == "13912345678"


@pytest.mark.parametrize(("row", "code", "column"), [
    ("a/b,gas_detector,,cmp-1,,,,,,,,,,,,,,", "devices.import.bad_device_id", "device_id"),
    ("G1,fridge,,cmp-1,,,,,,,,,,,,,,", "devices.import.unknown_type", "type"),
    ("G1,gas_detector,,cmp-1,,104.1,,,,,,,,,,,,", "devices.import.bad_point", "lon"),
    ("G1,gas_detector,,cmp-1,,104.1,95,,,,,,,,,,,", "devices.import.bad_point", "lon"),
    ("G1,gas_detector,,cmp-1,,,,,,,王秀英,12345,,,,,,", "devices.import.bad_phone", "resident_phone"),
    ("G1,gas_detector,,cmp-1,,,,,,,,13800138000,,,,,,", "devices.import.missing_value", "resident_name"),
    ("G1,gas_detector,,cmp-1,,,,,,,王秀英,,李强,儿子,,,,", "devices.import.contact_incomplete", "contact1_phone"),
    ("G1,gas_detector,,cmp-1,,,,,,,王秀英,,,儿子,13900001111,,,", "devices.import.contact_incomplete",
     "contact1_name"),
    ("G1,gas_detector,,cmp-1,,,,,,,王秀英,,李强,儿子,1390000,,,", "devices.import.bad_phone", "contact1_phone"),
    ("G1,gas_detector,,cmp-1,,,,,,,,,李强,儿子,13900001111,,,", "devices.import.contacts_without_resident",
     "resident_name"),
    ("G1,gas_detector,,cmp-1,,,,123456789012345678901,,,,,,,,,,", "devices.import.too_long", "building"),
    ("G1,gas_detector,bad\u202ename,cmp-1,,,,,,,,,,,,,,", "devices.import.bad_text", "name"),
])
def test_each_bad_cell_is_named_by_row_and_column(row: str, code: str, column: str) -> None:
    assert problems_of(csv_bytes("OK-1,smoke_detector,,cmp-1,,,,,,,,,,,,,,", row)) == [(code, "row 3", column)]


def test_file_level_problems() -> None:
    assert problems_of(csv_bytes("G1,gas_detector", "G1,smoke_detector")) == [
        ("devices.import.duplicate_id", "row 3", "device_id")]
    assert problems_of(b"\xff\xfe") == [("devices.import.not_utf8", "file", None)]
    assert problems_of(csv_bytes()) == [("devices.import.empty_file", "file", None)]
    assert problems_of(csv_bytes("G1", header="device_id")) == [("devices.import.missing_columns", "header", None)]
    assert problems_of(csv_bytes("G1,x,y", header="device_id,type,colour")) == [
        ("devices.import.unknown_column", "header", "colour")]
    assert problems_of(csv_bytes("G1,x,y", header="device_id,type,类型")) == [
        ("devices.import.duplicate_column", "header", "type")]
    assert problems_of(b"not a workbook", "d.xlsx") == [("devices.import.not_xlsx", "file", None)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["", "G1", "gas_detector", "cmp-1", "104.0", "30", "x" * 30, "王",
                                          "13800138000", "1380", "a/b", "3栋", "\x07", "儿子"]),
                         min_size=0, max_size=len(COLUMNS)), max_size=6))
def test_any_table_gives_drafts_or_translatable_problems(rows: list[list[str]]) -> None:
    out = io.StringIO()
    out.write(",".join(COLUMNS) + "\n")
    for row in rows:
        out.write(",".join(row) + "\n")
    parsed = parse_devices(out.getvalue().encode(), "d.csv", TYPES)
    for problem in parsed.problems:
        for locale in ("zh-CN", "en"):
            text = translate(problem.code, locale, where=problem.where, **problem.params)
            assert "{" not in text and problem.code not in text
    for draft in parsed.drafts:
        assert draft.type_code in TYPES
        assert all(c.phone == normalise_phone(c.phone) for c in draft.contacts)


# --- placing ---------------------------------------------------------------------------------------------------

PATHS = {YIHU: (*TOP, YIHU), SHIJIA: (*TOP, SHIJIA)}
LEVELS = (AreaLevel.CITY, AreaLevel.DISTRICT, AreaLevel.STREET, AreaLevel.COMMUNITY)


def locate(lon: float, lat: float) -> tuple[AreaRef, ...] | None:
    """The test street: 怡湖 west of 104.01, 石家碾 east of it, 29.99–30.01 north to south."""
    if not (104.0 <= lon <= 104.02 and 29.99 <= lat <= 30.01):
        return None
    codes = PATHS[YIHU if lon < 104.01 else SHIJIA]
    return tuple(AreaRef(code, code, level) for code, level in zip(codes, LEVELS, strict=True))


def draft(row: int = 2, **fields: object) -> DeviceDraft:
    return DeviceDraft(row, f"D{row}", "gas_detector", **fields)  # type: ignore[arg-type]


def placed(d: DeviceDraft, scope: str = "/") -> PlacedDevice | ImportProblem:
    found, problems = place_devices([d], GAZETTEER, locate, scope)
    return found[0] if found else problems[0]


def test_a_device_is_placed_by_code_name_address_building_or_point() -> None:
    by_code = placed(draft(place="cmp-1", building="3栋", unit="2", room="301"))
    assert isinstance(by_code, PlacedDevice)
    assert (by_code.place_code, by_code.compound_code, by_code.household) == ("cmp-1-3栋", "cmp-1", "cmp-1-3栋/2/301")
    assert by_code.place_codes == ("cmp-1-3栋", "cmp-1") and by_code.area_code == YIHU
    assert by_code.area_path == "/" + "/".join((*TOP, YIHU)) + "/" and by_code.home == "cmp-1-3栋/2/301"
    bare_number = placed(draft(place="cmp-1", building="5"))
    assert isinstance(bare_number, PlacedDevice) and bare_number.place_code == "cmp-1-5栋"
    by_name = placed(draft(place="红阳小区5栋"))
    assert isinstance(by_name, PlacedDevice) and by_name.place_code == "cmp-2-5栋" and by_name.area_code == SHIJIA
    by_address = placed(draft(address="四川省成都市青白江区红阳路8号"))
    assert isinstance(by_address, PlacedDevice) and by_address.place_code == HONGYANG.code
    assert by_address.household is None and by_address.home == HONGYANG.code
    by_point = placed(draft(lon=104.0151, lat=30.0))
    assert isinstance(by_point, PlacedDevice) and by_point.place_code is None and by_point.area_code == SHIJIA
    assert by_point.home == "device:D2"
    on_road = placed(draft(place="road-1", lon=104.0049, lat=30.00005))
    assert isinstance(on_road, PlacedDevice) and (on_road.place_code, on_road.lon) == ("road-1", 104.0049)


@pytest.mark.parametrize(("fields", "code"), [
    ({"place": "月亮湾小区"}, "devices.import.unknown_place"),
    ({"place": "幸福家园"}, "devices.import.ambiguous_place"),
    ({"place": "cmp-1", "building": "9栋"}, "devices.import.unknown_building"),
    ({}, "devices.import.no_location"),
    ({"lon": 105.0, "lat": 30.0}, "devices.import.outside"),
])
def test_a_device_that_cannot_be_placed_is_refused_precisely(fields: dict[str, object], code: str) -> None:
    problem = placed(draft(**fields))
    assert isinstance(problem, ImportProblem) and (problem.code, problem.where) == (code, "row 2")
    for locale in ("zh-CN", "en"):
        assert "{" not in translate(problem.code, locale, where=problem.where, **problem.params)


def test_a_device_outside_the_importers_scope_is_refused() -> None:
    yihu_scope = "/" + "/".join((*TOP, YIHU)) + "/"
    assert isinstance(placed(draft(place="cmp-1"), yihu_scope), PlacedDevice)
    problem = placed(draft(place="cmp-2"), yihu_scope)
    assert isinstance(problem, ImportProblem) and problem.code == "devices.import.outside_scope"
    assert problem.params["area"] == SHIJIA
    assert len(AREAS) == 5 and len(ENTRIES) == 11


# --- the demo plan -------------------------------------------------------------------------------------------


def _demo_inputs() -> tuple[list[Site], list[Site], list[Road]]:
    district = build_demo_district(2026)
    compounds = {c.code: c for c in district.compounds}
    buildings = [Site(b.code, compounds[b.compound_code].name + b.number, b.lon, b.lat, b.number, b.floors,
                      b.units, b.households, compounds[b.compound_code].address) for b in district.buildings]
    sites = [Site(c.code, c.name, c.lon, c.lat, households=c.households, address=c.address)
             for c in district.compounds]
    roads = [Road("road-01", "青江中路", ((104.24, 30.79), (104.25, 30.79))),
             Road("road-02", "化工路", ((104.24, 30.78), (104.24, 30.785), (104.245, 30.785)))]
    return buildings, sites, roads


def test_the_demo_plan_is_realistic_and_deterministic() -> None:
    buildings, sites, roads = _demo_inputs()
    drafts = demo_devices(buildings, sites, roads, np.random.default_rng(11))
    again = demo_devices(buildings, sites, roads, np.random.default_rng(11))
    other = demo_devices(buildings, sites, roads, np.random.default_rng(12))
    assert drafts == again and drafts != other
    per_type = Counter(d.type_code for d in drafts)
    assert 2500 <= len(drafts) <= 6000, per_type
    assert per_type["sos_button"] == per_type["door_sensor"] == per_type["water_meter"] == 160
    assert per_type["gas_detector"] == 160 + 1200 and 900 < per_type["smoke_detector"] - 160 < 1000
    assert per_type["water_immersion"] == 300 and per_type["thermal_camera"] >= len(sites)
    assert per_type["hydrant_pressure"] == 4 + 4  # ~1.07 km and ~1.03 km of road, one every 250 m
    assert len({d.device_id for d in drafts}) == len(drafts)
    elderly = [d for d in drafts if d.resident is not None]
    assert len(elderly) == 5 * 160 and all(1 <= len(d.contacts) <= 3 for d in elderly)
    homes = {(d.place, d.unit, d.room) for d in elderly}
    assert len(homes) == 160 and len({d.resident.name for d in elderly if d.resident}) > 100
    for d in elderly:
        assert d.resident is not None and d.resident.phone and len(d.resident.address) <= 200
        assert all(normalise_phone(c.phone) == c.phone for c in d.contacts)
    households = [(d.place, d.unit, d.room) for d in drafts if d.type_code == "gas_detector"]
    assert len(set(households)) == len(households)  # one gas detector per household
    assert all(len(d.building) <= 20 and len(d.name) <= 100 for d in drafts)
