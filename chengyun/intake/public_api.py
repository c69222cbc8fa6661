"""Anonymous endpoints of the resident page (群众上报): report without signing in, upload photos, track, rate.

No cookie grants anything here, so there is no CSRF token; instead every write is rate-limited per client IP
(`ratelimit.RateLimiter`, 429 when spent), bodies are size-limited (413), and a report carries the phone's
`Idempotency-Key` like every other channel. Reports come in as the street's public principal (channel `resident`,
source `citizen`); photos keep only their EXIF-stripped public copy visible to the public.
"""

from __future__ import annotations

import math
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from chengyun.areas.tables import AreaRow
from chengyun.auth.model import Principal, Role
from chengyun.bootstrap import Container
from chengyun.cases.attachments import MAX_BYTES, check_attachment_ids, store_attachment
from chengyun.cases.model import Source
from chengyun.categories.api import suggestions_json
from chengyun.errors import Invalid, RateLimited, TooLarge, Unavailable
from chengyun.intake.api import plain_json, report_json
from chengyun.intake.model import Channel, Report
from chengyun.intake.ratelimit import RateLimiter
from chengyun.intake.service import INTAKE
from chengyun.intake.tracking import public_view, rate, token_for_case
from chengyun.web.deps import AppContainer, Locale, client_ip, get_container

router = APIRouter(prefix="/api/public", tags=["public"])
MAX_REPORT_BYTES = 32 * 1024
PUBLIC_USERNAME = "public"


def limiter(request: Request) -> RateLimiter:
    """The app's buckets for anonymous writes (one per app, sized by the settings)."""
    state = request.app.state
    if getattr(state, "public_limiter", None) is None:
        settings = get_container(request).settings
        state.public_limiter = RateLimiter(settings.public_burst, settings.public_per_hour)
    found: RateLimiter = state.public_limiter
    return found


def rate_limited(request: Request) -> None:
    """Spend one of the client's tokens, or answer 429 with the seconds to wait."""
    allowed, wait = limiter(request).allow(client_ip(request) or "-", time.monotonic())
    if not allowed:
        raise RateLimited("public.rate_limited", retry_after_s=math.ceil(wait) if math.isfinite(wait) else None)


Limited = Annotated[None, Depends(rate_limited)]


def public_principal(container: Container) -> Principal:
    """Who anonymous reports come in as: the configured area, else the one highest street-level area."""
    code = container.settings.public_area_code
    with container.sessions() as session:
        if code:
            rows = [row] if (row := session.get(AreaRow, code)) is not None else []
        else:
            streets = list(session.scalars(select(AreaRow).where(AreaRow.level == "street").limit(1000)))
            top = min((r.path.count("/") for r in streets), default=0)
            rows = [r for r in streets if r.path.count("/") == top]
    if len(rows) != 1:
        raise Unavailable("public.no_area", count=len(rows))
    return Principal(0, PUBLIC_USERNAME, "群众上报", Role.RESIDENT, rows[0].code, rows[0].path)


class PublicReport(BaseModel):
    """A resident's report: what (and maybe the category), where (a WGS84 point or an address), photos, phone."""

    description: str = Field(max_length=8000)
    category_code: str | None = Field(None, max_length=100)
    lon: float | None = None
    lat: float | None = None
    address: str = Field("", max_length=600)
    reporter_phone: str | None = Field(None, max_length=40)
    attachments: list[str] = Field(default_factory=list, max_length=9)
    follow_case: str | None = Field(None, max_length=32)  # join this open case instead of opening another


@router.get("/area", summary="The street anonymous reports go to, with its communities as GeoJSON (WGS84)")
def public_area(container: AppContainer) -> dict[str, Any]:
    where = public_principal(container)
    return {"code": where.scope_code, "map": container.areas.map_features(INTAKE, where.scope_code)}


