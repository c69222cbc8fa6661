"""JSON endpoints of patrol: check in (Idempotency-Key: a retry stores nothing new) and list my check-ins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from chengyun.bootstrap import Container
from chengyun.errors import NotFound
from chengyun.patrol.service import CheckIn
from chengyun.patrol.tables import CheckinRow
from chengyun.shared.geo import parse_coord_system
from chengyun.web.deps import AppContainer, CurrentPrincipal

router = APIRouter(prefix="/api/patrol", tags=["patrol"])


class CheckInBody(BaseModel):
    """Where the phone is (WGS84 unless `crs` says otherwise), how sure it is, and an optional note."""

    lon: float
    lat: float
    accuracy_m: float | None = None
    crs: str = Field("wgs84", max_length=10)
    note: str = Field("", max_length=1000)


def area_name(container: Container, code: str | None) -> str:
    """The name of the area a check-in was located in ('' outside every area; names are public facts)."""
    if not code:
        return ""
    try:
        return container.areas.chain(code)[-1].name
    except NotFound:
        return code


def checkin_json(container: Container, row: CheckinRow) -> dict[str, Any]:
    """A check-in as the API shows it."""
    return {"id": row.id, "lon": row.lon, "lat": row.lat, "area_code": row.area_code,
            "area_name": area_name(container, row.area_code), "accuracy_m": row.accuracy_m,
            "at": row.at.isoformat(), "note": row.note}


@router.post("/checkins", summary="Check in here and now (grid workers); a repeated Idempotency-Key answers the first")
def check_in(body: CheckInBody, principal: CurrentPrincipal, container: AppContainer,
             idempotency_key: Annotated[str | None, Header(max_length=100)] = None) -> JSONResponse:
    row, created = container.patrol.check_in(principal, CheckIn(
        body.lon, body.lat, body.accuracy_m, body.note, parse_coord_system(body.crs), idempotency_key))
    return JSONResponse({**checkin_json(container, row), "outcome": "created" if created else "duplicate"},
                        status_code=201 if created else 200)


@router.get("/checkins", summary="My latest check-ins, newest first")
def my_checkins(principal: CurrentPrincipal, container: AppContainer, limit: int = 10) -> dict[str, Any]:
    return {"items": [checkin_json(container, r) for r in container.patrol.recent(principal, limit)]}
