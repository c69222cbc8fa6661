"""The console's device page (设备): what one device is, where, its state and its alarms — the big screen's device
points open it in one click."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from chengyun.alarms.queries import AlarmFilter
from chengyun.errors import NotFound
from chengyun.web.deps import AppContainer, CurrentPrincipal, get_locale
from chengyun.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)
ALARMS_SHOWN = 20


@router.get("/devices/{device_id}", response_class=HTMLResponse)
def device_page(device_id: str, request: Request, principal: CurrentPrincipal, container: AppContainer) -> Response:
    """One device in scope: type, status, place and household, the resident in care (masked), its latest alarms."""
    device = container.devices.get(principal, device_id)
    total, alarms = container.alarms.search(principal, AlarmFilter(device_id=device_id, limit=ALARMS_SHOWN))
    locale = get_locale(request)
    context: dict[str, Any] = {
        "d": device, "chain": _chain(container, device["area_code"]), "alarms": alarms, "alarm_total": total,
        "type_name": _type_name(container, device["type"], locale),
        "alarm_names": {r.alarm_type: _alarm_name(container, r.alarm_type, locale) for r in alarms}}
    return render(request, "device_detail.html", context)


def _chain(container: AppContainer, code: str) -> list[tuple[str, str]]:
    try:
        return [(ref.code, ref.name) for ref in container.areas.chain(code)]
    except NotFound:
        return [(code, code)]


def _type_name(container: AppContainer, code: str, locale: str) -> str:
    kind = container.devices.types().get(code)
    return kind.name(locale) if kind is not None else code


def _alarm_name(container: AppContainer, code: str, locale: str) -> str:
    kind = container.alarms.types.get(code)
    return kind.name(locale) if kind is not None else code
