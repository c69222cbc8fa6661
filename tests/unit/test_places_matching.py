"""The matching policy over an in-memory gazetteer: a best only when clearly ahead, buildings refine compounds,
area names narrow, outside districts are refused; and the nearest-place search of reverse geocoding."""

from __future__ import annotations

from chengyun.areas.model import AreaLevel, AreaRef
from chengyun.places.model import (
    AMBIGUOUS,
    EMPTY,
    NOT_FOUND,
    OUTSIDE,
    AreaName,
    Gazetteer,
    GazetteerEntry,
    PlaceKind,
    geocode,
)
from chengyun.places.nearby import NearbyIndex, readable_address

STREET, YIHU, SHIJIA = "510113002000", "510113002001", "510113002002"
AREAS = [
    AreaName("510100000000", "成都市", "city", None),
    AreaName("510113000000", "青白江区", "district", "510100000000"),
    AreaName(STREET, "大弯街道", "street", "510113000000"),
    AreaName(YIHU, "怡湖社区", "community", STREET),
    AreaName(SHIJIA, "石家碾社区", "community", STREET),
]
TOP = ("510100000000", "510113000000", STREET)


def compound(code: str, name: str, community: str, address: str, lon: float, aliases: tuple[str, ...] = ()
             ) -> GazetteerEntry:
    return GazetteerEntry(code, name, PlaceKind.COMPOUND, lon, 30.0, community, address, aliases,
                          area_chain=(*TOP, community))


def building(parent: GazetteerEntry, number: str, dlon: float) -> GazetteerEntry:
    return GazetteerEntry(f"{parent.code}-{number}", f"{parent.name}{number}", PlaceKind.BUILDING,
                          parent.lon + dlon, parent.lat, parent.area_code, parent.address, (), parent.code, number,
                          area_chain=parent.area_chain)


YIHUYUAN = compound("cmp-1", "怡湖苑", YIHU, "四川省成都市青白江区青江路123号", 104.001, ("怡湖小区",))
HONGYANG = compound("cmp-2", "红阳小区", SHIJIA, "四川省成都市青白江区红阳路8号", 104.011)
XINGFU_A = compound("cmp-3", "幸福家园", YIHU, "四川省成都市青白江区大同路1号", 104.002)
XINGFU_B = compound("cmp-4", "幸福家园", SHIJIA, "四川省成都市青白江区大同路99号", 104.012)
SHARED_1 = compound("cmp-5", "锦绣花园", YIHU, "四川省成都市青白江区华严路5号", 104.003)
SHARED_2 = compound("cmp-6", "金色华庭", YIHU, "四川省成都市青白江区华严路5号", 104.004)
ROAD = GazetteerEntry("road-1", "大弯南路", PlaceKind.ROAD, 104.005, 30.0, YIHU,
                      line=((104.0, 30.0), (104.01, 30.0)), area_chain=(*TOP, YIHU))
SCHOOL = GazetteerEntry("poi-1", "大弯中学", PlaceKind.POI, 104.006, 30.001, YIHU, category="school",
                        area_chain=(*TOP, YIHU))
ENTRIES = [YIHUYUAN, building(YIHUYUAN, "3栋", 0.0003), building(YIHUYUAN, "5栋", -0.0003), HONGYANG,
           building(HONGYANG, "5栋", 0.0002), XINGFU_A, XINGFU_B, SHARED_1, SHARED_2, ROAD, SCHOOL]
GAZETTEER = Gazetteer(ENTRIES, AREAS)


def test_a_full_address_names_the_building() -> None:
    result = geocode("四川省成都市青白江区大弯街道青江路123号怡湖苑3栋2单元501", GAZETTEER)
    assert result.best is not None and result.best.entry.code == "cmp-1-3栋"
    assert set(result.best.why) == {"name", "address", "building"} and result.reason is None


def test_an_unknown_building_number_keeps_the_compound() -> None:
    result = geocode("怡湖苑9栋", GAZETTEER)
    assert result.best is not None and result.best.entry.code == "cmp-1" and "building" not in result.best.why


def test_an_alias_and_chinese_numerals_find_the_building() -> None:
    result = geocode("怡湖小区三栋二单元", GAZETTEER)
    assert result.best is not None and result.best.entry.code == "cmp-1-3栋" and "alias" in result.best.why


def test_road_and_number_alone_find_the_compound() -> None:
    result = geocode("青江路123号", GAZETTEER)
    assert result.best is not None and result.best.entry.code == "cmp-1" and result.best.why == ("address",)


