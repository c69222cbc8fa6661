"""Places on SQLite and PostgreSQL: importing roads and POIs all or nothing, geocoding the demo street's
compounds, reverse geocoding, and the snapshot seeing new places at once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from chengyun.areas.tables import BuildingRow, CompoundRow
from chengyun.audit.tables import AuditEventRow
from chengyun.bootstrap import Container
from chengyun.demo.load import ensure_demo
from chengyun.errors import Invalid
from chengyun.places.tables import PlaceAliasRow, PlaceRow
from chengyun.shared.geo import CoordSystem
from tests.helpers import workbook_bytes

GOOD = """code,kind,name,category,lon,lat,address,aliases,line
road-qj,road,青江路,,,,,青江大道,"104.001,30.002;104.019,30.002"
poi-school,poi,大弯中学,school,104.004,30.004,四川省成都市青白江区青江路1号,大弯中学校,
poi-clinic,poi,怡湖社区卫生服务站,clinic,104.006,30.006,,,
"""


def _count(container: Container, model: type) -> int:
    with container.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _add_compound(container: Container) -> None:
    with container.sessions.begin() as session:
        session.add(CompoundRow(code="cmp-1", name="怡湖苑", area_code="510113002001001",
                                address="四川省成都市青白江区青江路123号", lon=104.003, lat=30.003, households=10))
        session.flush()
        session.add(BuildingRow(code="cmp-1-03", compound_code="cmp-1", number="3栋", lon=104.0032, lat=30.0031,
                                floors=6, units=2, households=24))


def test_import_geocode_and_reverse_on_the_tiny_district(tiny_district: Container) -> None:
    container = tiny_district
    _add_compound(container)
    result = container.places.import_file(GOOD.encode(), "places.csv", "test")
    assert (result.created, result.updated, result.aliased) == (3, 0, 0)
    with container.sessions() as session:
        road = session.get(PlaceRow, "road-qj")
        assert road is not None and road.geometry and road.area_code is not None
        assert session.get(PlaceRow, "poi-school").area_code == "510113002001001"  # type: ignore[union-attr]
    school = container.places.geocode("青白江区大弯中学校门口")
    assert school.best is not None and school.best.entry.code == "poi-school" and "alias" in school.best.why
    flat = container.places.geocode("大弯街道青江路123号怡湖苑3栋2单元501")
    assert flat.best is not None and flat.best.entry.code == "cmp-1-03"
    back = container.places.reverse(104.003, 30.003)
    assert back.place is not None and back.place.code == "cmp-1" and back.address.startswith("青白江区大弯街道怡湖社区")
    outside = container.places.reverse(103.0, 29.0)
    assert outside.reason == "places.outside" and outside.place is None and outside.areas == ()


def test_reimport_updates_by_code_and_compound_aliases_are_added(tiny_district: Container) -> None:
    container = tiny_district
    _add_compound(container)
    container.places.import_file(GOOD.encode(), "places.csv", "test")
    again = "code,kind,name,lon,lat,aliases\npoi-school,poi,大弯中学,104.005,30.005,\ncmp-1,compound,,,,怡湖小区\n"
    result = container.places.import_file(again.encode(), "again.csv", "test")
    assert (result.created, result.updated, result.aliased) == (0, 1, 1)
    with container.sessions() as session:
        aliases = set(session.scalars(select(PlaceAliasRow.alias)))
    assert aliases == {"青江大道", "怡湖小区"}  # the school's alias was replaced by none
    found = container.places.geocode("怡湖小区")
    assert found.best is not None and found.best.entry.code == "cmp-1"


def test_a_file_with_bad_rows_is_refused_whole_with_every_problem(tiny_district: Container) -> None:
    container = tiny_district
    bad = """编码,类型,名称,经度,纬度
poi-a,poi,甲,104.001,30.001
poi-b,水井,乙,104.001,30.001
poi-c,poi,丙,东经,30.001
poi-a,poi,丁,104.002,30.002
poi-e,poi,,104.002,30.002
poi-f,poi,戊,120.0,30.0
"""
    with pytest.raises(Invalid) as info:
        container.places.import_file(bad.encode(), "bad.csv", "test")
    assert info.value.code == "places.import_invalid"
    problems = {(p.where, p.code) for p in info.value.params["problems"]}
    assert problems == {("row 3", "places.import.bad_kind"), ("row 4", "places.import.bad_number"),
                        ("row 5", "places.import.duplicate_code"), ("row 6", "places.import.missing_value")}
    assert _count(container, PlaceRow) == 0
    # a clean file with a point outside every area is refused in the second check, still whole
    with pytest.raises(Invalid) as outside:
        container.places.import_file("code,kind,name,lon,lat\np1,poi,甲,104.001,30.001\np2,poi,乙,120,30\n".encode(),
                                     "outside.csv", "test")
    assert [(p.where, p.code) for p in outside.value.params["problems"]] == [("row 3", "places.import.outside")]
    assert _count(container, PlaceRow) == 0


def test_xlsx_and_gcj02_imports(tiny_district: Container) -> None:
    container = tiny_district
    rows = [["code", "kind", "name", "lon", "lat"], ["poi-1", "兴趣点", "大弯小学", 104.0075, 29.9975]]
    result = container.places.import_file(workbook_bytes(rows), "places.xlsx", "test", crs=CoordSystem.GCJ02)
    assert result.created == 1
    with container.sessions() as session:
        row = session.get(PlaceRow, "poi-1")
    assert row is not None and abs(row.lon - 104.0075) > 1e-4  # shifted back from GCJ-02 to WGS84
    with container.sessions() as session:
        assert session.scalar(select(func.count()).where(AuditEventRow.action == "places.import")) == 1


@pytest.fixture
def demo(container: Container) -> Container:
    ensure_demo(container, echo=lambda _: None)
    return container


def test_the_demo_street_places_its_compounds_and_reverse_names_them(demo: Container) -> None:
    container = demo
    assert container.places.has_places()
    with container.sessions() as session:
        compounds = session.execute(select(CompoundRow.code, CompoundRow.name, CompoundRow.address, CompoundRow.lon,
                                           CompoundRow.lat).order_by(CompoundRow.code)).all()
    addresses: dict[str, int] = {}
    for _, _, address, _, _ in compounds:
        addresses[address] = addresses.get(address, 0) + 1
    for code, name, address, _, _ in compounds:
        both = container.places.geocode(f"{address}{name}")
        assert both.best is not None and both.best.entry.code == code, (address, name)
        alone = container.places.geocode(address)
        if addresses[address] == 1:
            assert alone.best is not None and alone.best.entry.code == code, address
        else:  # two compounds share the number: never a silent guess, both offered
            assert alone.best is None and alone.reason == "places.ambiguous"
            assert code in {c.entry.code for c in alone.candidates}
    for code, name, _, lon, lat in compounds[::16]:
        back = container.places.reverse(lon, lat)
        assert back.place is not None and back.place.code == code and name in back.address


def test_the_demo_street_has_roads_and_points_of_interest_once(demo: Container) -> None:
    container = demo
    places = _count(container, PlaceRow)
    assert places >= 40
    ensure_demo(container, echo=lambda _: None)
    assert _count(container, PlaceRow) == places
    office = container.places.geocode("大弯街道办")
    assert office.best is not None and office.best.entry.code == "poi-street-office"
    road = container.places.geocode("四川省成都市青白江区凤凰大道附近")
    assert road.best is not None and road.best.entry.kind.value == "road"
    unknown = container.places.geocode("天府广场")
    assert unknown.best is None and unknown.reason in {"places.not_found", "places.ambiguous"}