@router.get("/categories/suggest", summary="Up to 3 categories for a description, by the triage classifier")
def public_suggest(container: AppContainer, text: Annotated[str, Query(max_length=2000)] = "") -> dict[str, Any]:
    return suggestions_json(container.categories.catalogue(), text, container.triage)


@router.post("/attachments", status_code=201, summary="A resident's photo (JPEG, PNG, WebP; EXIF stripped copy)")
def public_upload(request: Request, _: Limited, file: UploadFile = File(...)) -> dict[str, Any]:
    data = file.file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise TooLarge("attachments.too_large", size=len(data), limit=MAX_BYTES)
    stored = store_attachment(get_container(request).attachments, data)
    return {"id": stored.id, "public_id": stored.public_id, "width": stored.width, "height": stored.height}


@router.post("/reports", summary="Report without signing in; Idempotency-Key makes a retry answer the first")
async def public_report(request: Request, _: Limited, container: AppContainer, locale: Locale,
                        idempotency_key: Annotated[str | None, Header(max_length=100)] = None) -> JSONResponse:
    body = await _body(request)
    principal = public_principal(container)
    report = Report(channel=Channel.RESIDENT, source=Source.CITIZEN, description=body.description,
                    category_code=body.category_code or None, lon=body.lon, lat=body.lat, address=body.address,
                    reporter_phone=body.reporter_phone or None, attachments=tuple(body.attachments),
                    idempotency_key=idempotency_key, follow_case=body.follow_case or None)
    check_attachment_ids(container.attachments, report.attachments)
    submitted = await run_in_threadpool(container.intake.submit, principal, report)
    answer = _public_answer(report_json(submitted.report, locale, submitted.outcome))
    return JSONResponse(answer, status_code=201 if submitted.outcome == "created" else 200)


async def _body(request: Request) -> PublicReport:
    """The JSON body, refused before parsing when it is larger than a report can be."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REPORT_BYTES:
        raise TooLarge("public.too_large", size=int(declared), limit=MAX_REPORT_BYTES)
    raw = await request.body()
    if len(raw) > MAX_REPORT_BYTES:
        raise TooLarge("public.too_large", size=len(raw), limit=MAX_REPORT_BYTES)
    try:
        return PublicReport.model_validate_json(raw)
    except ValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("type", "invalid")}
                  for e in exc.errors()]
        raise Invalid("request.invalid", fields=fields) from None


def _public_answer(body: dict[str, Any]) -> dict[str, Any]:
    """What the resident sees: the token, state, case number and why it waits; no channel internals."""
    kept = ("token", "state", "state_label", "outcome", "case_number", "address", "reporter_phone", "problem")
    answer = {k: body.get(k) for k in kept}
    answer["placed"] = body.get("location") is not None
    answer["track_url"] = f"/report/track?token={body['token']}"
    return answer


@router.get("/reports/{token}", summary="Track a report by its token: states and times, no personal data")
def public_track(token: str, container: AppContainer, locale: Locale) -> dict[str, Any]:
    view: dict[str, Any] = plain_json(public_view(container, token, locale))
    return view


class RatingBody(BaseModel):
    """满意 / 基本满意 / 不满意 and an optional comment."""

    rating: str = Field(max_length=40)
    comment: str = Field("", max_length=2000)


@router.get("/cases/{number}", summary="Track a case by its number and the last four digits of the reporter's phone")
def public_track_case(number: str, _: Limited, container: AppContainer, locale: Locale,
                      phone4: Annotated[str, Query(max_length=4)] = "") -> dict[str, Any]:
    view: dict[str, Any] = plain_json(public_view(container, token_for_case(container, number, phone4), locale))
    return view


@router.post("/reports/{token}/rating", summary="Rate the result of a closed case, once (回访评价)")
def public_rate(token: str, body: RatingBody, _: Limited, container: AppContainer, locale: Locale) -> dict[str, Any]:
    rate(container, token, body.rating, body.comment)
    view: dict[str, Any] = plain_json(public_view(container, token, locale))
    return view

