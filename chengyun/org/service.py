"""Units and people as operators see them: scoped, with contact numbers masked until revealed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chengyun.areas.tables import AreaRow
from chengyun.audit import AuditLog, record
from chengyun.auth.model import Principal
from chengyun.auth.policy import Permission, require
from chengyun.errors import NotFound
from chengyun.org.tables import PersonRow, UnitRow
from chengyun.shared.clock import Clock
from chengyun.shared.privacy import PersonalDataVault

MAX_PAGE = 500


@dataclass
class OrgService:
    """Reads of the unit and people directory within the caller's area scope."""

    sessions: sessionmaker[Session]
    clock: Clock
    audit: AuditLog
    vault: PersonalDataVault

    def units(self, principal: Principal) -> list[dict[str, Any]]:
        """Units whose area lies in the caller's scope."""
        require(principal, Permission.ORG_READ)
        stmt = (
            select(UnitRow).join(AreaRow, AreaRow.code == UnitRow.area_code)
            .where(AreaRow.path.startswith(principal.scope_path, autoescape=True))
            .order_by(UnitRow.kind, UnitRow.code)
        )
        with self.sessions() as session:
            return [_unit(u) for u in session.scalars(stmt)]

    def people(self, principal: Principal, *, area_code: str | None = None, kind: str | None = None,
               offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """A page of people assigned inside the scope (or one area of it), phones masked."""
        require(principal, Permission.ORG_READ)
        prefix = principal.scope_path
        with self.sessions() as session:
            if area_code:
                area = session.get(AreaRow, area_code)
                if area is None or not principal.can_see_path(area.path):
                    self._refuse(principal, f"area:{area_code}")
                    raise NotFound("areas.not_found", code=area_code)
                prefix = area.path
            base = (
                select(PersonRow).join(AreaRow, AreaRow.code == PersonRow.area_code)
                .where(AreaRow.path.startswith(prefix, autoescape=True))
            )
            if kind:
                base = base.where(PersonRow.kind == kind)
            total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
            rows: Sequence[PersonRow] = session.scalars(
                base.order_by(PersonRow.id).offset(max(offset, 0)).limit(min(max(limit, 1), MAX_PAGE))
            ).all()
        return {"total": int(total), "items": [_person(p) for p in rows]}

    def reveal_phone(self, principal: Principal, person_id: int, *, reason: str, ip: str | None) -> str:
        """The plain phone number for an authorised caller; every reveal is audited."""
        require(principal, Permission.CONTACT_REVEAL)
        with self.sessions.begin() as session:
            person = session.get(PersonRow, person_id)
            area = session.get(AreaRow, person.area_code) if person else None
            if person is None or area is None or not principal.can_see_path(area.path):
                self._refuse(principal, f"person:{person_id}")
                raise NotFound("org.person_not_found", id=person_id)
            if not person.phone_encrypted:
                raise NotFound("org.no_phone", id=person_id)
            record(session, self.clock, action="contact.reveal", actor=principal.username,
                   actor_id=principal.user_id, target=f"person:{person_id}", ip=ip, reason=reason)
            return self.vault.decrypt(person.phone_encrypted)

    def _refuse(self, principal: Principal, target: str) -> None:
        self.audit.record_now(action="scope.refused", actor=principal.username, actor_id=principal.user_id,
                              outcome="refused", target=target)


def _unit(u: UnitRow) -> dict[str, Any]:
    return {"id": u.id, "code": u.code, "name": u.name, "kind": u.kind, "level": u.level,
            "area_code": u.area_code}


def _person(p: PersonRow) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "kind": p.kind, "wuwei_role": p.wuwei_role, "unit_id": p.unit_id,
            "area_code": p.area_code, "phone": p.phone_masked}
