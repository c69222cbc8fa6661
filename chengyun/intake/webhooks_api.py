"""Admin JSON endpoints of outbound webhooks (回传): register, list, the delivery log, retry, deactivate."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from chengyun.auth.model import Principal
from chengyun.auth.policy import Permission
from chengyun.intake.delivery import DeliveryState
from chengyun.intake.webhooks import DeliveryInfo, WebhookInfo, WebhookService
from chengyun.web.deps import AppContainer, requires

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])
Admin = Annotated[Principal, Depends(requires(Permission.WEBHOOKS_MANAGE))]


class NewWebhook(BaseModel):
    """A system's webhook; registering the same system again replaces its URL and secret."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field(max_length=40)
    url: str = Field(max_length=500)
    secret: str = Field(max_length=200, repr=False)


def service(container: AppContainer) -> WebhookService:
    """The webhook service of the composition root."""
    webhooks: WebhookService = container.webhooks
    return webhooks


Webhooks = Annotated[WebhookService, Depends(service)]


def webhook_json(info: WebhookInfo) -> dict[str, Any]:
    """A webhook as JSON (the secret is never part of it)."""
    return {**asdict(info), "created_at": info.created_at.isoformat()}


def delivery_json(info: DeliveryInfo) -> dict[str, Any]:
    """One delivery log entry as JSON."""
    data = asdict(info)
    for key in ("next_attempt_at", "created_at", "delivered_at"):
        data[key] = data[key].isoformat() if data[key] else None
    return data


@router.post("", summary="Register a system's webhook, or change its URL and secret (admins)")
def register(body: NewWebhook, admin: Admin, webhooks: Webhooks) -> dict[str, Any]:
    info = webhooks.register(body.system, body.url, body.secret, actor=admin.username, actor_id=admin.user_id)
    return webhook_json(info)


@router.get("", summary="Registered webhooks with their delivery counts (admins)")
def list_webhooks(_: Admin, webhooks: Webhooks) -> list[dict[str, Any]]:
    return [webhook_json(info) for info in webhooks.list()]


@router.get("/{system}/deliveries", summary="A system's delivery log, newest first (admins)")
def deliveries(system: str, _: Admin, webhooks: Webhooks, state: DeliveryState | None = None,
               limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    found = webhooks.deliveries(system, state=state.value if state else None, limit=limit)
    return [delivery_json(info) for info in found]


@router.post("/deliveries/{delivery_id}/retry", summary="Send a failed delivery again, with fresh attempts (admins)")
def retry(delivery_id: int, admin: Admin, webhooks: Webhooks) -> dict[str, Any]:
    return delivery_json(webhooks.retry(delivery_id, actor=admin.username, actor_id=admin.user_id))


@router.delete("/{system}", summary="Deactivate a system's webhook; its log is kept (admins)")
def deactivate(system: str, admin: Admin, webhooks: Webhooks) -> dict[str, Any]:
    return webhook_json(webhooks.deactivate(system, actor=admin.username, actor_id=admin.user_id))
