"""JSON endpoints for sign-in, the current user, accounts and machine tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from chengyun.auth.model import Principal, Role
from chengyun.auth.policy import Permission
from chengyun.auth.service import NewSession
from chengyun.errors import NotFound
from chengyun.web.deps import SESSION_COOKIE, AppContainer, CurrentPrincipal, client_ip, requires

router = APIRouter(prefix="/api", tags=["auth"])


class LoginIn(BaseModel):
    """Username and password."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class UserIn(BaseModel):
    """A new account; the password is generated when omitted."""

    username: str = Field(min_length=3, max_length=64)
    display_name: str = Field(min_length=1, max_length=100)
    role: Role
    scope_code: str = Field(min_length=4, max_length=18)
    password: str | None = Field(default=None, min_length=10, max_length=200)


class TokenIn(BaseModel):
    """A machine token for an existing account."""

    username: str = Field(min_length=3, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    valid_days: int | None = Field(default=None, ge=1, le=3650)


def principal_json(p: Principal) -> dict[str, Any]:
    """What a client may know about who it is."""
    return {"id": p.user_id, "username": p.username, "display_name": p.display_name, "role": p.role.value,
            "scope_code": p.scope_code}


def set_session_cookie(response: Response, request: Request, opened: NewSession) -> None:
    """HttpOnly, SameSite=Lax; Secure outside dev mode."""
    settings = request.app.state.container.settings
    response.set_cookie(SESSION_COOKIE, opened.cookie, max_age=settings.session_max_age_s, httponly=True,
                        samesite="lax", secure=not settings.is_dev)


@router.post("/auth/login", summary="Sign in with a password; sets the session cookie")
async def login(body: LoginIn, request: Request, response: Response, container: AppContainer) -> dict[str, Any]:
    opened = container.auth.sign_in(body.username, body.password, ip=client_ip(request))
    set_session_cookie(response, request, opened)
    return {"user": principal_json(opened.principal), "csrf_token": opened.csrf}


@router.post("/auth/logout", summary="End the browser session")
async def logout(request: Request, response: Response, container: AppContainer,
                 _: CurrentPrincipal) -> dict[str, bool]:
    container.auth.sign_out(request.cookies.get(SESSION_COOKIE, ""))
    response.delete_cookie(SESSION_COOKIE)
    return {"ok": True}


@router.get("/me", summary="The signed-in user, role and area scope")
async def me(request: Request, principal: CurrentPrincipal, container: AppContainer) -> dict[str, Any]:
    chain = container.areas.chain(principal.scope_code)
    return {**principal_json(principal), "scope_chain": [{"code": r.code, "name": r.name, "level": r.level}
                                                         for r in chain],
            "csrf_token": getattr(request.state, "csrf", None)}


@router.post("/users", status_code=201, summary="Create an account inside the admin's scope")
async def create_user(body: UserIn, container: AppContainer,
                      admin: Principal = Depends(requires(Permission.USERS_MANAGE))) -> dict[str, Any]:
    scope = container.areas.get(admin, body.scope_code)  # refuses scopes outside the admin's own
    user, password = container.auth.create_user(
        username=body.username, display_name=body.display_name, role=body.role, scope_code=scope.code,
        password=body.password, actor=admin.username,
    )
    return {"id": user.id, "username": user.username, "role": user.role, "scope_code": user.scope_code,
            "password": None if body.password else password}


@router.post("/tokens", status_code=201, summary="Issue a bearer token (shown once, stored hashed)")
async def issue_token(body: TokenIn, container: AppContainer,
                      admin: Principal = Depends(requires(Permission.TOKENS_MANAGE))) -> dict[str, str]:
    token = container.auth.issue_token(body.username, body.name, actor=admin.username,
                                       valid_days=body.valid_days)
    return {"token": token, "prefix": token.split("_")[1]}


@router.delete("/tokens/{prefix}", summary="Revoke a bearer token by its prefix")
async def revoke_token(prefix: str, container: AppContainer,
                       admin: Principal = Depends(requires(Permission.TOKENS_MANAGE))) -> dict[str, bool]:
    if not prefix.isalnum() or len(prefix) > 16:
        raise NotFound("auth.token_not_found", prefix=prefix)
    container.auth.revoke_token(prefix, actor=admin.username)
    return {"ok": True}
