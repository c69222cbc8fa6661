"""JSON endpoints of the duty list: read the stored rules, replace them from a file (admins only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, UploadFile

from chengyun.auth.model import Principal
from chengyun.auth.policy import Permission
from chengyun.errors import Invalid
from chengyun.routing.model import DutyRule
from chengyun.web.deps import AppContainer, CurrentPrincipal, requires

router = APIRouter(prefix="/api/duty", tags=["duty list"])
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def rule_json(rule: DutyRule) -> dict[str, Any]:
    """One rule as the API shows it; `id` is its row in the imported file."""
    return {"id": rule.id, "category": rule.category_code, "area_level": rule.area_level.value,
            "area": rule.area_code, "handling_level": rule.handling_level.value, "lead_unit": rule.lead_unit,
            "assist_units": list(rule.assist_units),
            "response_limit": str(rule.response_limit) if rule.response_limit else None,
            "handling_limit": str(rule.handling_limit) if rule.handling_limit else None}


@router.get("", summary="The stored duty list (权责清单)")
def list_rules(principal: CurrentPrincipal, container: AppContainer) -> list[dict[str, Any]]:
    return [rule_json(r) for r in container.duty.rules()]


@router.post("/import", summary="Replace the duty list with a CSV or .xlsx file (all or nothing)")
def import_rules(container: AppContainer, file: UploadFile = File(...),
                 admin: Principal = Depends(requires(Permission.DUTY_MANAGE))) -> dict[str, int]:
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise Invalid("routing.import.too_large", size=len(data), limit=MAX_UPLOAD_BYTES)
    count = container.duty.import_bytes(data, filename=file.filename or "upload.csv", actor=admin.username,
                                        actor_id=admin.user_id)
    return {"rules": count}
