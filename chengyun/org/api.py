"""JSON endpoints of the unit and people directory (scoped; phones masked, reveals audited)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from chengyun.auth.model import Principal
from chengyun.auth.policy import Permission
from chengyun.org.model import PersonKind
from chengyun.web.deps import AppContainer, client_ip, requires

router = APIRouter(prefix="/api/org", tags=["org"])
Reader = Annotated[Principal, Depends(requires(Permission.ORG_READ))]


class RevealIn(BaseModel):
    """Why the caller needs the plain number (kept in the audit log)."""

    reason: str = Field(min_length=2, max_length=200)


@router.get("/units", summary="Units inside your scope")
async def units(principal: Reader, container: AppContainer) -> list[dict[str, Any]]:
    return container.org.units(principal)


@router.get("/people", summary="People assigned inside your scope (phones masked)")
async def people(principal: Reader, container: AppContainer, area_code: str | None = None,
                 kind: PersonKind | None = None, offset: Annotated[int, Query(ge=0)] = 0,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    return container.org.people(principal, area_code=area_code, kind=kind.value if kind else None,
                                offset=offset, limit=limit)


@router.post("/people/{person_id}/reveal-phone", summary="Reveal a phone number (audited)")
async def reveal_phone(person_id: int, body: RevealIn, request: Request, container: AppContainer,
                       principal: Principal = Depends(requires(Permission.CONTACT_REVEAL))) -> dict[str, str]:
    phone = container.org.reveal_phone(principal, person_id, reason=body.reason, ip=client_ip(request))
    return {"phone": phone}
