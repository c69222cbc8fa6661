"""HTTP ingestion: `POST /api/ingest/{device_type}/{device_id}/{kind}` with the device's JSON payload (its token
inside, as over MQTT). 202 when accepted (or a duplicate already processed); 400/401/404 with the precise code
when refused (the message is also quarantined); 413 over 64 KB; 503 when storage or the broker is unavailable."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from chengyun.errors import DomainError, TooLarge, Unavailable
from chengyun.ingest.gateway import Gateway, NullEngine, mqtt_forward
from chengyun.ingest.model import (
    BAD_CREDENTIAL,
    ENGINE_FAILED,
    INTERNAL,
    NO_CREDENTIAL,
    SHED,
    UNKNOWN_DEVICE,
    Outcome,
    Status,
)
from chengyun.web.deps import get_locale
from chengyun.web.errors import error_body

router = APIRouter(prefix="/api/ingest", tags=["ingest"])
log = logging.getLogger("chengyun.ingest")
MAX_BODY = 64 * 1024
_BUILD = threading.Lock()
STATUS_OF_CODE = {UNKNOWN_DEVICE: 404, NO_CREDENTIAL: 401, BAD_CREDENTIAL: 401, INTERNAL: 500, ENGINE_FAILED: 500,
                  SHED: 503}


def gateway_of(app: FastAPI) -> Gateway:
    """This app's gateway (`app.state.ingest_gateway` when the composition root set one; else built once)."""
    gateway: Gateway | None = getattr(app.state, "ingest_gateway", None)
    if gateway is not None:
        return gateway
    with _BUILD:
        gateway = getattr(app.state, "ingest_gateway", None)
        if gateway is None:
            gateway = app.state.ingest_gateway = app.state.container.ingest_gateway()
        return gateway


def build_gateway(container: Any) -> Gateway:
    """In-process pipeline without a broker; with `CHENGYUN_MQTT_URL`, check here and forward to the workers."""
    from chengyun.ingest.service import make_pipeline

    url = container.settings.mqtt_url
    refresh = container.devices.directory
    if not url:
        return Gateway(make_pipeline(container, worker_id="http"), refresh=refresh)
    forward = mqtt_forward(url, client_id=f"chengyun-http-{os.getpid()}")
    return Gateway(make_pipeline(container, worker_id="http", engine=NullEngine()), forward, refresh)


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise TooLarge("ingest.body_too_large", limit=MAX_BODY)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge("ingest.body_too_large", limit=MAX_BODY)
        chunks.append(chunk)
    return b"".join(chunks)


def answer(outcome: Outcome, locale: str) -> JSONResponse:
    """The HTTP answer of an outcome: 202 with the status, or the error shape with a precise status code."""
    if outcome.status in (Status.ACCEPTED, Status.DUPLICATE):
        return JSONResponse({"status": outcome.status.value, "transitions": len(outcome.transitions)},
                            status_code=202)
    status = STATUS_OF_CODE.get(outcome.code, 400)
    return JSONResponse(error_body(outcome.code, dict(outcome.params), locale), status_code=status)


@router.post("/{device_type}/{device_id}/{kind}", status_code=202,
             summary="A device message over HTTP (same JSON payload and checks as MQTT)")
async def ingest(device_type: str, device_id: str, kind: str, request: Request) -> JSONResponse:
    body = await _body(request)
    gateway = await run_in_threadpool(gateway_of, request.app)
    topic = f"chengyun/{device_type}/{device_id}/{kind}"
    try:
        outcome = await run_in_threadpool(gateway.submit, topic, body, time.time())
    except DomainError:
        raise
    except Exception:  # storage down: the device should retry (a retry is idempotent)
        log.exception("HTTP ingest could not store a message")
        raise Unavailable("ingest.busy") from None
    return answer(outcome, get_locale(request))
