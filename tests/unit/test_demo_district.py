"""The demo street generator: deterministic, exact counts, and an area tree whose children tile their parents."""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box, shape
from shapely.strtree import STRtree

from chengyun.areas.model import AreaDraft, AreaLevel, nests_in
from chengyun.demo import geometry
from chengyun.demo.district import DemoDistrict, apportion, build_demo_district, load_communities
from chengyun.org.model import PersonKind, UnitKind, WuweiRole

L = AreaLevel
STREET = "510113002000"


@pytest.fixture(scope="module")
def district() -> DemoDistrict:
    return build_demo_district()


@pytest.fixture(scope="module")
def shapes(district: DemoDistrict) -> dict[str, Polygon]:
    return {a.code: shape(a.geometry) for a in district.areas if a.geometry is not None}


@pytest.fixture(scope="module")
def children(district: DemoDistrict) -> dict[str, list[AreaDraft]]:
    found: dict[str, list[AreaDraft]] = defaultdict(list)
    for area in district.areas:
        if area.parent_code is not None:
            found[area.parent_code].append(area)
    return found


def _of_level(district: DemoDistrict, level: AreaLevel) -> list[AreaDraft]:
    return [a for a in district.areas if a.level is level]


# --- determinism ----------------------------------------------------------------------------------------------------


def test_the_same_seed_gives_an_identical_district(district: DemoDistrict) -> None:
    again = build_demo_district(2026)
    assert again == district
    assert again.areas[2].geometry == district.areas[2].geometry  # floats included


def test_geometry_is_plain_geojson_that_survives_a_json_round_trip(district: DemoDistrict) -> None:
    street = district.areas[2].geometry
    assert street is not None and street["type"] == "Polygon"
    assert json.loads(json.dumps(street)) == street


def test_another_seed_gives_other_geometry_and_places(district: DemoDistrict) -> None:
    other = build_demo_district(7)
    assert other.areas[2].geometry != district.areas[2].geometry
    assert [c.name for c in other.compounds] != [c.name for c in district.compounds]
    assert [a.code for a in _of_level(other, L.COMMUNITY)] == [a.code for a in _of_level(district, L.COMMUNITY)]


# --- counts and codes -------------------------------------------------------------------------------------------------


def test_exact_counts_per_level(district: DemoDistrict) -> None:
    levels = Counter(a.level for a in district.areas)
    assert levels == {L.CITY: 1, L.DISTRICT: 1, L.STREET: 1, L.COMMUNITY: 18, L.GRID: 127, L.MICROGRID: 1121}


def test_top_of_the_tree_is_chengdu_qingbaijiang_dawan(district: DemoDistrict) -> None:
    top = [(a.code, a.name, a.level, a.parent_code) for a in district.areas[:3]]
    assert top == [("510100000000", "成都市", L.CITY, None),
                   ("510113000000", "青白江区", L.DISTRICT, "510100000000"),
                   (STREET, "大弯街道", L.STREET, "510113000000")]
    assert district.areas[2].geometry is not None
    assert all(a.source == "demo" for a in district.areas)


def test_communities_are_the_eighteen_real_ones(district: DemoDistrict) -> None:
    packaged = load_communities()
    assert len(packaged) == 18 and len({code for code, _ in packaged}) == 18
    assert packaged[0] == ("510113002001", "怡湖社区")
    assert all(name.endswith("社区") and not name.endswith("居民委员会") for _, name in packaged)
    assert [(a.code, a.name) for a in _of_level(district, L.COMMUNITY)] == packaged


def test_each_community_has_six_to_nine_grids(children: dict[str, list[AreaDraft]],
                                              district: DemoDistrict) -> None:
    counts = [len(children[c.code]) for c in _of_level(district, L.COMMUNITY)]
    assert all(6 <= n <= 9 for n in counts) and sum(counts) == 127


def test_codes_are_unique_nest_and_have_the_stored_length(district: DemoDistrict) -> None:
    by_code = {a.code: a for a in district.areas}
    assert len(by_code) == len(district.areas)
    for area in district.areas:
        assert len(area.code) == area.level.code_length and area.code.isdigit()
        if area.parent_code is not None:
            parent = by_code[area.parent_code]
            assert parent.level is area.level.parent_level
            assert nests_in(area.code, parent.code, parent.level)


