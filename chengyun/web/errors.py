"""Every failure answers with a stable code, a translated message and parameters; never a trace."""

from __future__ import annotations

import logging
from dataclasses import asdict, is_dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from chengyun.errors import DomainError, Unauthenticated
from chengyun.i18n import labelled, translate
from chengyun.web.deps import get_locale
from chengyun.web.templating import render

log = logging.getLogger("chengyun.web")


def wants_html(request: Request) -> bool:
    """Browsers asking for pages get pages; the API and machines get JSON."""
    if request.url.path.startswith("/api/") or request.headers.get("hx-request"):
        return False
    return "text/html" in request.headers.get("accept", "")


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def error_body(code: str, params: dict[str, Any], locale: str) -> dict[str, Any]:
    """The JSON error shape: {"error": {"code", "message", "params", "details"?}}."""
    params = _jsonable(params)
    message = translate(code, locale, **labelled(params, locale))
    body: dict[str, Any] = {"code": code, "message": message, "params": params}
    problems = params.get("problems") if isinstance(params, dict) else None
    if isinstance(problems, list):
        body["details"] = [
            {**p, "message": translate(p["code"], locale, where=p.get("where"), **p.get("params", {}))}
            for p in problems if isinstance(p, dict)
        ]
    return {"error": body}


def _respond(request: Request, status: int, code: str, params: dict[str, Any]) -> Response:
    locale = get_locale(request)
    if status == 401 and wants_html(request):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    body = error_body(code, params, locale)
    if wants_html(request):
        return render(request, "error.html", {"error": body["error"], "status": status}, status_code=status)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors, HTTP errors and crashes to the one error shape."""

    @app.exception_handler(DomainError)
    async def on_domain_error(request: Request, exc: DomainError) -> Response:
        status = 401 if isinstance(exc, Unauthenticated) else exc.http_status
        return _respond(request, status, exc.code, exc.params)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        fields = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("type", "invalid")}
            for err in exc.errors()
        ]
        return _respond(request, 422, "request.invalid", {"fields": fields})

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "http.not_found", 405: "http.method_not_allowed"}.get(exc.status_code, "http.error")
        return _respond(request, exc.status_code, code, {"status": exc.status_code})

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _respond(request, 500, "internal", {})
