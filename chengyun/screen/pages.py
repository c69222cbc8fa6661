"""The big screen page (/screen, 一屏全观): 1920×1080, dark; its panels and layers are laid out from their
descriptions and drawn by screen.js, one component per kind."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from chengyun.i18n import translate
from chengyun.screen.api import focus_json
from chengyun.screen.model import CASE_CLASSES
from chengyun.screen.panels import LAYERS, PANELS, Slot
from chengyun.web.deps import AppContainer, CurrentPrincipal, Locale
from chengyun.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)
# words the page itself needs (legend, status, units); panel and layer titles come from their descriptions
CLIENT_WORDS = ("screen.status.live", "screen.status.reconnecting", "screen.status.offline", "screen.unit.hours",
                "screen.unit.cases", "screen.feed.empty", "screen.feed.new", "screen.hot.count", "screen.hot.empty",
                "screen.no_data", "screen.hot.title", "screen.hot.place")


def _descriptions(locale: str) -> dict[str, Any]:
    """Panels and layers as the page's one component per kind needs them (titles translated)."""
    panels = [{"id": p.id, "title": translate(p.title, locale), "kind": p.kind.value, "format": p.format.value,
               "source": p.source, "slot": p.slot.value, "on_events": p.refresh.on_events,
               "every_s": p.refresh.every_s, "live": p.refresh.live} for p in PANELS]
    layers = [{"id": lay.id, "title": translate(lay.title, locale), "source": lay.source,
               "palette": dict(lay.palette), "legend": {c: translate(lay.legend + c, locale) for c in lay.palette},
               "symbol": lay.symbol, "size": lay.size, "pulse": lay.pulse, "default_on": lay.default_on,
               "link": lay.link,
               "live": lay.refresh.live, "every_s": lay.refresh.every_s} for lay in LAYERS]
    return {"panels": panels, "layers": layers}


@router.get("/screen", response_class=HTMLResponse)
def screen_page(request: Request, principal: CurrentPrincipal, container: AppContainer, locale: Locale,
                area: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """The command-center screen for the caller's scope, focused on `area` (a community, a grid …) if given."""
    focus = container.screen.focus(principal, area)
    config = {**_descriptions(locale), "focus": focus_json(focus), "cursor": container.screen.cursor().text(),
              "scope": principal.scope_code, "case_classes": list(CASE_CLASSES),
              "words": {w: translate(w, locale) for w in CLIENT_WORDS}, "locale": locale,
              "timezone": container.settings.timezone, "tiles": _tiles(container)}
    slots = {slot.value: [p for p in PANELS if p.slot == slot] for slot in Slot}
    return render(request, "screen.html", {"focus": focus, "slots": slots, "tiles": config["tiles"],
                                           "config_json": _script_safe(config)})


def _tiles(container: AppContainer) -> dict[str, Any] | None:
    """The optional base map's tile URL template, attribution and deepest zoom (None: the polygons alone)."""
    settings = container.settings
    if not settings.screen_tile_url:
        return None
    return {"url": settings.screen_tile_url, "attribution": settings.screen_tile_attribution,
            "max_zoom": settings.screen_tile_max_zoom}


def _script_safe(value: Any) -> str:
    """JSON for a <script type="application/json"> block: no `</` can close it early."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")
