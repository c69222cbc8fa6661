"""The duplicate-report engine: text duplicates near in space and time, 一址多诉, 一人多诉, the address normaliser."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from h3.api import basic_int as h3
from hypothesis import given, settings
from hypothesis import strategies as st

from chengyun.triage.duplicates import (
    CategoryRule,
    DuplicateIndex,
    DuplicateParams,
    MatchKind,
    ReportKey,
    normalise_address,
)
from chengyun.triage.duplicates_model import haversine_m, ring_size
from chengyun.triage.duplicates_table import BucketTable, packed
from chengyun.triage.duplicates_text import jaccard_many, normalise_text, shingle

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
LON, LAT = 104.06, 30.66
LAMP = "怡湖路12号门口的路灯已经坏了三天，晚上一片漆黑，老人孩子出行很不安全，请尽快维修。"
LAMP_AGAIN = "怡湖路12号门口路灯坏了三天了，晚上一片漆黑，老人小孩出行很不安全，请尽快来维修！"
DRAIN = "石家碾小区北门下水道堵塞，污水漫到人行道上，气味很大，希望有关部门尽快疏通。"


def report(rid: str, text: str = LAMP, lon: float | None = LON, lat: float | None = LAT, hours: float = 0.0,
           **extra: str) -> ReportKey:
    """A report at the demo point, `hours` after T0."""
    return ReportKey(rid, text, lon, lat, T0 + timedelta(hours=hours), **extra)  # type: ignore[arg-type]


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """A point some metres east and north of another."""
    return lon + east_m / (111_320 * math.cos(math.radians(lat))), lat + north_m / 110_540


@pytest.fixture
def index() -> DuplicateIndex:
    """An index with the lamp report and an unrelated drain report."""
    idx = DuplicateIndex(DuplicateParams(rules={"lamp": CategoryRule(radius_m=150.0, window_hours=48.0)}))
    idx.build([report("r1"), report("r2", DRAIN, *offset(LON, LAT, 40, 0))])
    return idx


def test_a_reworded_report_nearby_is_a_duplicate_with_its_evidence(index: DuplicateIndex) -> None:
    lon, lat = offset(LON, LAT, 60, 30)
    matches = index.similar(report("q", LAMP_AGAIN, lon, lat, hours=5, category="lamp"))
    assert [m.id for m in matches] == ["r1"]
    match = matches[0]
    assert match.kind is MatchKind.TEXT and match.similarity >= 0.3
    assert match.metres == pytest.approx(67.1, abs=1.0) and match.hours == 5.0


def test_outside_the_radius_or_the_window_is_not_a_duplicate(index: DuplicateIndex) -> None:
    far = offset(LON, LAT, 400, 0)
    assert index.similar(report("q", LAMP_AGAIN, *far, category="lamp")) == []
    assert index.similar(report("q", LAMP_AGAIN, hours=49, category="lamp")) == []
    assert [m.id for m in index.similar(report("q", LAMP_AGAIN, hours=-47, category="lamp"))] == ["r1"]


def test_a_category_rule_changes_radius_and_window(index: DuplicateIndex) -> None:
    far = offset(LON, LAT, 180, 0)
    assert index.similar(report("q", LAMP_AGAIN, *far, category="lamp")) == []
    assert [m.id for m in index.similar(report("q", LAMP_AGAIN, *far, hours=60))] == ["r1"]  # default: 200 m, 72 h


def test_unrelated_text_at_the_same_place_is_not_a_text_duplicate(index: DuplicateIndex) -> None:
    assert index.similar(report("q", "请问本小区什么时候开始加装电梯？")) == []


def test_reports_without_a_point_compare_on_text_and_time() -> None:
    idx = DuplicateIndex()
    idx.build([report("placed"), report("unplaced", lon=None, lat=None)])
    from_unplaced = idx.similar(report("q", LAMP_AGAIN, None, None))
    assert sorted(m.id for m in from_unplaced) == ["placed", "unplaced"]
    assert all(m.metres is None for m in from_unplaced)
    from_placed = idx.similar(report("q", LAMP_AGAIN))
    assert {m.id: m.metres for m in from_placed} == {"placed": 0.0, "unplaced": None}


def test_points_across_a_cell_edge_are_found() -> None:
    idx = DuplicateIndex(DuplicateParams(default_rule=CategoryRule(radius_m=100.0, window_hours=72.0)))
    cell = h3.latlng_to_cell(LAT, LON, idx.resolution)
    boundary = h3.cell_to_boundary(cell)
    (lat1, lon1), (lat2, lon2) = boundary[0], boundary[1]
    mid_lat, mid_lon = (lat1 + lat2) / 2, (lon1 + lon2) / 2
    clat, clon = h3.cell_to_latlng(cell)
    inside = (mid_lat + (clat - mid_lat) * 0.02, mid_lon + (clon - mid_lon) * 0.02)
    outside = (mid_lat - (clat - mid_lat) * 0.5, mid_lon - (clon - mid_lon) * 0.5)
    assert h3.latlng_to_cell(*inside, idx.resolution) != h3.latlng_to_cell(*outside, idx.resolution)
    idx.add(report("edge", lon=inside[1], lat=inside[0]))
    near = report("q", LAMP_AGAIN, lon=outside[1], lat=outside[0])
    distance = haversine_m(outside[1], outside[0], np.array([inside[1]]), np.array([inside[0]]))[0]
    assert distance < 100 and [m.id for m in idx.similar(near)] == ["edge"]


def test_a_vertex_point_finds_everything_within_the_radius_in_every_direction() -> None:
    idx = DuplicateIndex(DuplicateParams(default_rule=CategoryRule(radius_m=300.0, window_hours=72.0)))
    cell = h3.latlng_to_cell(LAT, LON, idx.resolution)
    vlat, vlon = h3.cell_to_boundary(cell)[0]
    around = [report(f"p{k}", lon=p[0], lat=p[1]) for k in range(16)
              for p in [offset(vlon, vlat, 290 * math.cos(k * math.pi / 8), 290 * math.sin(k * math.pi / 8))]]
    idx.build(around)
    found = {m.id for m in idx.similar(report("q", LAMP_AGAIN, vlon, vlat))}
    assert found == {f"p{k}" for k in range(16)}


def test_remove_forgets_a_report_and_add_replaces_one(index: DuplicateIndex) -> None:
    assert index.remove("r1") and not index.remove("r1") and "r1" not in index and len(index) == 1
    assert index.similar(report("q", LAMP_AGAIN)) == []
    index.add(report("r2", LAMP_AGAIN))  # same id, new text: replaces the drain report
    assert len(index) == 1 and [m.id for m in index.similar(report("q", LAMP))] == ["r2"]


def test_a_report_never_matches_itself(index: DuplicateIndex) -> None:
    assert index.similar(report("r1")) == []


def test_same_place_by_normalised_address_or_radius() -> None:
    idx = DuplicateIndex()
    idx.build([
        report("addr", DRAIN, None, None, address_key="四川省成都市青白江区怡湖路１２号 三号楼二单元"),
        report("near", "请问本小区什么时候开始加装电梯？", *offset(LON, LAT, 120, 0)),
        report("far", DRAIN, *offset(LON, LAT, 900, 0)),
        report("old", DRAIN, None, None, hours=-800, address_key="青白江区怡湖路12号3栋2单元"),
    ])
    found = idx.same_place(report("q", LAMP, address_key="青白江区怡湖路12号3栋2单元"))
    assert [(m.id, m.kind) for m in found] == [("addr", MatchKind.ADDRESS), ("near", MatchKind.NEARBY)]
    assert found[0].metres is None and found[1].metres == pytest.approx(120, abs=1)


def test_same_reporter_across_channels_within_the_window() -> None:
    idx = DuplicateIndex()
    idx.build([report("a", DRAIN, reporter_key="k1"), report("b", LAMP, None, None, hours=100, reporter_key="k1"),
               report("c", LAMP, reporter_key="k2"), report("d", LAMP, hours=-1000, reporter_key="k1")])
    found = idx.same_reporter(report("q", LAMP, hours=1, reporter_key="k1"))
    assert [(m.id, m.kind) for m in found] == [("b", MatchKind.REPORTER), ("a", MatchKind.REPORTER)]  # b: same text
    assert idx.same_reporter(report("q", LAMP)) == []


@pytest.mark.parametrize(("raw", "normal"), [
    ("四川省成都市青白江区怡湖路 12 号 三号楼二单元301室", "青白江区怡湖路12号3栋2单元301"),
    ("青白江区怡湖路１２号３幢２单元３０１", "青白江区怡湖路12号3栋2单元301"),
    ("怡湖小区5-2-301", "怡湖小区5栋2单元301"),
    ("大弯街道十二栋", "大弯街道12栋"),
    ("华润超市3号", "华润超市3号"),
    ("  ，。！ ", ""),
])
def test_address_normaliser(raw: str, normal: str) -> None:
    assert normalise_address(raw) == normal


def test_text_normalisation_and_exact_jaccard() -> None:
    assert normalise_text("路灯 不亮_了，ＡＢＣ１２３!", 300) == "路灯不亮了abc123"
    sets = shingle(["路灯不亮了请维修", "路灯不亮了请尽快维修", "", "a"], 2)
    assert np.diff(sets.offsets).tolist() == [7, 9, 0, 1]
    assert jaccard_many(sets.of(0), sets, np.arange(4)).tolist() == pytest.approx([1.0, 0.6, 0.0, 0.0])
    nothing = shingle([normalise_text(":", 300), ""], 2)  # punctuation only: no shingle in the whole batch
    assert nothing.offsets.tolist() == [0, 0, 0] and len(nothing.values) == 0


def test_bucket_table_merges_and_drops_dead_rows() -> None:
    table = BucketTable()
    alive = np.ones(4, dtype=np.bool_)
    keys = packed(np.array([1 << 40, 1 << 40, 2 << 40, 1 << 40], dtype=np.uint64), np.array([10, 20, 10, 30]))
    table.add(keys, np.arange(4), alive)
    assert sorted(table.find(np.array([1 << 40], dtype=np.uint64), 10, 20).tolist()) == [0, 1]
    alive[1] = False
    table._merge(np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int32), alive)
    assert len(table) == 3 and sorted(table.find(np.array([1 << 40], dtype=np.uint64), 0, 99).tolist()) == [0, 3]


def test_ring_size_grows_with_the_radius() -> None:
    cell = h3.latlng_to_cell(LAT, LON, 9)
    assert ring_size(cell, 50) == 1 and ring_size(cell, 1000) > ring_size(cell, 300) > 1


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        DuplicateIndex().add(replace(report("x"), at=datetime(2026, 1, 1)))


texts = st.text(st.characters(whitelist_categories=("Lo", "Nd", "Ll", "Po", "Zs")), min_size=1, max_size=120)


@settings(max_examples=60, deadline=None)
@given(text=texts, east=st.floats(-140, 140), north=st.floats(-140, 140), hours=st.floats(-70, 70),
       address=st.one_of(st.none(), st.text(min_size=1, max_size=20)))
def test_a_copy_within_radius_and_window_is_always_found(
    text: str, east: float, north: float, hours: float, address: str | None
) -> None:
    idx = DuplicateIndex()
    idx.build([report("noise", DRAIN), report("orig", text, *offset(LON, LAT, east, north), hours=hours,
                                               address_key=address or "")])
    copy = report("copy", text, address_key=address or "")
    if normalise_text(text, 300):
        top = idx.similar(copy)[0]
        assert top.id == "orig" and top.similarity == 1.0
    if address and normalise_address(address):
        assert "orig" in {m.id for m in idx.same_place(copy)}