def test_parents_come_before_their_children(district: DemoDistrict) -> None:
    seen: set[str] = set()
    for area in district.areas:
        assert area.parent_code is None or area.parent_code in seen
        seen.add(area.code)


def test_grid_and_microgrid_names_count_within_their_parent(district: DemoDistrict) -> None:
    by_code = {a.code: a for a in district.areas}
    for area in _of_level(district, L.GRID) + _of_level(district, L.MICROGRID):
        label = "网格" if area.level is L.GRID else "微网格"
        assert area.name == f"{by_code[area.parent_code or ''].name}第{int(area.code[-3:])}{label}"
    assert by_code["510113002001001003"].name == "怡湖社区第1网格第3微网格"


# --- geometry -------------------------------------------------------------------------------------------------------


def test_every_polygon_is_valid_single_and_rounded(district: DemoDistrict, shapes: dict[str, Polygon]) -> None:
    assert len(shapes) == 1 + 18 + 127 + 1121
    for polygon in shapes.values():
        assert isinstance(polygon, Polygon) and polygon.is_valid and not polygon.is_empty and polygon.area > 0
    coords = shapely.get_coordinates(np.array(list(shapes.values()), dtype=object))
    assert np.array_equal(coords, np.round(coords, 7))


def test_street_is_about_35_km2_south_west_of_qingbaijiang(shapes: dict[str, Polygon]) -> None:
    street = shapes[STREET]
    km2 = street.area * 110.85 * 111.32 * math.cos(math.radians(30.79))
    assert 30 <= km2 <= 40
    assert abs(street.centroid.x - 104.245) < 0.01 and abs(street.centroid.y - 30.79) < 0.01


def test_children_lie_inside_their_parent(shapes: dict[str, Polygon], children: dict[str, list[AreaDraft]]) -> None:
    for parent_code, kids in children.items():
        if parent_code in shapes:
            container = shapes[parent_code].buffer(1e-9)
            assert all(shapes[k.code].within(container) for k in kids), parent_code


def test_siblings_do_not_overlap(shapes: dict[str, Polygon], children: dict[str, list[AreaDraft]]) -> None:
    pairs = 0
    for parent_code, kids in children.items():
        if parent_code not in shapes:
            continue
        polygons = [shapes[k.code] for k in kids]
        left, right = STRtree(polygons).query(polygons, predicate="intersects")
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            if i < j:
                pairs += 1
                assert polygons[i].intersection(polygons[j]).area < 1e-12
    assert pairs > 1121  # neighbours really touch: this is a tiling, not scattered islands


def test_children_tile_their_parent(shapes: dict[str, Polygon], children: dict[str, list[AreaDraft]]) -> None:
    for parent_code, kids in children.items():
        if parent_code not in shapes:
            continue
        parent = shapes[parent_code]
        assert math.isclose(sum(shapes[k.code].area for k in kids), parent.area, rel_tol=1e-9), parent_code
        assert shapely.union_all([shapes[k.code] for k in kids]).symmetric_difference(parent).area < 1e-12


def test_borders_are_noded_alike_on_both_sides(shapes: dict[str, Polygon],
                                               children: dict[str, list[AreaDraft]]) -> None:
    # every child vertex on its parent's border is a parent vertex: no T-junctions, so a point on a
    # shared border lies on both neighbours' borders
    for parent_code, kids in children.items():
        if parent_code not in shapes:
            continue
        parent = shapes[parent_code]
        corners = {tuple(c) for c in shapely.get_coordinates(parent).tolist()}
        for kid in kids:
            points = shapely.points(shapely.get_coordinates(shapes[kid.code]))
            on_border = shapely.get_coordinates(points[shapely.distance(points, parent.boundary) < 1e-12])
            assert {tuple(c) for c in on_border.tolist()} <= corners, kid.code


# --- units and people -------------------------------------------------------------------------------------------------


