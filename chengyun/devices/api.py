"""JSON endpoints of devices: types for everyone signed in; scoped lists and details (phones masked); registration,
imports and new credentials for admins (tokens are shown in the answer once and never again)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from chengyun.devices.model import DeviceStatus
from chengyun.devices.service import MAX_IMPORT_BYTES
from chengyun.devices.tabular import MAX_CONTACTS
from chengyun.devices.views import type_json
from chengyun.errors import Invalid
from chengyun.web.deps import AppContainer, CurrentPrincipal

router = APIRouter(tags=["devices"])


class ContactIn(BaseModel):
    """Someone to notify about the resident: name, relation, mobile number."""

    name: str = Field(max_length=50)
    relation: str = Field("", max_length=20)
    phone: str = Field(max_length=30)


class DeviceIn(BaseModel):
    """One device, with the same fields as a row of an import file."""

    device_id: str = Field(max_length=64)
    type: str = Field(max_length=40)
    name: str = Field("", max_length=100)
    place: str = Field("", max_length=200, description="gazetteer code, or a place name or address")
    address: str = Field("", max_length=200)
    lon: float | None = None
    lat: float | None = None
    building: str = Field("", max_length=20)
    unit: str = Field("", max_length=20)
    room: str = Field("", max_length=20)
    resident_name: str = Field("", max_length=50)
    resident_phone: str = Field("", max_length=30)
    resident_address: str = Field("", max_length=200)
    resident_notes: str = Field("", max_length=500)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=MAX_CONTACTS)

    def fields(self) -> dict[str, str]:
        """The body as import columns (column → text)."""
        out = {k: "" if v is None else str(v) for k, v in self.model_dump(exclude={"contacts"}).items()}
        for n, contact in enumerate(self.contacts, start=1):
            out |= {f"contact{n}_name": contact.name, f"contact{n}_relation": contact.relation,
                    f"contact{n}_phone": contact.phone}
        return out


@router.get("/api/device-types", summary="Device types: properties with units and ranges, events, FIWARE mapping")
def device_types(principal: CurrentPrincipal, container: AppContainer) -> list[dict[str, Any]]:
    return [type_json(kind) for kind in container.devices.types().values()]


@router.get("/api/devices", summary="Devices inside your scope, filtered (type, status, area, text, household)")
def devices(principal: CurrentPrincipal, container: AppContainer, type: str | None = None,
            status: DeviceStatus | None = None, area_code: str | None = None,
            q: Annotated[str | None, Query(max_length=64)] = None,
            household: Annotated[str | None, Query(max_length=120)] = None,
            offset: Annotated[int, Query(ge=0)] = 0,
            limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    return container.devices.search(principal, type_code=type, status=status.value if status else None,
                                    area_code=area_code, q=q, household=household, offset=offset, limit=limit)


@router.get("/api/devices/{device_id}", summary="One device with its resident and contacts (phones masked)")
def device(device_id: str, principal: CurrentPrincipal, container: AppContainer) -> dict[str, Any]:
    return container.devices.get(principal, device_id)


@router.post("/api/devices", status_code=201, summary="Register a device (admins); its token is shown once")
def register(body: DeviceIn, principal: CurrentPrincipal, container: AppContainer) -> JSONResponse:
    device_json, token = container.devices.register(principal, body.fields())
    return JSONResponse({"device": device_json, "token": token}, status_code=201,
                        headers={"Cache-Control": "no-store"})


@router.post("/api/devices/import", summary="Import devices from CSV or Excel (admins; all or nothing, by device id)")
async def import_devices(principal: CurrentPrincipal, container: AppContainer,
                         file: UploadFile = File(...)) -> JSONResponse:
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise Invalid("devices.import.too_large", size=len(data), limit=MAX_IMPORT_BYTES)
    result = await run_in_threadpool(container.devices.import_principal, principal, data, file.filename or "upload")
    return JSONResponse({"created": result.created, "updated": result.updated, "unchanged": result.unchanged,
                         "tokens": result.tokens}, headers={"Cache-Control": "no-store"})


@router.post("/api/devices/{device_id}/token", summary="Issue a new credential (admins); the old one stops at once")
def reset_token(device_id: str, principal: CurrentPrincipal, container: AppContainer) -> JSONResponse:
    token = container.devices.reset_token(principal, device_id)
    return JSONResponse({"device_id": device_id, "token": token}, headers={"Cache-Control": "no-store"})
