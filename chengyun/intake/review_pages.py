"""The operator's intake inbox page: reports that need a person (no place, no category, failing), with the
gazetteer's candidates to pick from and the catalogue to classify, each resolved in one click."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chengyun.errors import DomainError
from chengyun.i18n import labelled, translate
from chengyun.shared.geo import CoordSystem
from chengyun.web.deps import AppContainer, CurrentPrincipal, get_locale
from chengyun.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)


def _inbox(request: Request, container: AppContainer, principal: CurrentPrincipal,
           error: str | None = None, status: int = 200) -> Response:
    locale = get_locale(request)
    rows = container.intake.review_queue(principal)
    items = [{"row": row, "problem": translate(row.last_error, locale, **labelled(row.last_error_params or {},
                                                                                    locale)) if row.last_error else "",
              "candidates": (row.last_error_params or {}).get("candidates", []),
              "suggestions": (row.last_error_params or {}).get("suggestions", [])} for row in rows]
    categories = [(c.code, c.name) for c in container.categories.catalogue().items(active_only=True)]
    context = {"items": items, "counts": container.intake.counts(), "categories": categories, "error": error}
    return render(request, "intake_review.html", context, status_code=status)


@router.get("/reports/review", response_class=HTMLResponse)
def review_page(request: Request, principal: CurrentPrincipal, container: AppContainer) -> Response:
    """Reports waiting for an operator, oldest first, with the reason and the best candidates."""
    return _inbox(request, container, principal)


@router.post("/reports/review/{token}", response_class=HTMLResponse)
def resolve_from_page(token: str, request: Request, principal: CurrentPrincipal, container: AppContainer,
                      lon: Annotated[str, Form()] = "", lat: Annotated[str, Form()] = "",
                      category_code: Annotated[str, Form()] = "") -> Response:
    """Place (a candidate's point) and/or classify one report; back to the inbox, or the reason it was refused."""
    try:
        point = (float(lon), float(lat)) if lon and lat else (None, None)
        container.intake.resolve(principal, token, lon=point[0], lat=point[1], crs=CoordSystem.WGS84,
                                 category_code=category_code or None)
    except ValueError:
        return _inbox(request, container, principal, translate("intake.bad_point", get_locale(request), lon=lon,
                                                               lat=lat), 422)
    except DomainError as exc:
        locale = get_locale(request)
        return _inbox(request, container, principal, translate(exc.code, locale, **labelled(exc.params, locale)),
                      exc.http_status)
    return RedirectResponse("/reports/review", status_code=303)