def test_units_have_unique_codes_and_known_areas(district: DemoDistrict, shapes: dict[str, Polygon]) -> None:
    codes = [u.code for u in district.units]
    assert len(codes) == len(set(codes))
    area_levels = {a.code: a.level for a in district.areas}
    assert all(area_levels[u.area_code] is u.level for u in district.units)
    kinds = Counter(u.kind for u in district.units)
    assert kinds[UnitKind.OPERATIONS_CENTER] == 1 and kinds[UnitKind.GRID_TEAM] == 1
    assert kinds[UnitKind.COMMUNITY_COMMITTEE] == 18 and kinds[UnitKind.PROPERTY_COMPANY] == 40
    assert {"ops-center", "grid-team", "dept-chengguan", "dept-police", "cc-510113002001"} <= set(codes)
    names = {u.code: u.name for u in district.units}
    assert names["ops-center"] == "大弯街道城运中心" and names["cc-510113002001"] == "怡湖社区居委会"
    assert names["grid-team"] == "大弯街道网格化服务管理中心" and names["dept-police"] == "大弯派出所"
    levels = Counter(u.level for u in district.units if u.kind is UnitKind.DEPARTMENT)
    assert levels[L.DISTRICT] >= 10 and levels[L.STREET] >= 4


def test_people_counts_per_kind(district: DemoDistrict) -> None:
    kinds = Counter(p.kind for p in district.people)
    assert kinds[PersonKind.GRID_WORKER] == 254
    assert kinds[PersonKind.MICROGRID_WORKER] == 3102
    assert kinds[PersonKind.OPERATOR] == 12
    assert kinds[PersonKind.VOLUNTEER] == 60
    assert 100 <= kinds[PersonKind.HANDLER] <= 300


def test_people_point_at_known_units_and_areas(district: DemoDistrict) -> None:
    units = {u.code: u for u in district.units}
    areas = {a.code: a for a in district.areas}
    for person in district.people:
        assert person.unit_code is None or person.unit_code in units
        assert person.area_code in areas
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", person.name)
    operators = [p for p in district.people if p.kind is PersonKind.OPERATOR]
    assert {(p.unit_code, p.area_code) for p in operators} == {("ops-center", STREET)}
    for person in district.people:
        if person.kind is PersonKind.HANDLER and person.unit_code is not None:
            assert units[person.unit_code].kind not in (UnitKind.OPERATIONS_CENTER, UnitKind.GRID_TEAM)


def test_every_grid_has_grid_workers_and_some_leaders_have_communities(district: DemoDistrict) -> None:
    grid_workers = [p for p in district.people if p.kind is PersonKind.GRID_WORKER]
    assert all(p.unit_code == "grid-team" for p in grid_workers)
    per_area = Counter(p.area_code for p in grid_workers)
    assert all(per_area[g.code] >= 1 for g in _of_level(district, L.GRID))
    leaders = [p for p in grid_workers if len(p.area_code) == 12]
    assert 1 <= len(leaders) <= 18 and all(p.area_code[:9] == STREET[:9] for p in leaders)


def test_every_microgrid_has_a_worker_with_a_wuwei_role(district: DemoDistrict) -> None:
    workers = [p for p in district.people if p.kind is PersonKind.MICROGRID_WORKER]
    per_area = Counter(p.area_code for p in workers)
    assert all(per_area[m.code] >= 1 for m in _of_level(district, L.MICROGRID))
    assert all(p.wuwei_role is not None and p.unit_code == f"cc-{p.area_code[:12]}" for p in workers)
    assert all(p.wuwei_role is None for p in district.people if p.kind is not PersonKind.MICROGRID_WORKER)
    roles = Counter(p.wuwei_role for p in workers)
    assert set(roles) == set(WuweiRole)
    common = roles[WuweiRole.COURTYARD_HEAD] + roles[WuweiRole.TEAM_HEAD]
    assert common > len(workers) / 2 and 0 < roles[WuweiRole.RIVER_HEAD] < roles[WuweiRole.STREET_HEAD]


def test_phone_numbers_are_unique_mainland_mobiles(district: DemoDistrict) -> None:
    phones = [p.phone for p in district.people]
    assert len(phones) == len(set(phones))
    assert all(re.fullmatch(r"1[3-9]\d{9}", phone) for phone in phones)


# --- compounds and buildings ------------------------------------------------------------------------------------------


def test_compounds_lie_in_their_microgrid(district: DemoDistrict, shapes: dict[str, Polygon]) -> None:
    assert len(district.compounds) == 321
    assert len({c.code for c in district.compounds}) == 321 and len({c.name for c in district.compounds}) == 321
    levels = {a.code: a.level for a in district.areas}
    for compound in district.compounds:
        assert levels[compound.area_code] is L.MICROGRID
        assert compound.community_code == compound.area_code[:12]
        assert shapes[compound.area_code].contains(Point(compound.lon, compound.lat)), compound.code
        assert compound.address.startswith("四川省成都市青白江区") and compound.address.endswith("号")


