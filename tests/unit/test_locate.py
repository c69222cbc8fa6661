"""Point location on a small hand-made tree: inside, on shared borders, on corners, outside."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon, box

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


def _voronoi_street(seed: int) -> AreaIndex:
    """A street cut into irregular cells, so the raster has many mixed and many whole cells."""
    import shapely

    rng = np.random.default_rng(seed)
    street = Polygon([(0, 0), (3, 0.2), (3.2, 2), (1.5, 2.6), (-0.2, 1.8)])
    cells = shapely.voronoi_polygons(shapely.multipoints(rng.uniform(-0.2, 3.2, (40, 2))), extend_to=street)
    nodes = [AreaNode("510113002000", "街道", L.STREET, None, street)]
    for i, cell in enumerate(shapely.get_parts(cells)):
        piece = cell.intersection(street)
        if not piece.is_empty and piece.geom_type == "Polygon":
            nodes.append(AreaNode(f"510113002{i + 1:03d}", f"社区{i}", L.COMMUNITY, "510113002000", piece))
    return AreaIndex(nodes)


VORONOI = _voronoi_street(3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-0.5, 3.5), st.floats(-0.5, 3.0)), min_size=1, max_size=40))
def test_the_cell_raster_never_changes_an_answer(points: list[tuple[float, float]]) -> None:
    exact = VORONOI.locate_many(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    assert [VORONOI.locate_code(lon, lat) for lon, lat in points] == exact


def test_vertices_shared_by_neighbours_resolve_to_the_smaller_code_through_the_raster() -> None:
    import shapely

    raster = VORONOI.raster()
    assert 0 < raster.mixed_share < 0.5 and len(raster) > 1000
    owners: dict[tuple[float, float], list[str]] = {}
    for code in [c for c in VORONOI._codes if c != "510113002000"]:
        node = VORONOI.node(code)
        assert node is not None and node.geometry is not None
        for xy in shapely.get_coordinates(node.geometry).tolist():
            owners.setdefault((xy[0], xy[1]), []).append(code)
    shared = [(xy, codes) for xy, codes in owners.items() if len(set(codes)) > 1]
    assert len(shared) > 20
    for (lon, lat), codes in shared:
        assert VORONOI.locate_code(lon, lat) == min(codes)


@pytest.mark.parametrize("point", [(float("nan"), 0.5), (0.5, float("inf")), (float("-inf"), float("nan"))])
def test_points_that_are_not_numbers_are_not_located(point: tuple[float, float]) -> None:
    assert VORONOI.locate_code(*point) is None
