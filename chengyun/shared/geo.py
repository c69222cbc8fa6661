"""Coordinate systems of Chinese maps: everything is converted to WGS84 before it is stored."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

import prcoords

from chengyun.errors import Invalid

LonLat = tuple[float, float]


class CoordSystem(StrEnum):
    """The datum a coordinate was captured in: phones give WGS84, AMap/Tencent GCJ-02, Baidu BD-09."""

    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def _prc(fn: Callable[[Any], Any]) -> Callable[[float, float], LonLat]:
    def convert(lon: float, lat: float) -> LonLat:
        out = fn(prcoords.Coords(lat, lon))
        return (float(out.lon), float(out.lat))

    return convert


_TO_WGS84: dict[CoordSystem, Callable[[float, float], LonLat]] = {
    CoordSystem.WGS84: lambda lon, lat: (lon, lat),
    # the "bored" variants iterate the inverse to sub-centimetre precision
    CoordSystem.GCJ02: _prc(prcoords.gcj_wgs_bored),
    CoordSystem.BD09: _prc(prcoords.bd_wgs_bored),
}


def parse_coord_system(value: str) -> CoordSystem:
    """Accept the common spellings (wgs84, gcj02, gcj-02, bd09, bd-09) or raise a precise error."""
    normalised = value.strip().lower().replace("-", "").replace("_", "")
    try:
        return CoordSystem(normalised)
    except ValueError:
        raise Invalid("geo.unknown_coord_system", value=value, allowed="wgs84, gcj02, bd09") from None


def to_wgs84(lon: float, lat: float, source: CoordSystem) -> LonLat:
    """Convert one point to WGS84."""
    check_lon_lat(lon, lat)
    return _TO_WGS84[source](lon, lat)


def ring_to_wgs84(ring: Sequence[Sequence[float]], source: CoordSystem) -> list[LonLat]:
    """Convert a ring of [lon, lat] pairs to WGS84."""
    convert = _TO_WGS84[source]
    return [convert(float(p[0]), float(p[1])) for p in ring]


def check_lon_lat(lon: float, lat: float) -> None:
    """Refuse coordinates that are not on the Earth (swapped or garbage values)."""
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise Invalid("geo.out_of_range", lon=lon, lat=lat)
