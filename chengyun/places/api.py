"""JSON endpoints of places: a readable address for a point (the grid worker's phone shows it under the GPS fix)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from chengyun.shared.geo import parse_coord_system
from chengyun.web.deps import AppContainer, CurrentPrincipal

router = APIRouter(prefix="/api/places", tags=["places"])


@router.get("/reverse", summary="What lies at a point: a readable address, the nearest known place, the area chain")
def reverse(_: CurrentPrincipal, container: AppContainer, lon: Annotated[float, Query(ge=-180, le=180)],
            lat: Annotated[float, Query(ge=-90, le=90)], crs: str = "wgs84") -> dict[str, Any]:
    found = container.places.reverse(lon, lat, parse_coord_system(crs))
    return {"lon": found.lon, "lat": found.lat, "address": found.address, "reason": found.reason,
            "place": found.place.name if found.place else None,
            "distance_m": round(found.distance_m, 1) if found.distance_m is not None else None,
            "areas": [{"code": a.code, "name": a.name, "level": a.level.value} for a in found.areas]}
