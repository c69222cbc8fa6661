"""The phone map's pure geometry: aspect-true projection into a fixed viewBox, polygons to SVG paths, clamping of
far points, and sensible frames for degenerate input."""

from __future__ import annotations

import math
import re

from hypothesis import given
from hypothesis import strategies as st

from chengyun.web.minimap import (
    HEIGHT,
    M_PER_DEG,
    MARGIN,
    MIN_SPAN_M,
    WIDTH,
    Bounds,
    Frame,
    Spot,
    frame_for,
    rings_of,
    scale_bar,
    spread,
)

# a grid of about 330 m x 330 m in Chengdu (30.8° N): 0.0034° of longitude is 0.0034 * cos(30.8°) ≈ 0.00292° of lat
SQUARE = [(104.2100, 30.8100), (104.2134, 30.8100), (104.2134, 30.8130), (104.2100, 30.8130), (104.2100, 30.8100)]
EPS = 1e-6


def numbers(path: str) -> list[tuple[float, float]]:
    values = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path)]
    return list(zip(values[::2], values[1::2], strict=True))


def test_the_projection_keeps_the_aspect_ground_distance_per_unit_is_the_same_both_ways() -> None:
    frame = Frame.fit(Bounds(104.0, 30.0, 104.01, 30.01))
    x0, y0 = frame.xy(104.0, 30.0)
    x1, _ = frame.xy(104.01, 30.0)
    _, y1 = frame.xy(104.0, 30.01)
    east_m = 0.01 * M_PER_DEG * math.cos(math.radians(30.005))
    north_m = 0.01 * M_PER_DEG
    assert math.isclose((x1 - x0) / east_m, (y0 - y1) / north_m, rel_tol=1e-9)
    assert x1 - x0 < y0 - y1  # a degree of longitude is shorter than one of latitude away from the equator
    assert math.isclose(frame.metres_per_unit * (y0 - y1), north_m, rel_tol=1e-9)


def test_the_frames_corners_map_to_the_drawing_box_inside_the_margin_centred() -> None:
    frame = Frame.fit(Bounds(104.0, 30.0, 104.02, 30.01))  # wider than high: fills the width
    b = frame.bounds
    west_x, north_y = frame.xy(b.west, b.north)
    east_x, south_y = frame.xy(b.east, b.south)
    assert math.isclose(west_x, MARGIN) and math.isclose(east_x, WIDTH - MARGIN)
    assert math.isclose(north_y - MARGIN, HEIGHT - MARGIN - south_y)  # centred vertically
    assert MARGIN <= north_y < south_y <= HEIGHT - MARGIN
    tall = Frame.fit(Bounds(104.0, 30.0, 104.001, 30.02))  # higher than wide: fills the height, centred across
    tx0, ty0 = tall.xy(tall.bounds.west, tall.bounds.north)
    tx1, ty1 = tall.xy(tall.bounds.east, tall.bounds.south)
    assert math.isclose(ty0, MARGIN) and math.isclose(ty1, HEIGHT - MARGIN)
    assert math.isclose(tx0, WIDTH - tx1)
    assert frame.viewbox == f"0 0 {WIDTH:g} {HEIGHT:g}"


def test_a_point_inside_the_polygon_lands_inside_the_paths_bounds() -> None:
    frame = frame_for([SQUARE], [])
    assert frame is not None
    path = frame.path([SQUARE])
    assert path.startswith("M") and path.endswith("Z") and path.count("M") == 1
    xs, ys = zip(*numbers(path), strict=True)
    assert len(xs) == 4  # the closing point repeats the first and is left to Z
    spot = frame.spot(104.2117, 30.8115)
    assert not spot.outside
    assert min(xs) < spot.x < max(xs) and min(ys) < spot.y < max(ys)
    assert math.isclose(min(xs), MARGIN) or math.isclose(min(ys), MARGIN)  # the polygon fills the frame


def test_far_points_are_clamped_to_the_edge_and_flagged_near_ones_widen_the_frame() -> None:
    beijing = (116.4074, 39.9042)
    area = Bounds.around(SQUARE)
    frame = frame_for([SQUARE], [beijing])
    assert area is not None and frame is not None and frame.bounds == Frame.fit(area).bounds
    far = frame.spot(*beijing)
    assert far.outside and (far.x, far.y) == frame.xy(frame.bounds.east, frame.bounds.north)  # the north-east corner
    near = (104.2140, 30.8115)  # 55 m east of the square: inside its reach
    wider = frame_for([SQUARE], [near])
    assert wider is not None and wider.bounds.east >= near[0] and not wider.spot(*near).outside


def test_degenerate_input_gives_a_sensible_box_without_dividing_by_zero() -> None:
    assert frame_for([], []) is None
    single = frame_for([], [(104.0, 30.0)])
    same = frame_for([], [(104.0, 30.0)] * 5)
    sliver = frame_for([[(104.0, 30.0), (104.0, 30.001), (104.0, 30.0)]], [])  # a zero-width polygon
    for frame in (single, same, sliver):
        assert frame is not None and frame.scale > 0 and math.isfinite(frame.scale)
        span_ns = (frame.bounds.north - frame.bounds.south) * M_PER_DEG
        span_ew = (frame.bounds.east - frame.bounds.west) * M_PER_DEG * frame.kx
        assert min(span_ns, span_ew) >= MIN_SPAN_M - EPS
    assert single is not None and same is not None and single == same
    x, y = single.xy(104.0, 30.0)
    assert math.isclose(x, WIDTH / 2) and math.isclose(y, HEIGHT / 2)  # the lone point sits in the middle
    polar = Frame.fit(Bounds(10.0, 89.9, 10.0, 89.9))  # cos(latitude) is held away from zero
    assert polar.kx > 0 and math.isfinite(polar.scale)


