"""The import parser on the real Sichuan/Chengdu files in ../shared/data (AMap GeoJSON, statistical CSVs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import prcoords
import pytest
from shapely.geometry import shape

from chengyun.areas.model import AreaDraft, AreaLevel, ImportProblem
from chengyun.areas.parsing import CsvOptions, GeoJsonOptions, parse_division_csv, parse_geojson
from chengyun.errors import Invalid
from chengyun.shared.geo import CoordSystem
from tests.helpers import shared_data

DATA = shared_data()

pytestmark = pytest.mark.shared_data

GEOJSON = DATA / "chengdu_geojson"
DIVISIONS = DATA / "cn_admin_divisions"
AMAP = GeoJsonOptions(code_prop="adcode", parent_prop="parent.adcode", source_crs=CoordSystem.GCJ02)
CHENGDU = "510100000000"
# AMap multipolygons whose parts share edges, and rings that touch themselves: refused, never repaired
INVALID_CITIES = {"成都市", "自贡市", "攀枝花市", "泸州市", "德阳市", "广元市", "遂宁市", "内江市", "乐山市",
                  "南充市", "眉山市", "广安市", "达州市", "雅安市", "巴中市", "资阳市"}
INVALID_DISTRICT_FILES = {"510107.json", "510117.json", "510124.json", "510131.json", "510182.json", "510185.json"}


def problems_of(data: bytes, options: GeoJsonOptions, known: dict[str, AreaLevel]) -> list[ImportProblem]:
    with pytest.raises(Invalid) as info:
        parse_geojson(data, options, known)
    assert info.value.code == "areas.import_invalid"
    assert info.value.params["count"] == len(info.value.params["problems"])
    return list(info.value.params["problems"])


def district_files() -> list[Path]:
    files = [p for p in sorted(GEOJSON.glob("5101??.json")) if p.name != "510100.json"]
    assert len(files) == 22  # the 20 statistical districts, 高新区 510124 and 天府新区 510134
    return files


def test_sichuan_cities_with_self_intersecting_polygons_are_refused_by_name_and_location() -> None:
    problems = problems_of((GEOJSON / "510000.json").read_bytes(), AMAP, {})
    assert {p.code for p in problems} == {"areas.import.invalid_geometry"}
    assert {p.where.split(", ")[1].rstrip(")") for p in problems} == INVALID_CITIES
    chengdu = next(p for p in problems if "成都市" in p.where)
    assert chengdu.where == "feature #1 (510100, 成都市)"
    reason = str(chengdu.params["reason"])
    lon, lat = (float(v) for v in reason.removeprefix("Self-intersection[").removesuffix("]").split())
    assert 103.0 < lon < 105.0 and 30.0 < lat < 31.5  # the location, in WGS84, inside Chengdu


def test_all_21_sichuan_cities_parse_when_their_properties_are_read() -> None:
    document = json.loads((GEOJSON / "510000.json").read_bytes())
    for feature in document["features"]:
        feature["geometry"] = None
    drafts = parse_geojson(json.dumps(document).encode(), AMAP, {})
    assert len(drafts) == 21 == len({d.code for d in drafts})
    assert {d.level for d in drafts} == {AreaLevel.CITY} and {d.parent_code for d in drafts} == {None}
    chengdu = next(d for d in drafts if d.code == CHENGDU)
    assert (chengdu.name, chengdu.level, chengdu.parent_code) == ("成都市", AreaLevel.CITY, None)


def test_the_valid_sichuan_city_polygons_are_accepted() -> None:
    document = json.loads((GEOJSON / "510000.json").read_bytes())
    document["features"] = [f for f in document["features"] if f["properties"]["name"] not in INVALID_CITIES]
    drafts = parse_geojson(json.dumps(document).encode(), AMAP, {})
    assert len(drafts) == 5
    assert all(d.geometry is not None and shape(d.geometry).is_valid for d in drafts)


def test_district_files_parse_or_are_refused_for_their_polygons_only() -> None:
    parsed: dict[str, AreaDraft] = {}
    refused: dict[str, list[ImportProblem]] = {}
    for path in district_files():
        try:
            [draft] = parse_geojson(path.read_bytes(), AMAP, {CHENGDU: AreaLevel.CITY})
        except Invalid as exc:
            refused[path.name] = exc.params["problems"]
        else:
            parsed[path.name] = draft
    assert set(refused) == INVALID_DISTRICT_FILES
    for name, problems in refused.items():
        assert [(p.code, p.where.split(" (")[1][:6]) for p in problems] == [
            ("areas.import.invalid_geometry", name[:6])]
    assert len(parsed) == 16
    assert all(d.level == AreaLevel.DISTRICT and d.parent_code == CHENGDU for d in parsed.values())
    assert all(d.code == f"{name[:6]}000000" for name, d in parsed.items())


def _centroid(geometry: dict[str, Any]) -> tuple[float, float]:
    point = shape(geometry).centroid
    return point.x, point.y


def test_qingbaijiang_is_converted_from_gcj02_and_valid() -> None:
    data = (GEOJSON / "510113.json").read_bytes()
    [draft] = parse_geojson(data, AMAP, {CHENGDU: AreaLevel.CITY})
    assert (draft.code, draft.name, draft.level, draft.parent_code) == (
        "510113000000", "青白江区", AreaLevel.DISTRICT, CHENGDU)
    assert draft.source == "feature #1 (510113, 青白江区)"
    assert draft.geometry is not None and shape(draft.geometry).is_valid
    original = json.loads(data)["features"][0]["geometry"]
    (lon, lat), (wlon, wlat) = _centroid(original), _centroid(draft.geometry)
    expected = prcoords.gcj_wgs_bored(prcoords.Coords(lat, lon))
    assert -0.003 < expected.lon - lon < -0.002 and 0.002 < expected.lat - lat < 0.003
    # the offset varies a little across the 40 km district: the centroids agree to ~10 m of a ~330 m shift
    assert abs(wlon - expected.lon) < 1e-4 and abs(wlat - expected.lat) < 1e-4
    first = original["coordinates"][0][0]
    vertex = prcoords.gcj_wgs_bored(prcoords.Coords(first[1], first[0]))
    assert draft.geometry["coordinates"][0][0] == [round(vertex.lon, 7), round(vertex.lat, 7)]  # type: ignore[index]


def test_chengdu_file_without_adcodes_is_refused_whole() -> None:
    problems = problems_of((GEOJSON / "510100.json").read_bytes(), AMAP, {})
    assert problems[0] == ImportProblem("areas.import.missing_property", "feature #1 (成都高新区)", {"prop": "adcode"})
    missing = [p for p in problems if p.code == "areas.import.missing_property"]
    assert [p.where.split(" (")[0] for p in missing] == [f"feature #{i}" for i in range(1, 25)]
    assert {p.code for p in problems} == {"areas.import.missing_property", "areas.import.invalid_geometry"}


def test_chengdu_districts_streets_and_communities_from_the_statistical_csvs() -> None:
    districts = parse_division_csv((DIVISIONS / "chengdu_areas.csv").read_bytes(), CsvOptions(parent_col="cityCode"),
                                   {CHENGDU: AreaLevel.CITY})
    assert len(districts) == 20 and {d.parent_code for d in districts} == {CHENGDU}
    streets = parse_division_csv((DIVISIONS / "chengdu_streets.csv").read_bytes(), CsvOptions(parent_col="areaCode"),
                                 {d.code: d.level for d in districts})
    assert len(streets) == 261 and {d.level for d in streets} == {AreaLevel.STREET}
    assert {d.parent_code for d in streets} <= {d.code for d in districts}
    villages = parse_division_csv((DIVISIONS / "chengdu_villages.csv").read_bytes(),
                                  CsvOptions(parent_col="streetCode"), {d.code: d.level for d in streets})
    assert len(villages) == 3047 and {d.level for d in villages} == {AreaLevel.COMMUNITY}
    dawan = [d for d in villages if d.parent_code == "510113002000"]
    assert len(dawan) == 18
    assert (dawan[0].code, dawan[0].name) == ("510113002001", "怡湖社区居民委员会")
    assert {"石家碾社区居民委员会", "大弯社区居民委员会", "化工路社区居民委员会"} <= {d.name for d in dawan}


def test_communities_need_their_streets() -> None:
    with pytest.raises(Invalid) as info:
        parse_division_csv((DIVISIONS / "chengdu_villages.csv").read_bytes(), CsvOptions(parent_col="streetCode"), {})
    assert info.value.params["count"] == 3047 and len(info.value.params["problems"]) == 50
    assert info.value.params["problems"][0] == ImportProblem(
        "areas.import.unknown_parent", "row 2 (510104017001)", {"parent": "510104017000"})
