"""JSON endpoints of linkage: runs, acknowledgements, the checklist, my in-app inbox and its live stream (SSE).

The stream (`GET /api/notifications/stream`) sends each new in-app notification of the signed-in user as a
server-sent event (`id` = notification id, `event: notification`). It polls the database by id every half second
— the ingest worker that stored the notification may be another process — and wakes at once when this process's
live hub says something arrived; `Last-Event-ID` (or `?after=`) resumes without loss.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from chengyun.linkage.service import LinkageService
from chengyun.linkage.views import as_json
from chengyun.web.deps import AppContainer, CurrentPrincipal

router = APIRouter(tags=["linkage"])
POLL_S = 0.5
KEEPALIVE_S = 15.0


def service(container: AppContainer) -> LinkageService:
    """The container's linkage service (one per process, built by the composition root)."""
    return container.linkage


Linkage = Annotated[LinkageService, Depends(service)]


class AckIn(BaseModel):
    """An acknowledgement with what the recipient confirms (e.g. 已到场，已关阀)."""

    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=500)


class CheckIn(BaseModel):
    """One checklist step ticked (or unticked)."""

    model_config = ConfigDict(extra="forbid")

    step: str = Field(max_length=40)
    done: bool = True


@router.get("/api/linkage/runs", summary="Linked responses in my scope (or sent to me), newest first")
def list_runs(principal: CurrentPrincipal, linkage: Linkage, alarm_id: int | None = None,
              state: Annotated[str | None, Query(max_length=16)] = None,
              limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[dict[str, Any]]:
    return [as_json(v) for v in linkage.runs(principal, alarm_id=alarm_id, state=state, limit=limit)]


@router.get("/api/linkage/runs/{run_id}", summary="One linked response: notifications with status, checklist")
def get_run(run_id: int, principal: CurrentPrincipal, linkage: Linkage) -> dict[str, Any]:
    return as_json(linkage.run(principal, run_id))


@router.get("/api/linkage/runs/{run_id}/deliveries", summary="Every delivery attempt of a run's notifications")
def get_deliveries(run_id: int, principal: CurrentPrincipal, linkage: Linkage) -> list[dict[str, Any]]:
    return [as_json(v) for v in linkage.deliveries(principal, run_id)]


@router.post("/api/linkage/notifications/{notification_id}/ack", summary="Acknowledge a notification")
def acknowledge(notification_id: int, body: AckIn, principal: CurrentPrincipal, linkage: Linkage) -> dict[str, Any]:
    return as_json(linkage.acknowledge(principal, notification_id, body.note))


@router.post("/api/linkage/runs/{run_id}/checklist", summary="Tick (or untick) a step of the run's checklist")
def check(run_id: int, body: CheckIn, principal: CurrentPrincipal, linkage: Linkage) -> dict[str, Any]:
    return as_json(linkage.check(principal, run_id, body.step, body.done))


@router.get("/api/notifications", summary="My in-app notifications, newest first")
def inbox(principal: CurrentPrincipal, linkage: Linkage, limit: Annotated[int, Query(ge=1, le=200)] = 50,
          before: int | None = None) -> list[dict[str, Any]]:
    return [as_json(v) for v in linkage.inbox(principal, limit=limit, before_id=before)]


@router.get("/api/notifications/stream", summary="My new in-app notifications as server-sent events")
async def stream(request: Request, principal: CurrentPrincipal, linkage: Linkage,
                 after: int | None = None) -> StreamingResponse:
    resume = request.headers.get("last-event-id", "")
    start = int(resume) if resume.isdigit() else after
    if start is None:
        start = await run_in_threadpool(linkage.latest_inbox_id, principal.user_id)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_events(request, linkage, principal.user_id, start), media_type="text/event-stream",
                             headers=headers)


async def _events(request: Request, linkage: LinkageService, user_id: int, last: int) -> AsyncIterator[str]:
    """`retry`, then each new notification as it is stored; a comment line now and then keeps proxies open."""
    yield "retry: 3000\n: connected\n\n"
    quiet = 0.0
    with linkage.hub.subscribe(user_id) as wake:
        while not await request.is_disconnected():
            items = await run_in_threadpool(linkage.inbox_since, user_id, last)
            for item in items:
                last = item.id
                yield f"id: {item.id}\nevent: notification\ndata: {json.dumps(as_json(item), ensure_ascii=False)}\n\n"
            quiet = 0.0 if items else quiet + POLL_S
            if quiet >= KEEPALIVE_S:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await wake.wait(POLL_S)
