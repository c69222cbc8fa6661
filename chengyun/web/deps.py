"""Request dependencies: the container, the locale, the acting principal and CSRF checks."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from chengyun.auth.model import Principal
from chengyun.auth.policy import Permission, require
from chengyun.bootstrap import Container
from chengyun.errors import Forbidden, Unauthenticated
from chengyun.i18n import pick_locale

SESSION_COOKIE = "chengyun_session"
LOCALE_COOKIE = "chengyun_lang"
PRE_SESSION_CSRF_COOKIE = "chengyun_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_container(request: Request) -> Container:
    """The composition root built at startup."""
    container: Container = request.app.state.container
    return container


def get_locale(request: Request) -> str:
    """?lang= wins, then the language cookie, then Accept-Language, then zh-CN."""
    chosen = request.query_params.get("lang") or request.cookies.get(LOCALE_COOKIE)
    return pick_locale(chosen, request.headers.get("accept-language"))


def client_ip(request: Request) -> str | None:
    """The peer address (no proxy headers are trusted by default)."""
    return request.client.host if request.client else None


async def get_principal(request: Request) -> Principal:
    """Bearer token for machines, session cookie (with CSRF on unsafe methods) for browsers.

    The lookups are blocking database reads: they run in the thread pool, never on the event loop.
    """
    container = get_container(request)
    auth_header = request.headers.get("authorization", "")
    if auth_header.lower().startswith("bearer "):
        principal = await run_in_threadpool(container.auth.resolve_token, auth_header[7:].strip())
        if principal is None:
            raise Unauthenticated("auth.bad_token")
        request.state.principal = principal
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    resolved = await run_in_threadpool(container.auth.resolve_session, cookie) if cookie else None
    if resolved is None:
        raise Unauthenticated("auth.required")
    principal, csrf = resolved
    request.state.principal = principal
    request.state.csrf = csrf
    if request.method not in SAFE_METHODS:
        await _check_csrf(request, csrf)
    return principal


async def _check_csrf(request: Request, expected: str) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, expected):
        raise Forbidden("auth.csrf_failed")


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
AppContainer = Annotated[Container, Depends(get_container)]
Locale = Annotated[str, Depends(get_locale)]


def requires(permission: Permission):  # type: ignore[no-untyped-def]
    """A dependency that resolves the principal and checks one permission, auditing refusals."""

    async def dependency(request: Request) -> Principal:
        principal = await get_principal(request)
        try:
            require(principal, permission)
        except Forbidden:
            get_container(request).audit.record_now(
                action="permission.refused", actor=principal.username, actor_id=principal.user_id,
                outcome="refused", target=permission.value, ip=client_ip(request),
            )
            raise
        return principal

    return dependency
