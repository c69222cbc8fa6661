"""JSON endpoints of intake: report (grid workers, residents, operators), upstream webhook and batch, AI alerts,
and the operator's review queue. Every accepted report is stored before the answer; a retry with the same
`Idempotency-Key` (or the same external id) never creates a second one.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from chengyun.auth.model import Principal, Role
from chengyun.cases.attachments import check_attachment_ids, store_attachment
from chengyun.cases.model import Action, Source
from chengyun.cases.model import Request as StepRequest
from chengyun.errors import DomainError, Forbidden, Invalid
from chengyun.i18n import labelled, translate
from chengyun.intake import upstream
from chengyun.intake.ai import load_alert_types, read_alert
from chengyun.intake.model import Channel, Report
from chengyun.intake.service import Submitted
from chengyun.intake.tables import ReportRow
from chengyun.shared.geo import parse_coord_system
from chengyun.shared.handling import Urgency
from chengyun.web.deps import AppContainer, CurrentPrincipal, Locale

router = APIRouter(prefix="/api", tags=["intake"])
ROLE_CHANNELS = {Role.GRID_WORKER: Channel.GRID, Role.RESIDENT: Channel.RESIDENT, Role.OPERATOR: Channel.CONSOLE,
                 Role.ADMIN: Channel.CONSOLE}
"""Which channel a person's report comes through, by their role (machines use the upstream and AI endpoints)."""
PERSON_SOURCES = {Channel.GRID: Source.GRID, Channel.RESIDENT: Source.CITIZEN}
MAX_SNAPSHOT_BYTES = 10 * 1024 * 1024


class ReportBody(BaseModel):
    """A report typed by a person: where (a point or an address), what, and optionally the category."""

    description: str = Field(max_length=8000)
    title: str = Field("", max_length=400)
    category_code: str | None = Field(None, max_length=100)
    lon: float | None = None
    lat: float | None = None
    crs: str = Field("wgs84", max_length=10)
    address: str = Field("", max_length=600)
    urgency: Urgency | None = None
    source: Source | None = None  # operators taking a phone call say where it came from (default: citizen)
    reporter_name: str | None = Field(None, max_length=100)
    reporter_phone: str | None = Field(None, max_length=40)
    attachments: list[str] = Field(default_factory=list, max_length=9)
    handle_self: bool = False  # a grid worker handles it on the spot (自办自结), where the category allows it
    follow_case: str | None = Field(None, max_length=32)  # join this open case instead of opening another


def report_json(row: ReportRow, locale: str, outcome: str | None = None) -> dict[str, Any]:
    """A stored report as the API shows it: no personal data beyond the masked phone."""
    params = row.last_error_params or {}
    return {
        "token": row.token, "state": row.state, "state_label": translate(f"intake.state.{row.state}", locale),
        "outcome": outcome, "channel": row.channel, "source": row.source, "category_code": row.category_code,
        "description": row.description, "address": row.address,
        "location": [row.lon, row.lat] if row.lon is not None else None,
        "external": {"system": row.external_system, "id": row.external_id} if row.external_system else None,
        "case_number": row.case_number, "received_at": row.received_at, "attempts": row.attempts,
        "reporter_phone": (row.payload or {}).get("phone_masked"),
        "problem": {"code": row.last_error, "params": params,
                    "message": translate(row.last_error, locale, **labelled(params, locale))}
        if row.last_error else None,
        "candidates": params.get("candidates", []),
    }


def _answer(submitted: Submitted, locale: str, extra: dict[str, Any] | None = None) -> JSONResponse:
    body = {**report_json(submitted.report, locale, submitted.outcome), **(extra or {})}
    status = 201 if submitted.outcome == "created" else 200
    return JSONResponse(plain_json(body), status_code=status)


