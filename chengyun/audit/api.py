"""Reading the audit log (admins and auditors)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from chengyun.auth.model import Principal
from chengyun.auth.policy import Permission
from chengyun.web.deps import AppContainer, requires

router = APIRouter(prefix="/api", tags=["audit"])


@router.get("/audit", summary="Audit events, newest first")
async def audit_events(container: AppContainer, action: str | None = None,
                       before_id: Annotated[int | None, Query(ge=1)] = None,
                       limit: Annotated[int, Query(ge=1, le=500)] = 100,
                       _: Principal = Depends(requires(Permission.AUDIT_READ))) -> list[dict[str, Any]]:
    rows = container.audit.recent(limit=limit, action=action, before_id=before_id)
    return [
        {"id": r.id, "at": r.at.isoformat(), "actor": r.actor, "actor_id": r.actor_id, "action": r.action,
         "outcome": r.outcome, "target": r.target, "detail": r.detail, "ip": r.ip}
        for r in rows
    ]
