"""The landing page after sign-in: who you are, your scope and what the district holds."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chengyun.web.deps import LOCALE_COOKIE, AppContainer, CurrentPrincipal
from chengyun.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, principal: CurrentPrincipal, container: AppContainer) -> Response:
    """Overview of the signed-in user's scope."""
    counts = container.areas.counts(principal)
    chain = container.areas.chain(principal.scope_code)
    return render(request, "home.html", {"counts": counts, "chain": chain})


@router.get("/lang/{locale}")
async def switch_language(locale: str, request: Request) -> Response:
    """Remember the chosen language in a cookie and go back."""
    target = request.headers.get("referer") or "/"
    response = RedirectResponse(target if target.startswith(str(request.base_url)) else "/", status_code=303)
    response.set_cookie(LOCALE_COOKIE, "en" if locale == "en" else "zh-CN", max_age=365 * 86400,
                        samesite="lax", httponly=True)
    return response
