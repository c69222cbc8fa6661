"""The demo street's roads and points of interest, derived deterministically from its stored areas and compounds.

Pure. A road runs along the compounds whose address is on it (their principal axis, clipped to the street), so
addresses and the map agree; points of interest (the street office, schools, clinics, markets, parks, each
community's party-mass service centre) lie at seeded points inside their community, and so do the emergency
resources the big screen shows (micro fire stations, hydrants, AEDs, shelters, a supplies depot, rain outfalls).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, shape

from chengyun.demo import names
from chengyun.places import PlaceDraft

ROAD_MARGIN_DEG = 0.001  # a road runs a little past its first and last addressed compound

# code, name, category, community (short name), aliases
POIS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("poi-street-office", "大弯街道办事处", "office", "大弯社区", ("大弯街道办", "街道办")),
    ("poi-ops-center", "大弯街道城运中心", "office", "大弯社区", ()),
    ("poi-health-center", "大弯街道社区卫生服务中心", "clinic", "大弯社区", ("大弯卫生院",)),
    ("poi-clinic-shijianian", "石家碾社区卫生服务站", "clinic", "石家碾社区", ()),
    ("poi-clinic-hongyang", "红阳社区卫生服务站", "clinic", "红阳社区", ()),
    ("poi-middle-school", "大弯中学", "school", "大弯社区", ()),
    ("poi-primary-school", "大弯小学", "school", "团结路社区", ()),
    ("poi-kindergarten", "怡湖幼儿园", "school", "怡湖社区", ()),
    ("poi-market-dawan", "大弯农贸市场", "market", "广场社区", ("大弯菜市场",)),
    ("poi-market-tuanjie", "团结路菜市场", "market", "团结路社区", ()),
    ("poi-market-fenghuang", "凤凰湖农贸市场", "market", "凤凰湖社区", ()),
    ("poi-park-fenghuang", "凤凰湖湿地公园", "park", "凤凰湖社区", ("凤凰湖公园",)),
    ("poi-park-yihu", "怡湖公园", "park", "怡湖社区", ()),
    ("poi-square-huayan", "华严广场", "park", "华严社区", ()),
    ("poi-police", "大弯派出所", "police", "大弯社区", ()),
    ("poi-fire", "大弯消防救援站", "fire", "化工路社区", ()),
)

# emergency resources (category codes: the screen's resource layer); street-wide ones: code, name, category, home
RESOURCES: tuple[tuple[str, str, str, str], ...] = (
    ("res-shelter-fenghuang", "凤凰湖湿地公园应急避难场所", "shelter", "凤凰湖社区"),
    ("res-shelter-yihu", "怡湖公园应急避难场所", "shelter", "怡湖社区"),
    ("res-shelter-huayan", "华严广场应急避难场所", "shelter", "华严社区"),
    ("res-supplies-street", "大弯街道应急物资储备库", "supplies", "大弯社区"),
    ("res-outfall-01", "雨水排口DW-01", "outfall", "凤凰湖社区"),
    ("res-outfall-02", "雨水排口DW-02", "outfall", "凤凰湖社区"),
    ("res-outfall-03", "雨水排口DW-03", "outfall", "化工路社区"),
    ("res-outfall-04", "雨水排口DW-04", "outfall", "石家碾社区"),
)
HYDRANTS_PER_COMMUNITY = 2


@dataclass(frozen=True, slots=True)
class Community:
    """A stored community: code, name and polygon (GeoJSON, WGS84)."""

    code: str
    name: str
    geometry: dict[str, Any]


def demo_places(communities: Sequence[Community], compounds: Sequence[tuple[str, float, float]],
                street: dict[str, Any], seed: int = 2026) -> tuple[PlaceDraft, ...]:
    """Roads (from names.ROADS) and POIs for the street; `compounds` are (address, lon, lat)."""
    rng = np.random.default_rng(seed)
    outline = shape(street)
    drafts = [d for i, road in enumerate(names.ROADS) if (d := _road(i, road, compounds, outline, rng))]
    by_name = {c.name: c for c in communities}
    for code, name, category, home, aliases in POIS:
        if home in by_name:
            drafts.append(_poi(len(drafts), code, name, category, by_name[home], aliases, rng))
    for community in communities:
        drafts.append(_poi(len(drafts), f"poi-centre-{community.code}", f"{community.name}党群服务中心",
                           "community_centre", community, (f"{community.name}居委会",), rng))
    drafts += _resources(len(drafts), communities, by_name, rng)
    return tuple(drafts)


def _resources(start: int, communities: Sequence[Community], by_name: dict[str, Community],
               rng: np.random.Generator) -> list[PlaceDraft]:
    """Each community's micro fire station, AED and hydrants, then the street-wide shelters, depot and outfalls."""
    specs = []
    for community in communities:
        specs.append((f"res-mfs-{community.code}", f"{community.name}微型消防站", "micro_fire_station", community))
        specs.append((f"res-aed-{community.code}", f"AED（{community.name}党群服务中心）", "aed", community))
        specs += [(f"res-hydrant-{community.code}-{n}", f"消防栓DW-{community.code[-3:]}-{n}", "fire_hydrant",
                   community) for n in range(1, HYDRANTS_PER_COMMUNITY + 1)]
    specs += [(code, name, category, by_name[home]) for code, name, category, home in RESOURCES if home in by_name]
    return [_poi(start + i, code, name, category, community, (), rng)
            for i, (code, name, category, community) in enumerate(specs)]


