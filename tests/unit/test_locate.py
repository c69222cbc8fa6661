"""Point location on a small hand-made tree: inside, on shared borders, on corners, outside."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from chengyun.areas.locate import AreaIndex, AreaNode
from chengyun.areas.model import AreaLevel

L = AreaLevel


@pytest.fixture(scope="module")
def index() -> AreaIndex:
    """Street 0..2 × 0..1 split into two communities; the west one into two grids (south, north)."""
    return AreaIndex([
        AreaNode("510100000000", "成都市", L.CITY, None, None),
        AreaNode("510113000000", "青白江区", L.DISTRICT, "510100000000", None),
        AreaNode("510113002000", "大弯街道", L.STREET, "510113000000", box(0, 0, 2, 1)),
        AreaNode("510113002001", "西社区", L.COMMUNITY, "510113002000", box(0, 0, 1, 1)),
        AreaNode("510113002002", "东社区", L.COMMUNITY, "510113002000", box(1, 0, 2, 1)),
        AreaNode("510113002001001", "西社区第1网格", L.GRID, "510113002001", box(0, 0, 1, 0.5)),
        AreaNode("510113002001002", "西社区第2网格", L.GRID, "510113002001", box(0, 0.5, 1, 1)),
    ])


def test_point_inside_a_grid_gets_the_whole_chain(index: AreaIndex) -> None:
    chain = index.locate(0.5, 0.25)
    assert chain is not None
    assert [r.level for r in chain] == [L.CITY, L.DISTRICT, L.STREET, L.COMMUNITY, L.GRID]
    assert [r.name for r in chain] == ["成都市", "青白江区", "大弯街道", "西社区", "西社区第1网格"]


def test_community_without_grids_is_the_smallest_area(index: AreaIndex) -> None:
    assert index.locate_code(1.5, 0.5) == "510113002002"


def test_point_on_a_shared_grid_border_resolves_to_the_smaller_code(index: AreaIndex) -> None:
    assert index.locate_code(0.5, 0.5) == "510113002001001"


def test_point_on_the_community_border_prefers_the_deeper_level(index: AreaIndex) -> None:
    # x = 1 is both the west grid's edge and the east community's edge: the grid is deeper
    assert index.locate_code(1.0, 0.25) == "510113002001001"


def test_corner_shared_by_three_areas(index: AreaIndex) -> None:
    assert index.locate_code(1.0, 0.5) == "510113002001001"


@pytest.mark.parametrize("point", [(-0.001, 0.5), (2.001, 0.5), (1.0, 1.0000001), (100.0, 30.0)])
def test_points_outside_the_street_are_not_located(index: AreaIndex, point: tuple[float, float]) -> None:
    assert index.locate(*point) is None


def test_outer_boundary_belongs_to_the_district(index: AreaIndex) -> None:
    assert index.locate_code(0.0, 0.0) == "510113002001001"
    assert index.locate_code(2.0, 1.0) == "510113002002"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.floats(-0.5, 2.5), st.floats(-0.5, 1.5)), min_size=1, max_size=50))
def test_batch_location_agrees_with_single_location(points: list[tuple[float, float]]) -> None:
    idx = AreaIndex([
        AreaNode("510113002000", "街道", L.STREET, None, box(0, 0, 2, 1)),
        AreaNode("510113002001", "西", L.COMMUNITY, "510113002000", box(0, 0, 1, 1)),
        AreaNode("510113002002", "东", L.COMMUNITY, "510113002000", box(1, 0, 2, 1)),
    ])
    lons = np.array([p[0] for p in points])
    lats = np.array([p[1] for p in points])
    assert idx.locate_many(lons, lats) == [idx.locate_code(lon, lat) for lon, lat in points]
