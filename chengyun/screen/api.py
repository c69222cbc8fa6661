"""JSON and server-sent-events endpoints of the big screen: panels, map, layers, the live stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from chengyun.bootstrap import Container
from chengyun.errors import NotFound
from chengyun.i18n import translate
from chengyun.screen.live import Subscription
from chengyun.screen.model import Cursor, Event, LayerPoint
from chengyun.screen.panels import Kind, Panel, layer, panel
from chengyun.screen.service import Focus
from chengyun.screen.sources import TAILS
from chengyun.web.deps import AppContainer, CurrentPrincipal, Locale

router = APIRouter(prefix="/api/screen", tags=["screen"])
RETRY_MS = 1000  # how soon a browser reconnects after the stream broke (EventSource `retry:`)
HEARTBEAT_S = 15.0
AreaCode = Annotated[str | None, Query(max_length=20, description="focus area code; default: your scope's area")]


class Names:
    """Labels for panel keys, event codes and area codes in one locale."""

    def __init__(self, container: Container, locale: str) -> None:
        self.container, self.locale = container, locale
        self._categories: dict[str, str] | None = None

    def t(self, code: str) -> str:
        """A translated label."""
        return translate(code, self.locale)

    def area(self, code: str | None) -> str:
        """An area's name ('' for none)."""
        if not code:
            return ""
        try:
            return self.container.areas.chain(code)[-1].name
        except NotFound:
            return code

    def key(self, labels: str | None, key: str) -> str:
        """The label of a chart key: a category, an area, or a translation under the `labels` prefix."""
        if labels == "category":
            if self._categories is None:
                self._categories = {c.code: c.name for c in self.container.categories.catalogue()}
            return self._categories.get(key, key)
        if labels == "area":
            return self.area(key)
        if labels == "alarm_type":
            kind = self.container.alarms.types.get(key)
            return kind.name(self.locale) if kind is not None else key
        if labels == "device_type":
            device = self.container.devices.types().get(key)
            return device.name(self.locale) if device is not None else key
        return self.t(labels + key) if labels else key


def focus_json(focus: Focus) -> dict[str, Any]:
    """The focus with its breadcrumb chain."""
    return {"code": focus.code, "name": focus.name, "level": focus.level,
            "chain": [{"code": c, "name": n, "level": lv} for c, n, lv in focus.chain]}


def event_json(event: Event, names: Names, tz: Any) -> dict[str, Any]:
    """A live event as the page shows it (labels in the viewer's locale, local time: the date unless today), with
    the point it puts on (or takes off, `cls` null) its map layer."""
    local = event.at.astimezone(tz)
    today = names.container.clock.now().astimezone(tz).date()
    shown = f"{local:%H:%M:%S}" if local.date() == today else f"{local:%m-%d %H:%M}"
    out = {"key": event.key, "kind": event.kind, "at": local.isoformat(), "time": shown, "number": event.number,
           "area_path": event.area_path, "community": names.area(event.community_code), "lon": event.lon,
           "lat": event.lat, "cls": event.cls, "layer": event.layer, "point_id": event.point_id, "rank": event.rank,
           "action": event.action, "from_state": event.from_state, "state": event.state}
    if event.kind.startswith("alarm."):
        severity = event.data.get("severity", "")
        return {**out, "title": names.key("alarm_type", event.title), "action_label": names.t(
            f"alarms.event.{event.action}"), "state_label": names.t(f"alarms.severity.{severity}"),
            "link": f"/alarms/{event.point_id}", "severity": severity}
    source = event.data.get("source", "")
    return {**out, "title": event.title,
            "state_label": names.t(f"cases.state.{event.state}") if event.state else "",
            "action_label": names.t(f"cases.action.{event.action}") if event.action else names.t("screen.feed.new"),
            "link": f"/cases/{event.number}" if event.number else None,
            "source": source, "source_label": names.t(f"pages.cases.sources.{source}") if source else ""}


def panel_json(p: Panel, value: Any, names: Names, tz: Any) -> dict[str, Any]:
    """One panel's figures: a number, labelled items, labelled series over x, table rows, or feed events."""
    out: dict[str, Any] = {"kind": p.kind.value, "format": p.format.value}
    if p.kind == Kind.NUMBER:
        out["value"] = value
    elif p.kind == Kind.FEED:
        out["events"] = [event_json(e, names, tz) for e in value]
    elif p.kind == Kind.TABLE:
        out["rows"] = [{**row, "place": names.area(row.get("place"))} for row in value]
    elif isinstance(value, tuple):  # (x, [(key, values)]): a chart over days
        x, series = value
        out["x"] = list(x)
        out["series"] = [{"key": k, "label": names.key(p.labels, k), "values": list(v)} for k, v in series]
    else:
        out["items"] = [{"key": k, "label": names.key(p.labels, k), "value": v} for k, v in value]
    return out


