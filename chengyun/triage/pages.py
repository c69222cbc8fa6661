"""The console's hot-issue page (热点问题): clusters of similar cases in the viewer's scope, and surge warnings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from chengyun.web.deps import AppContainer, CurrentPrincipal
from chengyun.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/hot", response_class=HTMLResponse)
def hot_page(request: Request, principal: CurrentPrincipal, container: AppContainer,
             days: Annotated[int, Query(ge=1, le=365)] = 30) -> Response:
    """Hot issues of the last `days` and this week's surges, each linked to its cases."""
    issues, surges = container.hot.analyse(principal, days)
    catalogue = container.categories.catalogue()
    names = {c.code: c.name for c in catalogue}
    return render(request, "hot.html", {"issues": issues, "surges": surges, "days": days, "names": names})