def test_paths_drop_points_that_round_together_and_rings_too_small_to_draw() -> None:
    frame = Frame.fit(Bounds(104.0, 30.0, 104.01, 30.01))
    dense = [(104.0, 30.0), (104.0 + 1e-9, 30.0), (104.01, 30.0), (104.01, 30.01), (104.0, 30.0)]
    assert len(numbers(frame.path([dense]))) == 3
    speck = [(104.005, 30.005), (104.005 + 1e-9, 30.005), (104.005, 30.005 + 1e-9)]
    assert frame.path([speck]) == "" and frame.path([]) == ""
    hole = [(104.004, 30.004), (104.006, 30.004), (104.006, 30.006), (104.004, 30.004)]
    assert frame.path([dense, hole]).count("M") == 2


def test_crowded_spots_are_spread_round_their_middle_and_lone_ones_stay() -> None:
    frame = Frame.fit(Bounds(104.0, 30.0, 104.01, 30.01))
    lone, a, b, c = Spot(60, 60), Spot(200, 120), Spot(200, 120), Spot(210, 125, outside=True)
    out = spread([lone, a, b, c], 36, frame)
    assert out[0] == lone
    moved = out[1:]
    assert [s.home for s in moved] == [(200, 120), (200, 120), (210, 125)] and moved[2].outside
    for i, s in enumerate(moved):
        for t in moved[i + 1:]:
            assert math.dist((s.x, s.y), (t.x, t.y)) >= 36 - EPS
    middle = (sum(s.x for s in moved) / 3, sum(s.y for s in moved) / 3)
    assert math.isclose(middle[0], (200 + 200 + 210) / 3) and math.isclose(middle[1], (120 + 120 + 125) / 3)
    assert moved[0].y < middle[1]  # the first of a group goes on top
    corner = spread([Spot(MARGIN, MARGIN), Spot(MARGIN, MARGIN)], 36, frame)  # pushed apart but kept inside
    assert all(MARGIN <= s.x <= WIDTH - MARGIN and MARGIN <= s.y <= HEIGHT - MARGIN for s in corner)
    assert corner[0] != corner[1]


def test_geojson_polygons_and_multipolygons_give_their_rings() -> None:
    ring = [[104.0, 30.0, 500.0], [104.1, 30.0], [104.1, 30.1], [104.0, 30.0]]
    assert rings_of({"type": "Polygon", "coordinates": [ring]}) == [[(104.0, 30.0), (104.1, 30.0), (104.1, 30.1),
                                                                     (104.0, 30.0)]]
    multi = rings_of({"type": "MultiPolygon", "coordinates": [[ring], [ring, ring]]})
    assert len(multi) == 3
    assert rings_of(None) == [] and rings_of({"type": "Point", "coordinates": [104.0, 30.0]}) == []


def test_the_scale_bar_is_a_round_distance_that_fits() -> None:
    frame = frame_for([SQUARE], [])
    assert frame is not None
    metres, units = scale_bar(frame, 90)
    assert metres in {1, 2, 5, 10, 20, 50, 100, 200, 500} and 0 < units <= 90
    assert units > 90 / 2.5  # the next round step (at most 2.5 times longer) would not have fitted
    assert math.isclose(units * frame.metres_per_unit, metres)


lon = st.floats(min_value=-179.0, max_value=179.0, allow_nan=False)
lat = st.floats(min_value=-80.0, max_value=80.0, allow_nan=False)
offset = st.floats(min_value=-0.05, max_value=0.05, allow_nan=False)


@given(centre_lon=lon, centre_lat=lat, polygon=st.lists(st.tuples(offset, offset), max_size=8),
       points=st.lists(st.tuples(offset, offset), max_size=8), probes=st.lists(st.tuples(lon, lat), max_size=4))
def test_every_projected_point_lies_within_the_viewbox(centre_lon: float, centre_lat: float,
                                                      polygon: list[tuple[float, float]],
                                                      points: list[tuple[float, float]],
                                                      probes: list[tuple[float, float]]) -> None:
    ring = [(centre_lon + dx, centre_lat + dy) for dx, dy in polygon]
    near = [(centre_lon + dx, centre_lat + dy) for dx, dy in points]
    frame = frame_for([ring] if ring else [], near)
    if not ring and not near:
        assert frame is None
        return
    assert frame is not None
    for point in [*ring, *near, *probes]:
        spot = frame.spot(*point)
        assert MARGIN - EPS <= spot.x <= WIDTH - MARGIN + EPS and MARGIN - EPS <= spot.y <= HEIGHT - MARGIN + EPS
    for spot in spread([frame.spot(*p) for p in [*near, *probes]], 36, frame):
        assert MARGIN - EPS <= spot.x <= WIDTH - MARGIN + EPS and MARGIN - EPS <= spot.y <= HEIGHT - MARGIN + EPS
    for x, y in numbers(frame.path([ring])):
        assert -0.05 <= x <= WIDTH + 0.05 and -0.05 <= y <= HEIGHT + 0.05
