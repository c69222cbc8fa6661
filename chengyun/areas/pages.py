"""The area browser: the tree, each area's polygon on an offline map, and "where is this point"."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from chengyun.areas.service import require_float
from chengyun.errors import DomainError
from chengyun.i18n import translate
from chengyun.shared.geo import parse_coord_system
from chengyun.web.deps import AppContainer, CurrentPrincipal, get_locale
from chengyun.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/areas", response_class=HTMLResponse)
async def area_browser(request: Request, principal: CurrentPrincipal, container: AppContainer,
                       code: str | None = None) -> Response:
    """The browser page, opened at the user's scope or at `code`."""
    area = container.areas.get(principal, code or principal.scope_code)
    context = {
        "area": area,
        "chain": container.areas.chain(area.code),
        "children": container.areas.children(principal, area.code),
        "scope_depth": len(container.areas.chain(principal.scope_code)) - 1,
    }
    return render(request, "areas.html", context)


@router.get("/areas/tree/{code}", response_class=HTMLResponse)
async def tree_children(code: str, request: Request, principal: CurrentPrincipal,
                        container: AppContainer) -> Response:
    """htmx partial: the children of one tree node."""
    children = container.areas.children(principal, code)
    return render(request, "_area_children.html", {"children": children})


@router.get("/areas/where", response_class=HTMLResponse)
async def where_is(request: Request, principal: CurrentPrincipal, container: AppContainer,
                   lon: str = "", lat: str = "", crs: str = "wgs84") -> Response:
    """htmx partial: the chain of areas containing a point, or a translated error."""
    context: dict[str, object] = {"lon": lon, "lat": lat}
    try:
        lon_f, lat_f = require_float("lon", lon), require_float("lat", lat)
        context["chain"] = container.areas.locate(lon_f, lat_f, parse_coord_system(crs), principal)
    except DomainError as exc:
        context["error"] = translate(exc.code, get_locale(request), **exc.params)
    return render(request, "_where.html", context)
