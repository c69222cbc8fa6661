"""Jinja2 templates with the translator, the locale and the CSRF token available on every page."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates

from chengyun.i18n import translate
from chengyun.web.deps import get_locale

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def make_templates(tz: ZoneInfo) -> Jinja2Templates:
    """Templates whose context knows the request's locale, principal and CSRF token."""

    def context(request: Request) -> dict[str, Any]:
        locale = get_locale(request)
        return {
            "locale": locale,
            "t": lambda code, /, **params: translate(code, locale, **params),
            "principal": getattr(request.state, "principal", None),
            "csrf_token": getattr(request.state, "csrf", ""),
        }

    templates = Jinja2Templates(directory=str(TEMPLATES_DIR), context_processors=[context])
    templates.env.filters["localtime"] = lambda dt: _local(dt, tz)
    return templates


def _local(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> Response:
    """Render a template with the app's templates (one place that knows where they live)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context or {}, status_code=status_code)
