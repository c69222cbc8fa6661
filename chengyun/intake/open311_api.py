"""Open311 GeoReport v2 over HTTP: discovery, services, requests, tokens, updates, media; XML and JSON.

Every answer, errors included, is in the format the URL's extension names; errors are the specification's list of
code + description with the HTTP status as the code (400 bad input, 403 bad api_key, 404 not found).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

import chengyun
from chengyun.auth.model import Principal, Role
from chengyun.bootstrap import Container
from chengyun.cases.attachments import read_attachment, store_attachment
from chengyun.cases.model import Source
from chengyun.errors import DomainError, Forbidden, Invalid, NotFound, Unauthenticated
from chengyun.i18n import labelled, translate
from chengyun.intake import open311 as spec
from chengyun.intake.model import MAX_DESCRIPTION, Channel, Report
from chengyun.intake.open311_queries import RequestFilter, find_request, find_requests, find_updates
from chengyun.intake.service import Submitted
from chengyun.shared.handling import Urgency
from chengyun.web.deps import get_container, get_locale

router = APIRouter(tags=["open311"], include_in_schema=True)
log = logging.getLogger("chengyun.open311")
BASE = "/open311/v2"
MAX_MEDIA_BYTES = 10 * 1024 * 1024
_ATTRIBUTE = re.compile(r"attribute\[([^\]]{1,100})\](\[\])?")


class Open311Error(Exception):
    """An error with the Open311 status it answers with (the code is translated in the caller's language)."""

    def __init__(self, status: int, code: str, **params: Any) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.params = params


def _status(exc: DomainError) -> int:
    """403 for keys, 404 for unknown things, 400 for everything the client sent wrong (a point outside too)."""
    if isinstance(exc, Unauthenticated | Forbidden):
        return 403
    if isinstance(exc, NotFound) and not exc.code.startswith("areas.point_outside"):
        return 404
    return 400


def _respond(fmt: str, root: str, body: Any, status: int = 200) -> Response:
    return Response(spec.render(fmt, root, body), status_code=status, media_type=spec.FORMATS[fmt])


async def _answer(request: Request, fmt: str, root: str, work: Callable[[], Any], status: int = 200) -> Response:
    """Run `work` in the thread pool and answer in the chosen format; every failure becomes the errors format."""
    locale = get_locale(request)
    if fmt not in spec.FORMATS:
        return _respond("json", "errors", spec.errors(404, [translate("open311.bad_format", locale, fmt=fmt)]), 404)
    try:
        return _respond(fmt, root, await run_in_threadpool(work), status)
    except Open311Error as exc:
        return _error(fmt, locale, exc.status, exc.code, exc.params)
    except DomainError as exc:
        return _error(fmt, locale, _status(exc), exc.code, exc.params)
    except Exception:  # a defect: logged with its trace, answered in the client's format without one
        log.exception("Open311 %s %s failed", request.method, request.url.path)
        return _error(fmt, locale, 500, "internal", {})


def _error(fmt: str, locale: str, status: int, code: str, params: dict[str, Any]) -> Response:
    text = translate(code, locale, **labelled(params, locale))
    return _respond(fmt if fmt in spec.FORMATS else "json", "errors", spec.errors(status, [text]), status)


def _principal(container: Container, api_key: str | None) -> Principal:
    if not api_key:
        raise Unauthenticated("open311.api_key_required")
    principal = container.auth.resolve_token(api_key)
    if principal is None:
        raise Unauthenticated("open311.bad_api_key")
    return principal


def _check_jurisdiction(container: Container, jurisdiction_id: str | None) -> None:
    if jurisdiction_id:
        try:
            container.areas.chain(jurisdiction_id)
        except NotFound:
            raise Open311Error(404, "open311.unknown_jurisdiction", jurisdiction=jurisdiction_id) from None


# --- discovery and services --------------------------------------------------------------------


@router.get("/open311/discovery.{fmt}", summary="Open311 service discovery")
async def discovery(fmt: str, request: Request) -> Response:
    container = get_container(request)
    root = str(request.base_url).rstrip("/")

    def work() -> dict[str, Any]:
        changed = spec.w3c(container.clock.now().replace(hour=0, minute=0, second=0, microsecond=0),
                           container.settings.tz)
        return {"changeset": changed, "contact": f"Chengyun {chengyun.__version__} — {root}/",
                "key_service": f"{root}/settings", "endpoints": [{
                    "specification": spec.SPECIFICATION, "url": f"{root}{BASE}/", "changeset": changed,
                    "type": "production", "formats": ["text/xml", "application/json"]}]}

    return await _answer(request, fmt, "discovery", work)


def _service(container: Container, code: str, english: bool) -> dict[str, Any]:
    catalogue = container.categories.catalogue()
    item = catalogue.item(code)
    lineage = (item.code, *(a.code for a in catalogue.ancestors(code)))
    group = catalogue.get(lineage[-1])
    return {"service_code": item.code, "service_name": item.name_en if english and item.name_en else item.name,
            "description": f"{group.name} — {item.name}", "metadata": bool(spec.attributes_for(lineage)),
            "type": "realtime", "keywords": ",".join(dict.fromkeys((group.name, item.name))),
            "group": group.name_en if english and group.name_en else group.name}


@router.get(f"{BASE}/services.{{fmt}}", summary="The services (active category items) people may report")
async def services(fmt: str, request: Request) -> Response:
    container = get_container(request)
    english = get_locale(request) == "en"

    def work() -> list[dict[str, Any]]:
        _check_jurisdiction(container, request.query_params.get("jurisdiction_id"))
        catalogue = container.categories.catalogue()
        return [_service(container, c.code, english) for c in catalogue.items(active_only=True)]

    return await _answer(request, fmt, "services", work)


@router.get(f"{BASE}/services/{{code}}.{{fmt}}", summary="One service's definition: its attributes")
async def service_definition(code: str, fmt: str, request: Request) -> Response:
    container = get_container(request)
    english = get_locale(request) == "en"

    def work() -> dict[str, Any]:
        _check_jurisdiction(container, request.query_params.get("jurisdiction_id"))
        catalogue = container.categories.catalogue()
        try:
            item = catalogue.item(code)
        except DomainError:
            raise Open311Error(404, "open311.unknown_service", service=code) from None
        lineage = (item.code, *(a.code for a in catalogue.ancestors(code)))
        return {"service_code": item.code,
                "attributes": [d.to_spec(english) for d in spec.attributes_for(lineage)]}

    return await _answer(request, fmt, "service_definition", work)


# --- posting a request -------------------------------------------------------------------------


async def _params(request: Request) -> tuple[dict[str, str], dict[str, list[str]], bytes | None]:
    """Single parameters, attribute values by code, and the bytes of an uploaded media file (the upload's
    temporary file is closed before returning)."""
    form: FormData | None = None
    if request.method == "POST":
        form = await request.form(max_files=1, max_fields=200)
    single: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}
    media: bytes | None = None
    try:
        items = list(request.query_params.multi_items()) + (list(form.multi_items()) if form else [])
        for key, value in items:
            if isinstance(value, UploadFile):
                if key == "media":
                    media = await value.read(MAX_MEDIA_BYTES + 1)
                continue
            if (match := _ATTRIBUTE.fullmatch(key)) is not None:
                attributes.setdefault(match.group(1), []).append(value)
            else:
                single[key] = value
    finally:
        if form is not None:
            await form.close()
    return single, attributes, media


