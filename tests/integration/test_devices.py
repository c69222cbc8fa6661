"""Devices on SQLite and PostgreSQL: imports all or nothing and idempotent, credentials, status from ingestion,
the offline sweep, scoped reads with masked phones, audited contact reveals, the directory across processes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from chengyun.areas.tables import BuildingRow, CompoundRow
from chengyun.auth.model import Principal, Role
from chengyun.bootstrap import Container
from chengyun.db.base import Base
from chengyun.devices.model import Contact, DeviceFacts
from chengyun.devices.service import DeviceService
from chengyun.devices.tables import CareContactRow, CareResidentRow, DeviceRow
from chengyun.errors import Conflict, Forbidden, Invalid, NotFound

STREET, YIHU, SHIJIA = "510113002000", "510113002001", "510113002002"
HEADER = ("device_id,type,name,place,lon,lat,building,unit,room,resident_name,resident_phone,resident_notes,"
          "contact1_name,contact1_relation,contact1_phone,contact2_name,contact2_relation,contact2_phone")
ROWS = (
    "SOS-1,sos_button,王奶奶家,cmp-1,,,3栋,2,301,王秀英,13800138000,独居,王强,儿子,13900001111,李梅,邻居,13700002222",
    "DOOR-1,door_sensor,王奶奶家,cmp-1,,,3,2,301,王秀英,13800138000,独居,,,,,,",
    "GAS-1,gas_detector,厨房,cmp-2,,,,,502,,,,,,,,,",
    "HYD-1,hydrant_pressure,消防栓,,104.0151,30.004,,,,,,,,,,,,",
)


def devices_csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def principal(role: Role, scope: str = STREET) -> Principal:
    path = {STREET: f"/510100000000/510113000000/{STREET}/",
            YIHU: f"/510100000000/510113000000/{STREET}/{YIHU}/"}[scope]
    return Principal(1, f"u-{role.value}", "U", role, scope, path)


@pytest.fixture
def street(tiny_district: Container) -> Container:
    """The tiny district with 怡湖苑 (3栋) in 怡湖 and 红阳小区 in 石家碾."""
    return add_compounds(tiny_district)


def add_compounds(tiny_district: Container) -> Container:
    """Store 怡湖苑 (3栋) in 怡湖 and 红阳小区 in 石家碾."""
    with tiny_district.sessions.begin() as session:
        session.add_all([
            CompoundRow(code="cmp-1", name="怡湖苑", area_code=f"{YIHU}001", address="四川省成都市青白江区青江路1号",
                        lon=104.003, lat=30.003, households=60),
            CompoundRow(code="cmp-2", name="红阳小区", area_code=f"{SHIJIA}001",
                        address="四川省成都市青白江区红阳路8号", lon=104.013, lat=30.003, households=40)])
        session.flush()
        session.add(BuildingRow(code="cmp-1-03", compound_code="cmp-1", number="3栋", lon=104.0032, lat=30.0031,
                                floors=6, units=2, households=24))
    return tiny_district


def count(container: Container, model: type) -> int:
    with container.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_an_import_places_devices_binds_residents_and_issues_tokens_once(street: Container) -> None:
    devices = street.devices
    result = devices.import_file(devices_csv(*ROWS), "devices.csv", actor="admin1")
    assert (result.created, result.updated, result.unchanged) == (4, 0, 0)
    assert sorted(result.tokens) == ["DOOR-1", "GAS-1", "HYD-1", "SOS-1"]
    assert count(street, CareResidentRow) == 1 and count(street, CareContactRow) == 2
    with street.sessions() as session:
        rows = {r.device_id: r for r in session.scalars(select(DeviceRow))}
    sos = rows["SOS-1"]
    assert (sos.place_code, sos.compound_code, sos.household, sos.area_code) == (
        "cmp-1-03", "cmp-1", "cmp-1-03/2/301", f"{YIHU}001")
    assert rows["DOOR-1"].household == sos.household and rows["DOOR-1"].resident_id == sos.resident_id
    assert (rows["GAS-1"].household, rows["GAS-1"].area_code) == ("cmp-2//502", f"{SHIJIA}001")
    assert rows["HYD-1"].place_code is None and rows["HYD-1"].area_code == f"{SHIJIA}001"
    assert all(r.status == "offline" and r.last_seen_at is None for r in rows.values())
    assert all(result.tokens[d] not in r.credential_hash and len(r.credential_hash) == 64 for d, r in rows.items())
    directory = devices.directory()
    assert len(directory) == 4
    assert directory.facts("SOS-1") == DeviceFacts("SOS-1", "sos_button", f"{YIHU}001", sos.area_path,
                                                   ("cmp-1-03", "cmp-1"), "cmp-1-03/2/301", sos.resident_id)
    assert directory.verify("SOS-1", result.tokens["SOS-1"]) and not directory.verify("SOS-1", result.tokens["GAS-1"])
    [event] = street.audit.recent(action="devices.import")
    assert event.detail == {"created": 4, "updated": 0, "unchanged": 0} and event.target == "devices.csv"


def test_a_reimport_changes_nothing_and_a_changed_row_updates_in_place(street: Container) -> None:
    devices = street.devices
    first = devices.import_file(devices_csv(*ROWS), "devices.csv", actor="admin1")
    again = devices.import_file(devices_csv(*ROWS), "devices.csv", actor="admin1")
    assert (again.created, again.updated, again.unchanged, again.tokens) == (0, 0, 4, {})
    assert count(street, DeviceRow) == 4 and count(street, CareResidentRow) == 1 and count(street, CareContactRow) == 2
    changed = (ROWS[0].replace("13900001111", "13900009999"), ROWS[1], ROWS[2].replace("厨房", "厨房燃气"), ROWS[3])
    third = devices.import_file(devices_csv(*changed), "devices-v2.csv", actor="admin1")
    assert (third.created, third.updated, third.unchanged) == (0, 3, 1)  # SOS-1 and DOOR-1 share the resident
    assert [c.phone for c in devices.contacts_of("SOS-1")] == ["13900009999", "13700002222"]
    assert devices.directory().verify("GAS-1", first.tokens["GAS-1"])  # credentials survive re-imports


def test_a_file_with_any_bad_row_stores_nothing_and_names_every_problem(street: Container) -> None:
    bad = devices_csv(*ROWS, "GAS-2,gas_detector,,月亮湾,,,,,,,,,,,,,,", "GAS-3,gas_detector,,,105.5,30.0,,,,,,,,,,,,",
                      "GAS-4,gas_detector,,cmp-1,,,9栋,,,,,,,,,,,")
    with pytest.raises(Invalid) as info:
        street.devices.import_file(bad, "devices.csv", actor="admin1")
    assert info.value.code == "devices.import_invalid" and info.value.params["count"] == 3
    assert [(p.code, p.where) for p in info.value.params["problems"]] == [
        ("devices.import.unknown_place", "row 6"), ("devices.import.outside", "row 7"),
        ("devices.import.unknown_building", "row 8")]
    with pytest.raises(Invalid) as info:
        street.devices.import_file(devices_csv(*ROWS, "GAS-5,fridge,,cmp-1,,,,,,,,,,,,,,"), "d.csv", actor="a")
    assert [p.code for p in info.value.params["problems"]] == ["devices.import.unknown_type"]
    assert count(street, DeviceRow) == 0 and count(street, CareResidentRow) == 0
    assert street.audit.recent(action="devices.import") == []


def test_register_one_device_then_conflict_and_precise_refusals(street: Container) -> None:
    admin = principal(Role.ADMIN)
    detail, token = street.devices.register(admin, {"device_id": "WM-1", "type": "water_meter", "place": "怡湖苑3栋",
                                                    "unit": "1", "room": "101"})
    assert detail["household"] == "cmp-1-03/1/101" and detail["status"] == "offline" and len(token) == 32
    assert street.devices.directory().verify("WM-1", token)
    with pytest.raises(Conflict) as conflict:
        street.devices.register(admin, {"device_id": "WM-1", "type": "water_meter", "place": "cmp-1"})
    assert conflict.value.code == "devices.exists"
    with pytest.raises(Invalid) as invalid:
        street.devices.register(admin, {"device_id": "WM-2", "type": "water_meter", "place": "cmp-1",
                                        "resident_name": "张三", "resident_phone": "123"})
    assert [p.code for p in invalid.value.params["problems"]] == ["devices.import.bad_phone"]
    with pytest.raises(Forbidden):
        street.devices.register(principal(Role.OPERATOR), {"device_id": "WM-3", "type": "water_meter"})
    assert [e.target for e in street.audit.recent(action="permission.refused")] == ["devices.manage"]
    yihu_admin = principal(Role.ADMIN, YIHU)
    with pytest.raises(Invalid) as outside:
        street.devices.register(yihu_admin, {"device_id": "WM-4", "type": "water_meter", "place": "cmp-2"})
    assert [p.code for p in outside.value.params["problems"]] == ["devices.import.outside_scope"]


def test_mark_seen_sets_online_never_backwards_and_the_sweep_marks_silent_devices_offline(street: Container) -> None:
    devices = street.devices
    devices.import_file(devices_csv(*ROWS), "devices.csv", actor="admin1")
    now = street.clock.now()
    t = now.timestamp()
    assert devices.mark_seen({"SOS-1": t - 30_000, "GAS-1": t - 60, "HYD-1": t - 6000, "NOPE": t}) == 3
    assert devices.mark_seen({"GAS-1": t - 3600}) == 0  # older than what is stored: nothing changes
    assert devices.mark_seen({}) == 0
    status = _status(street)
    assert status["GAS-1"] == ("online", pytest.approx(t - 60)) and status["DOOR-1"] == ("offline", None)
    # sos_button beats every 6 h (offline after 18 h), gas every 1 h (3 h), hydrant every 30 min (1.5 h)
    assert devices.sweep_offline(now) == ["HYD-1"]
    assert devices.sweep_offline(now + timedelta(hours=3)) == ["GAS-1"]
    assert devices.sweep_offline(now + timedelta(hours=3)) == []
    assert devices.sweep_offline(now + timedelta(hours=11)) == ["SOS-1"]
    assert {d: s for d, (s, _) in _status(street).items()} == {d: "offline" for d in status}
    assert devices.mark_seen({"GAS-1": t + 10}) == 1 and _status(street)["GAS-1"][0] == "online"


def _status(container: Container) -> dict[str, tuple[str, Any]]:
    with container.sessions() as session:
        rows = session.execute(select(DeviceRow.device_id, DeviceRow.status, DeviceRow.last_seen_at))
        return {d: (s, seen.timestamp() if seen else None) for d, s, seen in rows}


def test_reads_are_scoped_and_masked_and_contacts_are_revealed_with_an_audit_record(street: Container) -> None:
    devices = street.devices
    devices.import_file(devices_csv(*ROWS), "devices.csv", actor="admin1")
    everything = devices.search(principal(Role.OPERATOR))
    assert everything["total"] == 4
    yihu = devices.search(principal(Role.OPERATOR, YIHU))
    assert [d["device_id"] for d in yihu["items"]] == ["DOOR-1", "SOS-1"]
    assert devices.search(principal(Role.OPERATOR), type_code="gas_detector")["total"] == 1
    assert devices.search(principal(Role.OPERATOR), q="SOS")["total"] == 1
    assert devices.search(principal(Role.OPERATOR), household="cmp-1-03/2/301")["total"] == 2
    assert devices.search(principal(Role.OPERATOR), area_code=SHIJIA)["total"] == 2
    with pytest.raises(NotFound):
        devices.search(principal(Role.OPERATOR, YIHU), area_code=SHIJIA)
    detail = devices.get(principal(Role.OPERATOR, YIHU), "SOS-1")
    resident = detail["resident"]
    assert (resident["name"], resident["phone"], resident["notes"]) == ("王秀英", "138****8000", "独居")
    assert [(c["seq"], c["name"], c["relation"], c["phone"]) for c in resident["contacts"]] == [
        (1, "王强", "儿子", "139****1111"), (2, "李梅", "邻居", "137****2222")]
    assert "13900001111" not in str(detail) and "credential" not in str(detail)
    with pytest.raises(NotFound) as hidden:
        devices.get(principal(Role.OPERATOR, YIHU), "GAS-1")
    assert hidden.value.code == "devices.not_found"
    assert [e.target for e in street.audit.recent(action="scope.refused")] == ["device:GAS-1", f"area:{SHIJIA}"]
    with pytest.raises(Forbidden):
        devices.search(principal(Role.RESIDENT))
    contacts = devices.contacts_of("SOS-1", actor="linkage", reason="alarm 12")
    assert contacts == [Contact(1, "王强", "儿子", "13900001111", "139****1111"),
                        Contact(2, "李梅", "邻居", "13700002222", "137****2222")]
    [reveal] = street.audit.recent(action="contact.reveal")
    assert (reveal.actor, reveal.target, reveal.detail["count"], reveal.detail["reason"]) == (
        "linkage", "device:SOS-1", 2, "alarm 12")
    assert devices.contacts_of("GAS-1") == [] and len(street.audit.recent(action="contact.reveal")) == 1
    with pytest.raises(NotFound):
        devices.contacts_of("NOPE")


def test_another_process_sees_new_devices_and_new_credentials(street: Container) -> None:
    other = DeviceService(street.sessions, street.clock, street.audit, street.vault, street.areas, street.places,
                          street.settings.secret_key, directory_every_s=0.0)
    assert len(other.directory()) == 0
    result = street.devices.import_file(devices_csv(*ROWS), "devices.csv", actor="admin1")
    assert len(other.directory()) == 4 and other.directory().verify("GAS-1", result.tokens["GAS-1"])
    fresh = street.devices.reset_token(principal(Role.ADMIN), "GAS-1")
    assert street.devices.directory().verify("GAS-1", fresh)
    assert not street.devices.directory().verify("GAS-1", result.tokens["GAS-1"])
    assert other.directory().verify("GAS-1", fresh) and not other.directory().verify("GAS-1", result.tokens["GAS-1"])
    assert [e.target for e in street.audit.recent(action="devices.reset_token")] == ["device:GAS-1"]


def test_the_migration_creates_exactly_the_mapped_tables(engine: Any) -> None:
    mine = {"devices", "care_residents", "care_contacts"}

    def only_mine(name: str | None, type_: str, *_: Any) -> bool:
        return type_ != "table" or name in mine

    opts = {"compare_type": True, "include_name": only_mine,
            "include_object": lambda obj, name, type_, *_: only_mine(name, type_)}
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata) == []
