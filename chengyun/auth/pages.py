"""Sign-in and sign-out pages (with a pre-session CSRF cookie on the sign-in form)."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chengyun.auth.api import set_session_cookie
from chengyun.errors import Forbidden, Unauthenticated
from chengyun.i18n import translate
from chengyun.web.deps import (
    PRE_SESSION_CSRF_COOKIE,
    SESSION_COOKIE,
    AppContainer,
    CurrentPrincipal,
    client_ip,
    get_locale,
)
from chengyun.web.templating import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths; anything else goes home (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target


def _login_page(request: Request, next_url: str, error: str | None = None, status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"next": next_url, "form_csrf": token, "error": error},
                      status_code=status)
    response.set_cookie(PRE_SESSION_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form."""
    return _login_page(request, _safe_next(next))


@router.post("/login")
async def login_submit(request: Request, container: AppContainer, username: str = Form(max_length=64),
                       password: str = Form(max_length=200), csrf_token: str = Form(""),
                       next: str = Form("/")) -> Response:
    """Check the form's CSRF token and the password, then set the session cookie."""
    expected = request.cookies.get(PRE_SESSION_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        raise Forbidden("auth.csrf_failed")
    try:
        opened = container.auth.sign_in(username, password, ip=client_ip(request))
    except Unauthenticated as exc:
        message = translate(exc.code, get_locale(request), **exc.params)
        return _login_page(request, _safe_next(next), message, status=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, request, opened)
    response.delete_cookie(PRE_SESSION_CSRF_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, container: AppContainer, _: CurrentPrincipal) -> Response:
    """End the session (CSRF-checked by the principal dependency)."""
    container.auth.sign_out(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
