"""Roles and the principal a request acts as; pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """What a user is allowed to do, before the area scope narrows it."""

    ADMIN = "admin"  # 管理员
    OPERATOR = "operator"  # 城运中心值班员
    HANDLER = "handler"  # 职能部门处置人员
    GRID_WORKER = "grid_worker"  # 网格员
    RESIDENT = "resident"  # 居民
    AUDITOR = "auditor"  # 审计员
    SYSTEM = "system"  # 上级/外部系统: an upstream, AI or IoT platform that sends reports with its own token


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: the user, their role, and the area subtree they may see and act in."""

    user_id: int
    username: str
    display_name: str
    role: Role
    scope_code: str
    scope_path: str
    via_token: bool = False
    unit_code: str | None = None  # the unit a handler acts for

    def can_see_path(self, area_path: str) -> bool:
        """True when an area (by materialised path) lies inside this principal's scope."""
        return area_path.startswith(self.scope_path)
