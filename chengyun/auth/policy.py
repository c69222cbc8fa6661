"""Who may do what: one table from permission to roles; the area scope is checked separately."""

from __future__ import annotations

from enum import StrEnum

from chengyun.auth.model import Principal, Role
from chengyun.errors import Forbidden


class Permission(StrEnum):
    """Actions guarded by role."""

    AREAS_READ = "areas.read"
    AREAS_IMPORT = "areas.import"
    ORG_READ = "org.read"
    CONTACT_REVEAL = "contact.reveal"
    USERS_MANAGE = "users.manage"
    TOKENS_MANAGE = "tokens.manage"
    AUDIT_READ = "audit.read"
    CATALOGUE_MANAGE = "catalogue.manage"
    DUTY_MANAGE = "duty.manage"
    WEBHOOKS_MANAGE = "webhooks.manage"


_ALL = frozenset(Role)
ALLOWED: dict[Permission, frozenset[Role]] = {
    Permission.AREAS_READ: _ALL,
    Permission.AREAS_IMPORT: frozenset({Role.ADMIN}),
    Permission.ORG_READ: frozenset({Role.ADMIN, Role.OPERATOR, Role.HANDLER, Role.GRID_WORKER, Role.AUDITOR}),
    Permission.CONTACT_REVEAL: frozenset({Role.ADMIN, Role.OPERATOR}),
    Permission.USERS_MANAGE: frozenset({Role.ADMIN}),
    Permission.TOKENS_MANAGE: frozenset({Role.ADMIN}),
    Permission.AUDIT_READ: frozenset({Role.ADMIN, Role.AUDITOR}),
    Permission.CATALOGUE_MANAGE: frozenset({Role.ADMIN}),
    Permission.DUTY_MANAGE: frozenset({Role.ADMIN}),
    Permission.WEBHOOKS_MANAGE: frozenset({Role.ADMIN}),
}


def allows(principal: Principal, permission: Permission) -> bool:
    """True when the principal's role carries the permission."""
    return principal.role in ALLOWED[permission]


def require(principal: Principal, permission: Permission) -> None:
    """Raise a precise Forbidden when the role lacks the permission."""
    if not allows(principal, permission):
        raise Forbidden("auth.permission_denied", permission=permission.value, role=principal.role.value)