def points_json(points: list[LayerPoint], names: Names, labels: str | None) -> list[list[Any]]:
    """Layer points as compact rows: lon, lat (to ~0.1 m), id, label, class, rank, link (null: the layer's), and
    how many objects the point stands for (0: itself; >0: an area's bucket, labelled with its counts)."""
    named: dict[str, str] = {}
    if labels:
        named = {label: names.key(labels, label) for label in {p.label for p in points if not p.count}}
    return [[round(p.lon, 6), round(p.lat, 6), p.id,
             _bucket_label(p, names) if p.count else named.get(p.label, p.label), p.cls, p.rank, p.link, p.count]
            for p in points]


def _bucket_label(point: LayerPoint, names: Names) -> str:
    """'怡湖社区第3网格 · 812 台（告警 2 · 离线 31）' in the viewer's locale."""
    tally = dict(point.tally)
    return translate("screen.bucket", names.locale, area=names.area(point.id), count=point.count,
                     alarm=tally.get("alarm", 0), offline=tally.get("offline", 0))


@router.get("/panels", summary="The big screen's panels (all, or `ids`) for a focus area inside your scope")
def get_panels(principal: CurrentPrincipal, container: AppContainer, locale: Locale, area: AreaCode = None,
               ids: Annotated[str | None, Query(max_length=500, description="comma-separated panel ids")] = None,
               ) -> dict[str, Any]:
    focus = container.screen.focus(principal, area)
    wanted = [i for i in ids.split(",") if i] if ids else None
    values = container.screen.panels(principal, focus, wanted)
    names, tz = Names(container, locale), container.settings.tz
    return {"focus": focus_json(focus),
            "panels": {pid: panel_json(panel(pid), value, names, tz) for pid, value in values.items()}}


@router.get("/map", summary="The focus area's children as regions and grandchildren as outlines (GeoJSON, WGS84)")
def get_map(principal: CurrentPrincipal, container: AppContainer, area: AreaCode = None) -> dict[str, Any]:
    focus = container.screen.focus(principal, area)
    return {"focus": focus_json(focus), **container.screen.map(focus)}


@router.get("/layers/{layer_id}", summary="The points of one map layer in the focus area")
def get_layer(layer_id: str, principal: CurrentPrincipal, container: AppContainer, locale: Locale,
              area: AreaCode = None) -> dict[str, Any]:
    focus = container.screen.focus(principal, area)
    points = container.screen.layer(principal, focus, layer_id)
    return {"layer": layer_id, "focus": focus.code, "total": sum(p.count or 1 for p in points),
            "aggregated": any(p.count for p in points),
            "points": points_json(points, Names(container, locale), layer(layer_id).labels)}


@router.get("/stream", summary="Server-sent events: new cases and steps in your scope as they happen. Send "
            "Last-Event-ID (browsers do on reconnect) or `after` to receive what you missed since that event")
async def stream(request: Request, principal: CurrentPrincipal, container: AppContainer, locale: Locale,
                 after: Annotated[str | None, Query(max_length=200)] = None) -> StreamingResponse:
    await run_in_threadpool(container.screen.focus, principal, None)  # who may watch; the scope is the caller's
    last = request.headers.get("last-event-id") or after
    cursor = Cursor.parse(last, TAILS) if last else None
    loop = asyncio.get_running_loop()
    sub = await run_in_threadpool(container.live.subscribe, principal.scope_path, loop, cursor)
    names, tz = Names(container, locale), container.settings.tz
    return StreamingResponse(_events(sub, lambda e: event_json(e, names, tz), container),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def sse(data: dict[str, Any], event_id: str | None = None) -> str:
    """One server-sent event (an `id:` line when it moves the cursor)."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def _events(sub: Subscription, render: Callable[[Event], dict[str, Any]],
                  container: Container) -> AsyncIterator[str]:
    """retry, a reset if the listener was too far behind, the catch-up, then live events and heartbeats."""
    listener = sub.listener
    try:
        yield f"retry: {RETRY_MS}\n\n"
        if sub.reset_to is not None:
            yield sse({"kind": "reset"}, sub.reset_to)
        for event, cursor in sub.catch_up:
            yield sse(render(event), cursor)
        while True:
            try:
                item = await asyncio.wait_for(listener.queue.get(), HEARTBEAT_S)
            except TimeoutError:
                yield ": ping\n\n"
                continue
            if listener.ended:
                return
            if listener.overflowed:  # too much at once: one reset, and what was queued is dropped
                listener.overflowed = False
                yield sse({"kind": "reset"}, listener.reset_to)
                while not listener.queue.empty():
                    listener.queue.get_nowait()
            elif item is not None:
                yield sse(render(item[0]), item[1])
    finally:
        container.live.unsubscribe(listener)
