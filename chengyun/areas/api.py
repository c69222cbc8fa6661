"""JSON endpoints of the area tree: read within scope, locate a point, import files (admins)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile

from chengyun.areas.model import AreaRef, parse_level
from chengyun.areas.parsing import CsvOptions, GeoJsonOptions
from chengyun.areas.tables import AreaRow
from chengyun.auth.model import Principal
from chengyun.auth.policy import Permission
from chengyun.errors import Invalid
from chengyun.shared.geo import parse_coord_system
from chengyun.web.deps import AppContainer, CurrentPrincipal, requires

router = APIRouter(prefix="/api", tags=["areas"])
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def ref_json(ref: AreaRef) -> dict[str, str]:
    """An area reference as JSON."""
    return {"code": ref.code, "name": ref.name, "level": ref.level.value}


def area_json(row: AreaRow) -> dict[str, Any]:
    """An area without its polygon."""
    return {"code": row.code, "name": row.name, "level": row.level, "parent_code": row.parent_code,
            "center": [row.center_lon, row.center_lat] if row.center_lon is not None else None,
            "has_geometry": row.geometry is not None}


@router.get("/areas/{code}", summary="One area inside your scope, with its chain")
async def get_area(code: str, principal: CurrentPrincipal, container: AppContainer) -> dict[str, Any]:
    row = container.areas.get(principal, code)
    return {**area_json(row), "chain": [ref_json(r) for r in container.areas.chain(code)]}


@router.get("/areas/{code}/children", summary="Direct children of an area inside your scope")
async def get_children(code: str, principal: CurrentPrincipal, container: AppContainer) -> list[dict[str, Any]]:
    return [area_json(r) for r in container.areas.children(principal, code)]


@router.get("/areas/{code}/map", summary="GeoJSON of the area and its children (WGS84)")
async def get_map(code: str, principal: CurrentPrincipal, container: AppContainer) -> dict[str, Any]:
    return container.areas.map_features(principal, code)


@router.get("/locate", summary="Smallest area containing a point, with the whole chain")
async def locate(principal: CurrentPrincipal, container: AppContainer,
                 lon: Annotated[float, Query(ge=-180, le=180)], lat: Annotated[float, Query(ge=-90, le=90)],
                 crs: str = "wgs84") -> dict[str, Any]:
    chain = container.areas.locate(lon, lat, parse_coord_system(crs), principal)
    return {"code": chain[-1].code, "chain": [ref_json(r) for r in chain]}


@router.post("/areas/import", summary="Import areas from GeoJSON or a division-code CSV (all or nothing)")
async def import_areas(
    container: AppContainer,
    file: UploadFile = File(...),
    format: Literal["geojson", "csv"] = Form("geojson"),
    crs: str = Form("wgs84"),
    level: str | None = Form(None),
    code_field: str = Form("code"),
    name_field: str = Form("name"),
    parent_field: str = Form("parent"),
    admin: Principal = Depends(requires(Permission.AREAS_IMPORT)),
) -> dict[str, int]:
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise Invalid("areas.import.too_large", size=len(data), limit=MAX_UPLOAD_BYTES)
    forced = parse_level(level) if level else None
    source = parse_coord_system(crs)
    options = (
        GeoJsonOptions(code_prop=code_field, name_prop=name_field, parent_prop=parent_field, level=forced,
                       source_crs=source)
        if format == "geojson"
        else CsvOptions(code_col=code_field, name_col=name_field, parent_col=parent_field or None,
                        level=forced, source_crs=source)
    )
    result = container.areas.import_bytes(admin, data, options, source_name=file.filename or "upload")
    return {"created": result.created, "updated": result.updated}
