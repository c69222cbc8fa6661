"""Parsing and validating area files (GeoJSON, division-code CSV): pure, small inline inputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import prcoords
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import shape

from chengyun.areas.model import AreaDraft, AreaLevel, ImportProblem
from chengyun.areas.parsing import (
    MAX_IMPORT_BYTES,
    CsvOptions,
    GeoJsonOptions,
    order_parents_first,
    parse_division_csv,
    parse_geojson,
)
from chengyun.errors import Invalid
from chengyun.shared.geo import CoordSystem

L = AreaLevel
CITY = {"510100000000": L.CITY}


def square(lon: float, lat: float, size: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(code: Any, name: Any = "x", parent: Any = None, level: Any = None,
            geometry: Any = None, **props: Any) -> dict[str, Any]:
    properties = {"code": code, "name": name, **props}
    if parent is not None:
        properties["parent"] = parent
    if level is not None:
        properties["level"] = level
    return {"type": "Feature", "properties": properties,
            "geometry": geometry if geometry is not None else square(104.0, 30.0, 0.01)}


def collection(*features: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}, ensure_ascii=False).encode()


def refused(parse: Callable[[], object]) -> list[ImportProblem]:
    """The problems of a refused file (and check the envelope: import_invalid, count, the 50 cap)."""
    with pytest.raises(Invalid) as info:
        parse()
    assert info.value.code == "areas.import_invalid"
    problems = info.value.params["problems"]
    assert all(isinstance(p, ImportProblem) for p in problems)
    assert info.value.params["count"] >= len(problems) and len(problems) <= 50
    return list(problems)


def geojson_problems(data: bytes, known: dict[str, AreaLevel] | None = None,
                     options: GeoJsonOptions | None = None) -> list[ImportProblem]:
    return refused(lambda: parse_geojson(data, options or GeoJsonOptions(), known or {}))


def csv_problems(text: str, options: CsvOptions | None = None,
                 known: dict[str, AreaLevel] | None = None) -> list[ImportProblem]:
    return refused(lambda: parse_division_csv(text.encode(), options or CsvOptions(), known or {}))


THREE_LEVELS = [
    feature(510100, "成都市", geometry=square(103.9, 30.5, 0.5)),
    feature("510113", "青白江区", parent="510100", geometry=square(104.0, 30.6, 0.2)),
    feature("510113002", "大弯街道", parent="510113", geometry=square(104.1, 30.7, 0.05)),
]


# --- accepted files --------------------------------------------------------------------------------------


def test_a_valid_three_level_file_becomes_normalised_drafts() -> None:
    drafts = parse_geojson(collection(*THREE_LEVELS), GeoJsonOptions(), {})
    assert [(d.code, d.level, d.parent_code) for d in drafts] == [
        ("510100000000", L.CITY, None),
        ("510113000000", L.DISTRICT, "510100000000"),
        ("510113002000", L.STREET, "510113000000"),
    ]
    assert [d.source for d in drafts] == ["feature #1 (510100, 成都市)", "feature #2 (510113, 青白江区)",
                                          "feature #3 (510113002, 大弯街道)"]
    street = drafts[2]
    assert street.name == "大弯街道"
    assert street.geometry == {"type": "Polygon", "coordinates": [[
        [104.1, 30.7], [104.15, 30.7], [104.15, 30.75], [104.1, 30.75], [104.1, 30.7]]]}


def test_parents_come_before_children_even_when_the_file_lists_children_first() -> None:
    drafts = parse_geojson(collection(*reversed(THREE_LEVELS)), GeoJsonOptions(), {})
    assert [d.code for d in drafts] == ["510100000000", "510113000000", "510113002000"]
    assert drafts[0].source == "feature #3 (510100, 成都市)"


def test_a_parent_may_already_be_stored() -> None:
    drafts = parse_geojson(collection(THREE_LEVELS[2], THREE_LEVELS[1]), GeoJsonOptions(), CITY)
    assert [d.code for d in drafts] == ["510113000000", "510113002000"]


@pytest.mark.parametrize("parent_prop", ["parent", "parent.adcode"])
def test_amap_properties_numbers_parent_objects_and_levels(parent_prop: str) -> None:
    amap = [
        {"type": "Feature", "geometry": square(103.9, 30.5, 0.5),
         "properties": {"adcode": 510100, "name": "成都市", "level": "city", "parent": {"adcode": 510000}}},
        {"type": "Feature", "geometry": square(104.0, 30.6, 0.2),
         "properties": {"adcode": 510113, "name": "青白江区", "level": "district", "parent": {"adcode": 510100}}},
    ]
    options = GeoJsonOptions(code_prop="adcode", parent_prop=parent_prop)
    drafts = parse_geojson(collection(*amap), options, {})
    # the province 510000 is not an area we keep: the city is the root
    assert [(d.code, d.level, d.parent_code) for d in drafts] == [
        ("510100000000", L.CITY, None), ("510113000000", L.DISTRICT, "510100000000")]


def test_a_single_feature_and_a_forced_level() -> None:
    single = json.dumps(feature("510113002001", "怡湖社区", parent="510113002")).encode()
    drafts = parse_geojson(single, GeoJsonOptions(level=L.COMMUNITY), {"510113002000": L.STREET})
    assert [(d.code, d.level, d.parent_code, d.source) for d in drafts] == [
        ("510113002001", L.COMMUNITY, "510113002000", "feature #1 (510113002001, 怡湖社区)")]


def test_a_feature_without_geometry_is_kept_without_polygon() -> None:
    city = {"type": "Feature", "geometry": None, "properties": {"code": "5101", "name": "成都市"}}
    [draft] = parse_geojson(collection(city), GeoJsonOptions(), {})
    assert (draft.code, draft.geometry) == ("510100000000", None)


def test_gcj02_coordinates_are_converted_to_wgs84() -> None:
    options = GeoJsonOptions(source_crs=CoordSystem.GCJ02)
    [draft] = parse_geojson(collection(feature("510113", parent="5101", geometry=square(104.2, 30.8, 0.01))),
                            options, CITY)
    assert draft.geometry is not None
    lon, lat = draft.geometry["coordinates"][0][0]  # type: ignore[index]
    expected = prcoords.gcj_wgs_bored(prcoords.Coords(30.8, 104.2))
    assert (lon, lat) == (round(expected.lon, 7), round(expected.lat, 7))
    assert -0.003 < lon - 104.2 < -0.002 and 0.002 < lat - 30.8 < 0.003  # GCJ-02 in Chengdu: ~250 m


def test_bd09_coordinates_are_converted_to_wgs84() -> None:
    options = GeoJsonOptions(source_crs=CoordSystem.BD09)
    [draft] = parse_geojson(collection(feature("510113", parent="5101", geometry=square(104.0, 30.6, 0.01))),
                            options, CITY)
    assert draft.geometry is not None
    lon, lat = draft.geometry["coordinates"][0][2]  # type: ignore[index]
    expected = prcoords.bd_wgs_bored(prcoords.Coords(30.61, 104.01))
    assert (lon, lat) == (round(expected.lon, 7), round(expected.lat, 7))
    assert -0.01 < lon - 104.01 < -0.008 and -0.004 < lat - 30.61 < -0.002


# --- file-level problems ---------------------------------------------------------------------------------


def test_not_utf8() -> None:
    assert geojson_problems(b'{"type": "Feature\xff"}') == [
        ImportProblem("areas.import.not_utf8", "file", {"position": 17})]
    assert csv_problems_bytes(b"code,name\n510113,\xc7\xe0\xb0\xd7\xbd\xad\n")[0].code == "areas.import.not_utf8"


def csv_problems_bytes(data: bytes) -> list[ImportProblem]:
    return refused(lambda: parse_division_csv(data, CsvOptions(parent_col=None), {}))


def test_not_json_says_where() -> None:
    [problem] = geojson_problems(b'{\n  "type": "Feature",\n  oops\n}')
    assert problem == ImportProblem("areas.import.not_json", "file", {
        "line": 3, "column": 3, "msg": "Expecting property name enclosed in double quotes"})


@pytest.mark.parametrize(("data", "found"), [
    (b"[1, 2]", "array"),
    (b'{"type": "Polygon", "coordinates": []}', "Polygon"),
    (b'{"type": "FeatureCollection", "features": {}}', "FeatureCollection"),
    (b'"text"', "string"),
])
def test_not_geojson(data: bytes, found: str) -> None:
    assert geojson_problems(data) == [ImportProblem("areas.import.not_geojson", "file", {"type": found})]


def test_entries_that_are_not_features() -> None:
    data = collection("x", {"type": "Point", "coordinates": [1, 2]}, feature("5101"))
    assert geojson_problems(data) == [
        ImportProblem("areas.import.not_feature", "feature #1", {"type": "string"}),
        ImportProblem("areas.import.not_feature", "feature #2", {"type": "Point"}),
    ]


@pytest.mark.parametrize("data", [b"", b"  \n", collection()])
def test_empty_geojson(data: bytes) -> None:
    assert geojson_problems(data) == [ImportProblem("areas.import.empty_file", "file", {})]


@pytest.mark.parametrize("text", ["", "\n\n", "code,name,parent\n", "code,name,parent\n , ,\n"])
def test_empty_csv(text: str) -> None:
    assert csv_problems(text) == [ImportProblem("areas.import.empty_file", "file", {})]


def test_csv_missing_columns() -> None:
    assert csv_problems("id,title,parent\n510113,青白江区,5101\n") == [ImportProblem(
        "areas.import.missing_columns", "header", {"missing": "code, name", "found": "id, title, parent"})]
    assert csv_problems("code,name\n510113,x\n", CsvOptions(parent_col="areaCode", level_col="lvl"))[0].params == {
        "missing": "areaCode, lvl", "found": "code, name"}


@pytest.mark.parametrize("parse", [
    lambda data: parse_geojson(data, GeoJsonOptions(), {}),
    lambda data: parse_division_csv(data, CsvOptions(), {}),
])
def test_files_over_50_mb_are_refused_before_parsing(parse: Callable[[bytes], object]) -> None:
    with pytest.raises(Invalid) as info:
        parse(b" " * (MAX_IMPORT_BYTES + 1))
    assert (info.value.code, info.value.params) == (
        "areas.import.too_large", {"size": 50 * 1024 * 1024 + 1, "limit": 50 * 1024 * 1024})


# --- feature-level problems ------------------------------------------------------------------------------


BOW_TIE = {"type": "Polygon", "coordinates": [[[104, 30], [104.01, 30.01], [104.01, 30], [104, 30.01], [104, 30]]]}


@pytest.mark.parametrize(("bad", "code", "params"), [
    (feature("510113", None, parent="5101"), "areas.import.missing_property", {"prop": "name"}),
    (feature("510113", "  ", parent="5101"), "areas.import.missing_property", {"prop": "name"}),
    (feature(None, parent="5101"), "areas.import.missing_property", {"prop": "code"}),
    (feature("510113"), "areas.import.missing_property", {"prop": "parent"}),
    (feature("51O113", parent="5101"), "areas.import.bad_code", {"code": "51O113", "level": "?"}),
    (feature("510113000", parent="510113", level="street"), "areas.import.bad_code",
     {"code": "510113000", "level": "street"}),
    (feature("510113", parent="51x"), "areas.import.bad_code", {"code": "51x", "level": "city", "prop": "parent"}),
    (feature("5101١٣", parent="5101"), "areas.import.bad_code", {"code": "5101١٣", "level": "?"}),
    (feature(True, parent="5101"), "areas.import.bad_code", {"code": "true", "level": "?"}),
    (feature("5101١٣", parent="5101", level="district"), "areas.import.bad_code",
     {"code": "5101١٣", "level": "district"}),
    (feature("510113", parent="5101", level="province"), "areas.import.unknown_level", {"value": "province"}),
    (feature("510113", parent="5101", level="street"), "areas.import.level_mismatch",
     {"code": "510113", "level": "street", "inferred": "district"}),
    (feature("510113", parent="5101", geometry={"type": "Point", "coordinates": [104, 30]}),
     "areas.import.unsupported_geometry", {"type": "Point"}),
    (feature("510113", parent="5101", geometry="POLYGON ((0 0, 1 0, 1 1, 0 0))"),
     "areas.import.unsupported_geometry", {"type": "string"}),
    (feature("510113", parent="5101", geometry={"type": "Polygon", "coordinates": []}),
     "areas.import.empty_geometry", {}),
    (feature("510113", parent="5101", geometry={"type": "MultiPolygon", "coordinates": [[]]}),
     "areas.import.empty_geometry", {}),
    (feature("510113", parent="5101", geometry=BOW_TIE), "areas.import.invalid_geometry",
     {"reason": "Self-intersection[104.005 30.005]"}),
])
def test_each_feature_problem_is_named_precisely(bad: dict[str, Any], code: str, params: dict[str, Any]) -> None:
    problems = geojson_problems(collection(bad), CITY)
    assert [(p.code, p.params) for p in problems] == [(code, params)]
    raw_code, name = bad["properties"]["code"], bad["properties"]["name"]
    shown = [str(v).lower() if isinstance(v, bool) else str(v) for v in (raw_code, name) if v and str(v).strip()]
    assert problems[0].where == (f"feature #1 ({', '.join(shown)})" if shown else "feature #1")


def ring(*points: list[Any]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [list(points)]}


@pytest.mark.parametrize(("geometry", "params"), [
    (ring([104, 30], [104.01, 30], [104.01, 30.01], [104, 30.01]),
     {"reason": "not_closed", "at": "polygon 1, ring 1"}),
    (ring([104, 30], [200, 30], [104.01, 30.01], [104, 30]),
     {"reason": "out_of_range", "at": "polygon 1, ring 1, point 2", "value": "[200, 30]"}),
    (ring([104, 30], [104.01, 95], [104.01, 30.01], [104, 30]),
     {"reason": "out_of_range", "at": "polygon 1, ring 1, point 2", "value": "[104.01, 95]"}),
    (ring([104, 30], [104.01, "30"], [104.01, 30.01], [104, 30]),
     {"reason": "not_a_number", "at": "polygon 1, ring 1, point 2", "value": '[104.01, "30"]'}),
    (ring([104, 30], [104.01], [104.01, 30.01], [104, 30]),
     {"reason": "not_a_number", "at": "polygon 1, ring 1, point 2", "value": "[104.01]"}),
    (ring([104, 30], [104.01, 30.01], [104, 30]), {"reason": "too_few_points", "at": "polygon 1, ring 1", "points": 3}),
    ({"type": "Polygon", "coordinates": "[[104, 30]]"},
     {"reason": "not_an_array", "at": "coordinates", "value": '"[[104, 30]]"'}),
    ({"type": "MultiPolygon", "coordinates": [[[[104, 30], [104.1, 30], [104.1, 30.1], [104, 30.1], [104, 30]]],
                                              [[[105, 30], [105.1, 30], [105.1, 30.1], [105, 30]], 7]]},
     {"reason": "not_an_array", "at": "polygon 2, ring 2", "value": "7"}),
])
def test_bad_coordinates(geometry: dict[str, Any], params: dict[str, Any]) -> None:
    assert geojson_problems(collection(feature("510113", "青白江区", parent="5101", geometry=geometry)), CITY) == [
        ImportProblem("areas.import.bad_coordinates", "feature #1 (510113, 青白江区)", params)]


def test_nan_from_json_is_out_of_range() -> None:
    data = b'{"type": "Feature", "properties": {"code": "5101", "name": "x"}, "geometry": {"type": "Polygon", ' \
           b'"coordinates": [[[104, 30], [104.1, NaN], [104.1, 30.1], [104, 30]]]}}'
    [problem] = geojson_problems(data)
    assert (problem.code, problem.params["reason"], problem.params["at"]) == (
        "areas.import.bad_coordinates", "out_of_range", "polygon 1, ring 1, point 2")


# --- problems across the file ----------------------------------------------------------------------------


def test_duplicate_codes_name_the_first_occurrence() -> None:
    data = collection(feature("5101", "成都市"), feature("510113", "青白江区", parent="5101"),
                      feature("510113000000", "青白江区（重复）", parent="5101"))
    assert geojson_problems(data) == [ImportProblem(
        "areas.import.duplicate_code", "feature #3 (510113000000, 青白江区（重复）)",
        {"code": "510113000000", "first": "feature #2 (510113, 青白江区)"})]


def test_unknown_parent() -> None:
    assert geojson_problems(collection(feature("510113", "青白江区", parent="5102")), CITY) == [
        ImportProblem("areas.import.unknown_parent", "feature #1 (510113, 青白江区)", {"parent": "510200000000"})]


def test_parent_one_level_up_is_required() -> None:
    community = feature("510113002001", "怡湖社区", parent="510113002")
    assert geojson_problems(collection(community), {"510113002000": L.DISTRICT}) == [ImportProblem(
        "areas.import.parent_level", "feature #1 (510113002001, 怡湖社区)",
        {"parent": "510113002000", "parent_level": "district", "expected": "street"})]


def test_code_must_nest_in_the_parent_code() -> None:
    data = collection(feature("510113", "青白江区", parent="5101"), feature("510114001", "外区街道", parent="510113"))
    assert geojson_problems(data, CITY) == [ImportProblem(
        "areas.import.code_not_nested", "feature #2 (510114001, 外区街道)",
        {"code": "510114001000", "parent": "510113000000"})]


def test_parent_links_forming_a_cycle_are_refused() -> None:
    # parsed files cannot form one (each parent is exactly one level up); the ordering refuses it anyway
    a = AreaDraft("510113002001", "a", L.COMMUNITY, "510113002002", None, "row 2")
    b = AreaDraft("510113002002", "b", L.COMMUNITY, "510113002001", None, "row 3")
    root = AreaDraft("510100000000", "成都市", L.CITY, None, None, "row 4")
    assert refused(lambda: order_parents_first([a, root, b])) == [
        ImportProblem("areas.import.cycle", "row 2", {"code": "510113002001", "parent": "510113002002"}),
        ImportProblem("areas.import.cycle", "row 3", {"code": "510113002002", "parent": "510113002001"}),
    ]


def test_every_problem_in_a_file_is_reported_in_file_order() -> None:
    data = collection(
        feature(510100, "成都市", geometry=BOW_TIE),
        feature("510113", None, parent="510100", level="district", geometry={"type": "Point", "coordinates": [1, 2]}),
        feature("510113002", "大弯街道", parent="510113"),  # fine: its parent is in the file despite the problems
        feature("510114", "新都区", parent="5102"),
        feature("51011300200", "怡湖社区", parent="510113002", level="社区"),
        "not a feature",
    )
    problems = geojson_problems(data)
    assert [(p.code, p.where) for p in problems] == [
        ("areas.import.invalid_geometry", "feature #1 (510100, 成都市)"),
        ("areas.import.missing_property", "feature #2 (510113)"),
        ("areas.import.unsupported_geometry", "feature #2 (510113)"),
        ("areas.import.unknown_parent", "feature #4 (510114, 新都区)"),
        ("areas.import.bad_code", "feature #5 (51011300200, 怡湖社区)"),
        ("areas.import.not_feature", "feature #6"),
    ]


def test_children_of_an_area_with_problems_are_still_checked_against_it() -> None:
    data = collection(feature("510113", "青白江区", parent="51-01"), feature("510113002", "大弯街道", parent="510113"),
                      feature("510113002", "大弯街道", parent="510113"))
    assert [(p.code, p.where) for p in geojson_problems(data)] == [
        ("areas.import.bad_code", "feature #1 (510113, 青白江区)"),
        ("areas.import.duplicate_code", "feature #3 (510113002, 大弯街道)"),
    ]


def test_at_most_50_problems_are_listed_but_all_are_counted() -> None:
    data = collection(*(feature(f"510113{i:03d}", None, parent="510113") for i in range(1, 61)))
    with pytest.raises(Invalid) as info:
        parse_geojson(data, GeoJsonOptions(), {"510113000000": L.DISTRICT})
    problems = info.value.params["problems"]
    assert info.value.params["count"] == 60 and len(problems) == 50
    assert problems[0].where == "feature #1 (510113001)" and problems[-1].where == "feature #50 (510113050)"
    assert {p.code for p in problems} == {"areas.import.missing_property"}


# --- CSV -------------------------------------------------------------------------------------------------


VILLAGES = (
    "code,name,streetCode,provinceCode,cityCode,areaCode\n"
    "510113002001,怡湖社区居民委员会,510113002,51,5101,510113\n"
    "510113002002,石家碾社区居民委员会,510113002,51,5101,510113\n"
)


def test_division_csv_with_a_street_code_column() -> None:
    drafts = parse_division_csv(VILLAGES.encode(), CsvOptions(parent_col="streetCode"), {"510113002000": L.STREET})
    assert [(d.code, d.name, d.level, d.parent_code, d.source) for d in drafts] == [
        ("510113002001", "怡湖社区居民委员会", L.COMMUNITY, "510113002000", "row 2 (510113002001)"),
        ("510113002002", "石家碾社区居民委员会", L.COMMUNITY, "510113002000", "row 3 (510113002002)"),
    ]


def test_csv_with_bom_crlf_blank_lines_and_children_first() -> None:
    text = "\ufeffcode,name,parent\r\n510113002,大弯街道,510113\r\n\r\n510113,青白江区,5101\r\n5101,成都市,51\r\n"
    drafts = parse_division_csv(text.encode(), CsvOptions(), {})
    assert [(d.code, d.parent_code, d.source) for d in drafts] == [
        ("510100000000", None, "row 5 (5101)"),  # a city's parent (the province 51) is ignored
        ("510113000000", "510100000000", "row 4 (510113)"),
        ("510113002000", "510113000000", "row 2 (510113002)"),
    ]


def test_csv_without_parent_column_derives_the_parent_from_the_code() -> None:
    text = "code,name\n5101,成都市\n510113,青白江区\n510113002,大弯街道\n510113002001,怡湖社区\n"
    drafts = parse_division_csv(text.encode(), CsvOptions(parent_col=None), {})
    assert [d.parent_code for d in drafts] == [None, "510100000000", "510113000000", "510113002000"]


def test_csv_levels_from_a_column_or_forced() -> None:
    text = "code,name,lvl\n510113002001007,怡湖第7网格,网格\n"
    [grid] = parse_division_csv(text.encode(), CsvOptions(parent_col=None, level_col="lvl"),
                                {"510113002001": L.COMMUNITY})
    assert (grid.code, grid.level, grid.parent_code) == ("510113002001007", L.GRID, "510113002001")
    problems = csv_problems(text, CsvOptions(parent_col=None, level=L.COMMUNITY))
    assert problems == [ImportProblem("areas.import.level_mismatch", "row 2 (510113002001007)",
                                      {"code": "510113002001007", "level": "community", "inferred": "grid"})]


def test_csv_geometry_column_accepts_wkt_and_geojson_and_converts_them() -> None:
    text = ("code,name,geometry\n"
            '510113,青白江区,"POLYGON ((104.2 30.8, 104.21 30.8, 104.21 30.81, 104.2 30.8))"\n'
            '510114,新都区,"{""type"": ""Polygon"", ""coordinates"": [[[104.1, 30.8], [104.11, 30.8], '
            '[104.11, 30.81], [104.1, 30.8]]]}"\n')
    options = CsvOptions(parent_col=None, geometry_col="geometry", source_crs=CoordSystem.GCJ02)
    drafts = parse_division_csv(text.encode(), options, CITY)
    expected = prcoords.gcj_wgs_bored(prcoords.Coords(30.8, 104.2))
    assert drafts[0].geometry is not None and drafts[1].geometry is not None
    assert drafts[0].geometry["coordinates"][0][0] == [round(expected.lon, 7), round(expected.lat, 7)]  # type: ignore[index]
    assert shape(drafts[1].geometry).is_valid and drafts[1].geometry["type"] == "Polygon"


def test_csv_row_problems() -> None:
    text = ("code,name,parent,geometry\n"
            "510113,青白江区,5101,\n"
            "510113002001,,510113002,\n"
            ",无代码,510113,\n"
            "510113003,弥牟镇,510113,POLYGON ((1 1, 2 2))\n"
            "510113,青白江区,5101,\n")
    problems = csv_problems(text, CsvOptions(geometry_col="geometry"), CITY)
    assert [(p.code, p.where, p.params.get("prop")) for p in problems] == [
        ("areas.import.missing_property", "row 3 (510113002001)", "name"),
        ("areas.import.unknown_parent", "row 3 (510113002001)", None),
        ("areas.import.missing_property", "row 4", "code"),
        ("areas.import.bad_coordinates", "row 5 (510113003)", None),
        ("areas.import.duplicate_code", "row 6 (510113)", None),
    ]
    assert problems[3].params["reason"] == "unreadable"
    assert problems[4].params == {"code": "510113000000", "first": "row 2 (510113)"}


HEADER = "code,name,parent,level,geometry\n"
CSV_OPTIONS = CsvOptions(level_col="level", geometry_col="geometry")


def _only_invalid(data: bytes, options: CsvOptions) -> None:
    try:
        drafts = parse_division_csv(data, options, CITY)
    except Invalid as exc:
        assert exc.code == "areas.import_invalid"
        assert 1 <= len(exc.params["problems"]) <= min(50, exc.params["count"])
    else:
        assert drafts and all(isinstance(d, AreaDraft) for d in drafts)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_csv_parser_raises_nothing_but_invalid_on_any_text(text: str) -> None:
    _only_invalid(text.encode(), CsvOptions())


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123510,\"\n\r {}[]:POLYGNtype区街道城市网格", max_size=120))
def test_csv_parser_raises_nothing_but_invalid_on_rows_under_a_good_header(text: str) -> None:
    _only_invalid((HEADER + text).encode(), CSV_OPTIONS)


JSON_LEAF = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.sampled_from(
    ["Polygon", "MultiPolygon", "Feature", "510113", "5101", 104.0, 30.0])
JSON_KEYS = st.sampled_from(["type", "coordinates", "properties", "geometry", "code", "name", "parent", "level"])
JSON_VALUES = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
    JSON_KEYS, inner, max_size=5), max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_geojson_parser_raises_nothing_but_invalid_on_any_json(value: Any) -> None:
    for document in (value, {"type": "Feature", "properties": value, "geometry": value},
                     {"type": "FeatureCollection", "features": [value]}):
        try:
            drafts = parse_geojson(json.dumps(document).encode(), GeoJsonOptions(), CITY)
        except Invalid as exc:
            assert exc.code == "areas.import_invalid" and exc.params["count"] >= 1
        else:
            assert all(isinstance(d, AreaDraft) for d in drafts)