def _float(params: dict[str, str], name: str) -> float | None:
    raw = params.get(name, "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise Invalid("open311.bad_number", parameter=name) from None


def _report(container: Container, params: dict[str, str], attributes: dict[str, list[str]],
            attachments: tuple[str, ...], media_urls: tuple[str, ...]) -> Report:
    code = params.get("service_code", "").strip()
    if not code:
        raise Invalid("open311.service_code_required")
    catalogue = container.categories.catalogue()
    try:
        item = catalogue.item(code)
    except DomainError:  # the spec: "404 - service_code or jurisdiction_id was not found"
        raise Open311Error(404, "open311.unknown_service", service=code) from None
    lineage = (item.code, *(a.code for a in catalogue.ancestors(code)))
    typed = spec.check_attributes(spec.attributes_for(lineage), attributes)
    lat, lon = _float(params, "lat"), _float(params, "long")
    address = params.get("address_string", "")
    if (lat is None or lon is None) and params.get("address_id", "").strip():
        lon, lat, address = _address_id(container, params["address_id"].strip(), address)
    if (lat is None or lon is None) and not address.strip():
        raise Invalid("open311.location_required")
    description = params.get("description", "")
    if len(description) > MAX_DESCRIPTION:
        raise Invalid("open311.description_too_long", limit=MAX_DESCRIPTION, length=len(description))
    name = " ".join(p for p in (params.get("last_name", "").strip(), params.get("first_name", "").strip()) if p)
    return Report(
        channel=Channel.OPEN311, source=Source.CITIZEN, description=description or item.name,
        category_code=item.code, lon=lon, lat=lat, address=address, reporter_name=name or None,
        reporter_phone=params.get("phone") or None, reporter_email=params.get("email") or None,
        attachments=attachments, media_urls=media_urls, attributes=typed,
        idempotency_key=params.get("client_request_id") or None,  # our extension: a retry is not a second request
    )


def _address_id(container: Container, code: str, address: str) -> tuple[float, float, str]:
    """The point and address of a gazetteer entry (a compound, building, road or POI code) named by address_id."""
    entry = container.places.gazetteer().by_code.get(code)
    if entry is None:
        raise Open311Error(400, "open311.unknown_address_id", address_id=code[:60])
    return entry.lon, entry.lat, address or entry.address or entry.name


def _media_url(request: Request, public_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{BASE}/media/{public_id}"


@router.post(f"{BASE}/requests.{{fmt}}", summary="Create a service request (form fields as the spec lists them)")
async def post_request(fmt: str, request: Request) -> Response:
    container = get_container(request)
    try:
        params, attributes, data = await _params(request)
    except Exception:  # a body that is not a form, or a form past the limits: the client's fault, say so
        return _error(fmt, get_locale(request), 400, "open311.bad_body", {})

    def work() -> list[dict[str, Any]]:
        principal = _principal(container, params.get("api_key"))
        _check_jurisdiction(container, params.get("jurisdiction_id"))
        attachments: tuple[str, ...] = ()
        media_urls: tuple[str, ...] = ()
        if data is not None:
            if len(data) > MAX_MEDIA_BYTES:
                raise Invalid("open311.media_too_large", limit=MAX_MEDIA_BYTES)
            stored = store_attachment(container.attachments, data)
            attachments, media_urls = (stored.id,), (_media_url(request, stored.public_id),)
        elif params.get("media_url"):
            media_urls = (params["media_url"][:500],)
        submitted = container.intake.submit(principal, _report(container, params, attributes, attachments,
                                                                media_urls))
        return [_post_answer(submitted, get_locale(request))]

    return await _answer(request, fmt, "service_requests", work, status=201)


def _post_answer(submitted: Submitted, locale: str) -> dict[str, Any]:
    row = submitted.report
    notice = translate("open311.notice.opened" if row.case_number else "open311.notice.received", locale)
    body: dict[str, Any] = {"service_request_id": row.case_number} if row.case_number else {"token": row.token}
    body.update({"service_notice": notice, "account_id": None})
    return body


@router.get(f"{BASE}/tokens/{{token}}.{{fmt}}", summary="The service request id behind a token")
async def token(token: str, fmt: str, request: Request) -> Response:
    container = get_container(request)

    def work() -> list[dict[str, Any]]:
        row = container.intake.by_token(token)
        if row is None or row.channel != Channel.OPEN311.value:
            raise Open311Error(404, "open311.unknown_token", token=token)
        return [{"service_request_id": row.case_number, "token": row.token}]

    return await _answer(request, fmt, "service_requests", work)


# --- reading requests --------------------------------------------------------------------------


def _date(params: dict[str, str], name: str) -> datetime | None:
    raw = params.get(name, "").strip()
    return spec.parse_w3c(raw, name) if raw else None


def _filter(container: Container, params: dict[str, str]) -> RequestFilter:
    now = container.clock.now()
    start, end = _date(params, "start_date"), _date(params, "end_date")
    window = timedelta(days=spec.MAX_WINDOW_DAYS)
    if start is None:  # the spec: without dates, the last 90 days
        end = end or now
        start = end - window
    end = end or start + window
    if end < start:
        raise Invalid("open311.dates_reversed")
    if end - start > timedelta(days=spec.MAX_WINDOW_DAYS):
        raise Invalid("open311.window_too_long", days=spec.MAX_WINDOW_DAYS)
    page, size = _int(params, "page", 1), _int(params, "page_size", spec.MAX_RESULTS)
    if page < 1 or not 1 <= size <= spec.MAX_RESULTS:
        raise Invalid("open311.bad_page", limit=spec.MAX_RESULTS)
    numbers = tuple(n.strip() for n in params.get("service_request_id", "").split(",") if n.strip())
    codes = tuple(c.strip() for c in params.get("service_code", "").split(",") if c.strip())
    states = spec.states_for(params["status"]) if params.get("status") else frozenset()
    if numbers:  # the spec: with ids, the other filters are ignored
        return RequestFilter(numbers=numbers[: spec.MAX_RESULTS], page=page, page_size=size)
    return RequestFilter(service_codes=codes, states=states, start=start, end=end, page=page, page_size=size)


def _int(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise Invalid("open311.bad_number", parameter=name)
    return int(raw)


def _request_view(container: Container, request: Request, row: Any, english: bool) -> dict[str, Any]:
    tz = container.settings.tz
    catalogue = container.categories.catalogue()
    try:
        item = catalogue.get(row.category_code)
        name = item.name_en if english and item.name_en else item.name
    except DomainError:
        name = row.category_code
    locale = "en" if english else "zh-CN"
    media = next(iter(row.attachments or ()), None)
    return {
        "service_request_id": row.number, "status": spec.status_of(row.state),
        "status_notes": translate(f"cases.state.{row.state}", locale), "service_name": name,
        "service_code": row.category_code, "description": row.description, "agency_responsible": row.agency,
        "service_notice": None, "requested_datetime": spec.w3c(row.reported_at, tz),
        "updated_datetime": spec.w3c(row.updated_at, tz), "expected_datetime": spec.w3c(_expected(container, row), tz),
        "address": row.address, "address_id": None, "zipcode": None, "lat": row.lat, "long": row.lon,
        "media_url": _public_media(container, request, media),
    }


def _expected(container: Container, row: Any) -> datetime | None:
    """The handling due date; before dispatch, the category's handling limit counted from the report."""
    if row.handling_due is not None or spec.status_of(row.state) == "closed":
        return row.handling_due  # type: ignore[no-any-return]
    try:
        _, handling = container.categories.limits_for(row.category_code, Urgency(row.urgency))
    except DomainError:
        return None
    return container.deadlines.due_at(row.reported_at, handling)


def _public_media(container: Container, request: Request, original_id: str | None) -> str | None:
    if original_id is None:
        return None
    meta = container.attachments.read_meta(original_id)
    public_id = str(meta.get("public_id")) if meta and meta.get("public_id") else None
    return _media_url(request, public_id) if public_id else None


@router.get(f"{BASE}/requests.{{fmt}}", summary="Public service requests (citizens' reports), newest first")
async def get_requests(fmt: str, request: Request) -> Response:
    container = get_container(request)
    english = get_locale(request) == "en"
    params = dict(request.query_params)

    def work() -> list[dict[str, Any]]:
        _check_jurisdiction(container, params.get("jurisdiction_id"))
        rows = find_requests(container.engine, _filter(container, params))
        return [_request_view(container, request, row, english) for row in rows]

    return await _answer(request, fmt, "service_requests", work)


@router.get(f"{BASE}/requests/{{number}}.{{fmt}}", summary="One public service request")
async def get_request(number: str, fmt: str, request: Request) -> Response:
    container = get_container(request)
    english = get_locale(request) == "en"

    def work() -> list[dict[str, Any]]:
        _check_jurisdiction(container, request.query_params.get("jurisdiction_id"))
        row = find_request(container.engine, number)
        if row is None:
            raise Open311Error(404, "open311.unknown_request", request=number)
        return [_request_view(container, request, row, english)]

    return await _answer(request, fmt, "service_requests", work)


@router.get(f"{BASE}/servicerequestupdates.{{fmt}}", summary="Status-update history of public requests")
async def updates(fmt: str, request: Request) -> Response:
    container = get_container(request)
    locale = "en" if get_locale(request) == "en" else "zh-CN"
    params = dict(request.query_params)

    def work() -> list[dict[str, Any]]:
        wanted = _filter(container, {k: v for k, v in params.items() if k in ("start_date", "end_date")})
        assert wanted.start is not None and wanted.end is not None
        steps = find_updates(container.engine, wanted.start, wanted.end, spec.MAX_RESULTS)
        return [{"update_id": f"{s.number}-{s.seq}", "service_request_id": s.number,
                 "status": spec.status_of(s.to_state), "updated_datetime": spec.w3c(s.at, container.settings.tz),
                 "description": translate(f"cases.action.{s.action}", locale),
                 "media_url": _public_media(container, request, next(iter(s.attachments or ()), None))}
                for s in steps]

    return await _answer(request, fmt, "service_request_updates", work)


@router.get(f"{BASE}/media/{{file_id}}", summary="A request's photo: the public copy, without EXIF/GPS")
def media(file_id: str, request: Request) -> Response:
    container = get_container(request)
    try:
        data, content_type = read_attachment(container.attachments, file_id, Role.RESIDENT)
    except DomainError:
        return _error("json", get_locale(request), 404, "open311.unknown_media", {})
    return Response(data, media_type=content_type, headers={"Cache-Control": "public, max-age=86400"})