def _road(index: int, road: str, compounds: Sequence[tuple[str, float, float]], outline: shapely.Geometry,
          rng: np.random.Generator) -> PlaceDraft | None:
    pattern = re.compile(re.escape(road) + r"\d")
    points = np.array([(lon, lat) for address, lon, lat in compounds if pattern.search(address)], dtype=float)
    if len(points) >= 2:
        centre = points.mean(axis=0)
        direction = np.linalg.svd(points - centre)[2][0]
        along = (points - centre) @ direction
        ends = [centre + direction * (along.min() - ROAD_MARGIN_DEG),
                centre + direction * (along.max() + ROAD_MARGIN_DEG)]
    else:
        centre = np.array(shapely.get_coordinates(outline.representative_point())[0])
        angle = rng.uniform(0, np.pi)
        direction = np.array([np.cos(angle), np.sin(angle)])
        ends = [centre - direction * 0.01, centre + direction * 0.01]
    course = outline.intersection(LineString([tuple(e) for e in ends]))
    parts = [course] if isinstance(course, LineString) else list(getattr(course, "geoms", []))
    longest = max((p for p in parts if isinstance(p, LineString) and not p.is_empty), key=lambda p: p.length,
                  default=None)
    if longest is None:
        return None
    line = tuple((round(x, 7), round(y, 7)) for x, y in shapely.get_coordinates(longest).tolist())
    mid = longest.interpolate(0.5, normalized=True)
    return PlaceDraft(index + 1, f"road-{index + 1:02d}", "road", road, "road", round(mid.x, 7), round(mid.y, 7),
                      f"{names.ADDRESS_PREFIX}{road}", (), line)


def _poi(index: int, code: str, name: str, category: str, community: Community, aliases: tuple[str, ...],
         rng: np.random.Generator) -> PlaceDraft:
    polygon = shape(community.geometry)
    inner = polygon.buffer(-0.0003) if polygon.buffer(-0.0003).area > 0 else polygon
    minx, miny, maxx, maxy = inner.bounds
    while True:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(inner, lon, lat):
            break
    return PlaceDraft(index + 1, code, "poi", name, category, round(float(lon), 7), round(float(lat), 7),
                      f"{names.ADDRESS_PREFIX}大弯街道{community.name}", aliases, ())