def test_compounds_are_managed_by_property_companies_of_several_compounds(district: DemoDistrict) -> None:
    companies = {u.code for u in district.units if u.kind is UnitKind.PROPERTY_COMPANY}
    served = Counter(c.property_unit_code for c in district.compounds if c.property_unit_code is not None)
    assert set(served) == companies
    assert min(served.values()) >= 2
    assert 0 < sum(1 for c in district.compounds if c.property_unit_code is None) < 321 / 2


def test_buildings_belong_to_compounds_and_lie_in_their_microgrid(district: DemoDistrict,
                                                                  shapes: dict[str, Polygon]) -> None:
    compounds = {c.code: c for c in district.compounds}
    per_compound: dict[str, list[int]] = defaultdict(list)
    codes = set()
    for building in district.buildings:
        compound = compounds[building.compound_code]
        assert shapes[compound.area_code].contains(Point(building.lon, building.lat)), building.code
        assert building.floors >= 1 and building.units >= 1 and building.households >= 1
        per_compound[building.compound_code].append(building.households)
        codes.add(building.code)
    assert len(codes) == len(district.buildings)
    assert set(per_compound) == set(compounds)
    for code, households in per_compound.items():
        assert 2 <= len(households) <= 20 and sum(households) == compounds[code].households


# --- the geometry helpers on their own -------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 5, 7])
def test_partition_of_a_concave_polygon_gives_single_polygons_that_tile_it(n: int) -> None:
    # without relaxation most of these seeds give a Voronoi cell that the U cuts into two or three parts
    u_shape = Polygon([(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3)])
    for seed in range(10):
        cells = geometry.partition(u_shape, n, np.random.default_rng(seed), lloyd_steps=0)
        assert len(cells) == n and all(isinstance(c, Polygon) and c.is_valid for c in cells)
        assert math.isclose(sum(c.area for c in cells), u_shape.area, rel_tol=1e-9)
        assert shapely.union_all(cells).symmetric_difference(u_shape).area < 1e-9


def test_fragments_go_to_the_neighbour_with_the_longest_border() -> None:
    split = MultiPolygon([box(0, 0, 1, 2), box(2, 0, 3, 1)])  # one cell in two parts; the first is larger
    long_west, short_east = box(1, 0, 2, 2), box(3, 0.5, 4, 2)  # share 1 and 0.5 with the fragment
    merged = geometry.merge_fragments([split, long_west, short_east], 1e-9)
    assert merged[0].equals(box(0, 0, 1, 2)) and merged[2].equals(short_east)
    assert merged[1].equals(long_west.union(box(2, 0, 3, 1)))
    short_west, long_east = box(1, 0.5, 2, 2), box(3, -1, 4, 2)
    merged = geometry.merge_fragments([split, short_west, long_east], 1e-9)
    assert merged[1].equals(short_west) and merged[2].equals(long_east.union(box(2, 0, 3, 1)))
    assert all(isinstance(m, Polygon) for m in merged)


def test_snap_tiling_removes_t_junctions() -> None:
    left = box(0.0, 0.0, 1.0, 1.0)
    lower = box(1.0, 0.0, 2.0, 0.3333333333)
    upper = box(1.0, 0.3333333333, 2.0, 1.0)  # its corner (1, 1/3) lies inside the left square's edge
    tiles = geometry.snap_tiling([left, lower, upper], grid=1e-7)
    assert (1.0, 0.3333333) in {tuple(c) for c in shapely.get_coordinates(tiles[0]).tolist()}
    assert tiles[1].bounds == (1.0, 0.0, 2.0, 0.3333333)
    assert geometry.union_exact(tiles, grid=1e-7).equals(box(0, 0, 2, 1))


def test_apportion_keeps_bounds_and_total() -> None:
    counts = apportion([1.0, 2.0, 3.0, 10.0], 20, 2, 8)
    assert sum(counts) == 20 and all(2 <= c <= 8 for c in counts)
    assert counts == sorted(counts) and counts[-1] == 8
    with pytest.raises(ValueError, match="cannot split"):
        apportion([1.0, 1.0], 20, 1, 3)