def test_two_compounds_of_one_name_are_ambiguous_until_the_community_is_named() -> None:
    result = geocode("幸福家园", GAZETTEER)
    assert result.best is None and result.reason == AMBIGUOUS
    assert {c.entry.code for c in result.candidates[:2]} == {"cmp-3", "cmp-4"}
    named = geocode("大弯街道石家碾社区幸福家园", GAZETTEER)
    assert named.best is not None and named.best.entry.code == "cmp-4" and named.area_code == SHIJIA


def test_one_address_shared_by_two_compounds_is_ambiguous_but_a_name_decides() -> None:
    shared = geocode("华严路5号", GAZETTEER)
    assert shared.best is None and shared.reason == AMBIGUOUS
    assert {c.entry.code for c in shared.candidates} >= {"cmp-5", "cmp-6"}
    named = geocode("华严路5号金色华庭", GAZETTEER)
    assert named.best is not None and named.best.entry.code == "cmp-6"


def test_unknown_places_give_no_best_but_the_nearest_names() -> None:
    result = geocode("怡湖", GAZETTEER)
    assert result.best is None and result.reason == NOT_FOUND
    assert result.candidates and result.candidates[0].entry.code == "cmp-1"
    nothing = geocode("完全不存在的地方", GAZETTEER)
    assert nothing.best is None and nothing.reason == NOT_FOUND and nothing.candidates == ()


def test_a_road_is_the_answer_when_no_place_is_at_the_number() -> None:
    result = geocode("大弯南路88号附近", GAZETTEER)
    assert result.best is not None and result.best.entry.code == "road-1" and result.parsed.near


def test_a_point_of_interest_is_found_through_a_landmark_phrase() -> None:
    result = geocode("大弯中学门口", GAZETTEER)
    assert result.best is not None and result.best.entry.code == "poi-1"


def test_another_district_is_outside_and_nothing_is_guessed() -> None:
    result = geocode("成都市武侯区怡湖苑3栋", GAZETTEER)
    assert result.best is None and result.reason == OUTSIDE and result.candidates == ()


def test_a_bare_community_has_no_place_but_names_its_area() -> None:
    result = geocode("青白江区大弯街道怡湖社区", GAZETTEER)
    assert result.best is None and result.reason == NOT_FOUND and result.area_code == YIHU
    assert geocode("，，", GAZETTEER).reason == EMPTY


def test_a_place_named_in_the_wrong_community_is_not_silently_accepted() -> None:
    result = geocode("石家碾社区怡湖苑", GAZETTEER)
    assert result.best is None and result.candidates[0].entry.code == "cmp-1"


def test_the_scope_limits_candidates() -> None:
    assert geocode("红阳小区", GAZETTEER, scope=YIHU).best is None
    inside = geocode("红阳小区5栋", GAZETTEER, scope=SHIJIA)
    assert inside.best is not None and inside.best.entry.code == "cmp-2-5栋"


# --- reverse ------------------------------------------------------------------------------------------------------


def test_the_nearest_place_and_a_readable_address() -> None:
    index = NearbyIndex(ENTRIES)
    hit = index.nearest(YIHUYUAN.lon, YIHUYUAN.lat)
    assert hit is not None and hit[0].code == "cmp-1" and hit[1] < 1.0
    near_school = index.nearest(SCHOOL.lon + 0.0002, SCHOOL.lat)
    assert near_school is not None and near_school[0].code == "poi-1" and 15 < near_school[1] < 25
    assert index.nearest(105.0, 31.0) is None
    chain = (AreaRef("510113000000", "青白江区", AreaLevel.DISTRICT), AreaRef(STREET, "大弯街道", AreaLevel.STREET),
             AreaRef(YIHU, "怡湖社区", AreaLevel.COMMUNITY))
    assert readable_address(chain, ENTRIES[1], 40.0) == "青白江区大弯街道怡湖社区 怡湖苑3栋附近"
    assert readable_address(chain, YIHUYUAN, 3.0) == "青白江区大弯街道怡湖社区 怡湖苑"
    assert readable_address(chain, None, None) == "青白江区大弯街道怡湖社区"


def test_a_road_is_near_when_no_point_place_is() -> None:
    index = NearbyIndex(ENTRIES)
    hit = index.nearest(104.0095, 30.0005)  # ~55 m north of the road's end, far from every point
    assert hit is not None and hit[0].code == "road-1" and 50 < hit[1] < 60
