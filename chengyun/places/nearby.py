"""Reverse geocoding's search: the nearest known place to a point, in metres, via shapely STRtrees. Pure.

Coordinates are projected onto a local plane (equirectangular at the gazetteer's mean latitude): over a street
or district the error is far below a GPS fix's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from chengyun.areas.model import AreaRef
from chengyun.places.model import GazetteerEntry, PlaceKind

POINT_REACH_M = 300.0  # a compound, building or POI farther than this is not "near"
ROAD_REACH_M = 150.0
PREFER_POINT_M = 60.0  # a point place this close wins over a closer road
AT_M = 15.0  # closer than this the address is the place itself, not 附近
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON_EQUATOR = 111_320.0


@dataclass(frozen=True, slots=True)
class ReverseGeocoded:
    """What lies at a WGS84 point: its area chain (root first; empty outside every area), the nearest known
    place within reach (None if none) and its distance, the compound of a building, and a readable address."""

    lon: float
    lat: float
    areas: tuple[AreaRef, ...]
    place: GazetteerEntry | None
    distance_m: float | None
    compound: GazetteerEntry | None
    address: str
    reason: str | None = None  # places.outside: the point lies outside every area


class NearbyIndex:
    """Point places (compounds, buildings, POIs) and roads (as lines), each in its own tree."""

    def __init__(self, entries: Sequence[GazetteerEntry]) -> None:
        lats = [e.lat for e in entries] or [30.0]
        self._cos = math.cos(math.radians(float(np.mean(lats))))
        self._points = [e for e in entries if e.kind is not PlaceKind.ROAD]
        self._roads = [e for e in entries if e.kind is PlaceKind.ROAD]
        self._point_tree = shapely.STRtree([shapely.Point(self._xy(e.lon, e.lat)) for e in self._points])
        self._road_tree = shapely.STRtree([self._road_shape(e) for e in self._roads])

    def _xy(self, lon: float, lat: float) -> tuple[float, float]:
        return lon * M_PER_DEG_LON_EQUATOR * self._cos, lat * M_PER_DEG_LAT

    def _road_shape(self, entry: GazetteerEntry) -> shapely.Geometry:
        if len(entry.line) >= 2:
            return shapely.LineString([self._xy(lon, lat) for lon, lat in entry.line])
        return shapely.Point(self._xy(entry.lon, entry.lat))

    def nearest(self, lon: float, lat: float) -> tuple[GazetteerEntry, float] | None:
        """The nearest place within reach and its distance in metres; a near point place beats a road."""
        here = shapely.Point(self._xy(lon, lat))
        point = _nearest(self._point_tree, self._points, here, POINT_REACH_M)
        road = _nearest(self._road_tree, self._roads, here, ROAD_REACH_M)
        if point is None or road is None:
            return point or road
        return point if point[1] <= PREFER_POINT_M or point[1] <= road[1] else road


def _nearest(tree: shapely.STRtree, entries: Sequence[GazetteerEntry], here: shapely.Point,
             reach: float) -> tuple[GazetteerEntry, float] | None:
    if not entries:
        return None
    items, distances = tree.query_nearest(here, max_distance=reach, return_distance=True)
    if len(items) == 0:
        return None
    best = min(zip(items.tolist(), distances.tolist(), strict=True),
               key=lambda pair: (pair[1], _rank(entries[pair[0]]), entries[pair[0]].code))
    return entries[best[0]], float(best[1])


def _rank(entry: GazetteerEntry) -> int:
    """On equal distance a compound names the place better than one of its buildings."""
    return {PlaceKind.COMPOUND: 0, PlaceKind.BUILDING: 1, PlaceKind.POI: 2, PlaceKind.ROAD: 3}[entry.kind]


def readable_address(areas: Sequence[AreaRef], place: GazetteerEntry | None, distance_m: float | None) -> str:
    """青白江区大弯街道怡湖社区 怡湖苑3栋附近: district, street and community, then the place (附近 unless at it)."""
    head = "".join(ref.name for ref in areas if ref.level.value in ("district", "street", "community"))
    if place is None:
        return head
    near = "" if distance_m is not None and distance_m <= AT_M else "附近"
    return f"{head} {place.name}{near}".strip()