def plain_json(value: Any) -> Any:
    """JSON-ready values (datetimes as ISO 8601)."""
    if isinstance(value, dict):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_json(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else value


@router.post("/reports", summary="Report a problem (grid worker, resident, operator); Idempotency-Key: safe retries")
def submit_report(body: ReportBody, principal: CurrentPrincipal, container: AppContainer, locale: Locale,
                  idempotency_key: Annotated[str | None, Header(max_length=100)] = None) -> JSONResponse:
    channel = ROLE_CHANNELS.get(principal.role)
    if channel is None:
        raise Forbidden("intake.role_cannot_report", role=principal.role.value)
    source = (body.source or Source.CITIZEN) if channel is Channel.CONSOLE else PERSON_SOURCES[channel]
    report = Report(
        channel=channel, source=source, description=body.description,
        title=body.title, category_code=body.category_code, lon=body.lon, lat=body.lat,
        crs=parse_coord_system(body.crs), address=body.address, urgency=body.urgency,
        reporter_name=body.reporter_name, reporter_phone=body.reporter_phone, attachments=tuple(body.attachments),
        idempotency_key=idempotency_key, handle_self=body.handle_self and channel is Channel.GRID,
        follow_case=body.follow_case or None,
    )
    check_attachment_ids(container.attachments, report.attachments)
    submitted = container.intake.submit(principal, report)
    return _answer(submitted, locale, _self_handled(container, principal, submitted, report))


def _self_handled(container: Any, principal: Principal, submitted: Submitted, report: Report) -> dict[str, Any]:
    """A grid worker's 自办自结: the case they just opened is closed by them at once (if the category allows)."""
    number = submitted.report.case_number
    if not report.handle_self or number is None:
        return {}
    case, _ = container.cases.get(principal, number)
    if case.state != "reported":
        return {"case_state": case.state}
    try:
        done = container.cases.act(principal, number, StepRequest(Action.SELF_HANDLE, note=report.description[:200]))
    except DomainError as exc:  # the case stays open for the operator; say why it was not closed
        return {"case_state": "reported", "self_handle_problem": {"code": exc.code, "params": plain_json(exc.params)}}
    return {"case_state": done.state}


@router.get("/reports/review", summary="Reports waiting for an operator: unplaced, unclassified, failing")
def review_queue(principal: CurrentPrincipal, container: AppContainer, locale: Locale) -> dict[str, Any]:
    rows = container.intake.review_queue(principal)
    return {"total": len(rows), "items": [plain_json(report_json(r, locale)) for r in rows],
            "counts": container.intake.counts()}


@router.get("/reports/{token}", summary="One report (its submitter, or staff in scope)")
def get_report(token: str, principal: CurrentPrincipal, container: AppContainer, locale: Locale) -> dict[str, Any]:
    body: dict[str, Any] = plain_json(report_json(container.intake.get(principal, token), locale))
    return body


class ResolveBody(BaseModel):
    """An operator's decision on a report under review: where it is and/or what it is."""

    lon: float | None = None
    lat: float | None = None
    crs: str = Field("wgs84", max_length=10)
    category_code: str | None = Field(None, max_length=100)


@router.post("/reports/{token}/resolve", summary="Place and/or classify a report under review; it then opens a case")
def resolve_report(token: str, body: ResolveBody, principal: CurrentPrincipal, container: AppContainer,
                   locale: Locale) -> dict[str, Any]:
    row = container.intake.resolve(principal, token, lon=body.lon, lat=body.lat, crs=parse_coord_system(body.crs),
                                   category_code=body.category_code)
    answer: dict[str, Any] = plain_json(report_json(row, locale))
    return answer


# --- machines: upstream systems and AI platforms ------------------------------------------------


def _machine(principal: Principal) -> Principal:
    """Only an external system's token may use the machine endpoints (its username names the system)."""
    if principal.role is not Role.SYSTEM or not principal.via_token:
        raise Forbidden("intake.upstream.machines_only")
    return principal


@router.post("/intake/upstream", summary="An upstream system's report (its id in external_id; re-sending never "
             "duplicates)")
async def upstream_webhook(request: Request, principal: CurrentPrincipal, container: AppContainer,
                           locale: Locale) -> JSONResponse:
    _machine(principal)
    try:
        body = await request.json()
    except ValueError:
        raise Invalid("intake.batch.bad_json", msg="the body is not JSON") from None
    if not isinstance(body, dict):
        raise Invalid("intake.batch.bad_json", msg="expected one JSON object")
    report = upstream.report_from_fields(body, system=principal.username)
    submitted = await run_in_threadpool(container.intake.submit, principal, report)
    return _answer(submitted, locale)


@router.post("/intake/upstream/batch", summary="A file of upstream reports (CSV, Excel, JSON): all rows are checked "
             "first, then each is stored; known external ids update or are ignored")
def upstream_batch(principal: CurrentPrincipal, container: AppContainer, file: UploadFile = File(...),
                   system: str | None = Form(None)) -> dict[str, Any]:
    if principal.role is Role.SYSTEM and principal.via_token:
        system = principal.username
    elif principal.role not in (Role.ADMIN, Role.OPERATOR):
        raise Forbidden("intake.role_cannot_report", role=principal.role.value)
    if not system:
        raise Invalid("intake.upstream.system_required")
    records = upstream.batch_records(file.file.read(upstream.MAX_BATCH_BYTES + 1), file.filename or "")
    reports, problems = [], []
    for number, fields in records:
        try:
            reports.append(container.intake.check(principal, upstream.report_from_fields(
                fields, system=system, channel=Channel.BATCH)))
        except DomainError as exc:
            problems.append(upstream.problem(number, exc))
    if problems:
        raise Invalid("intake.batch.invalid", count=len(problems), problems=problems[:200])
    outcomes: dict[str, int] = {}
    for report in reports:
        outcome = container.intake.submit(principal, report).outcome
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {"records": len(reports), "outcomes": outcomes}


@router.post("/intake/ai-alerts", summary="A video-analytics alert: kept always; a case only above the type's "
             "confidence threshold and outside the camera's cool-down")
def ai_alert(body: dict[str, Any], principal: CurrentPrincipal, container: AppContainer,
             locale: Locale) -> JSONResponse:
    _machine(principal)
    snapshot_id = _snapshot(container, body.get("snapshot"))
    alert = read_alert(body, load_alert_types(container.settings.ai_alert_types), platform=principal.username,
                       snapshot_id=snapshot_id)
    reason = "intake.ai.below_threshold" if alert.below_threshold else None
    submitted = container.intake.submit(principal, alert.report, suppress=reason)
    return _answer(submitted, locale, {"alert_type": alert.kind.type, "confidence": alert.confidence})


def _snapshot(container: Any, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_SNAPSHOT_BYTES * 4 // 3 + 4:
        raise Invalid("intake.ai.bad_snapshot")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("intake.ai.bad_snapshot") from None
    return store_attachment(container.attachments, data).id
