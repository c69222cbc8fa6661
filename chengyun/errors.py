"""Typed, translatable domain errors: a stable code plus parameters, never a bare message."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every expected failure; `code` is a stable key into the translation catalogues."""

    http_status = 400
    default_code = "invalid"

    def __init__(self, code: str | None = None, /, **params: Any) -> None:
        self.code = code or self.default_code
        self.params = params
        super().__init__(f"{self.code} {params}" if params else self.code)


class Invalid(DomainError):
    """The input is malformed or breaks a rule."""

    http_status = 422
    default_code = "invalid"


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it does."""

    http_status = 404
    default_code = "not_found"


class Conflict(DomainError):
    """The thing changed or already exists; the caller should reload and retry."""

    http_status = 409
    default_code = "conflict"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    http_status = 403
    default_code = "forbidden"


class Unauthenticated(DomainError):
    """The caller did not prove who they are."""

    http_status = 401
    default_code = "auth.required"


class InvalidTransition(Conflict):
    """A state change that the allowed-transition table does not permit."""

    default_code = "invalid_transition"


class Unavailable(DomainError):
    """A backing service (object store, broker) cannot be reached right now; the caller may retry."""

    http_status = 503


class TooLarge(DomainError):
    """A request body beyond the size an endpoint accepts (413)."""

    http_status = 413


class RateLimited(DomainError):
    """A client sent more requests than the endpoint's rate allows; it may retry after `retry_after_s` (429)."""

    http_status = 429
