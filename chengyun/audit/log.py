"""Writing and reading the audit log; writes join the caller's transaction unless told otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.orm import Session, sessionmaker

from chengyun.audit.tables import AuditEventRow
from chengyun.db.lean import LeanStatement
from chengyun.shared.clock import Clock

COLUMNS = ("at", "actor", "actor_id", "action", "outcome", "target", "ip", "detail")
_INSERT_EVENT = LeanStatement(insert(AuditEventRow).values({name: bindparam(name) for name in COLUMNS}),
                              writes=True)


def record(
    session: Session | Connection,
    clock: Clock,
    *,
    action: str,
    actor: str,
    actor_id: int | None = None,
    outcome: str = "ok",
    target: str | None = None,
    ip: str | None = None,
    **detail: Any,
) -> None:
    """Write an audit event in the session's current transaction (a plain INSERT: it is on every case opening)."""
    conn = session.connection() if isinstance(session, Session) else session
    write_event(conn, event(clock, action=action, actor=actor, actor_id=actor_id, outcome=outcome, target=target,
                            ip=ip, **detail))


def event(clock: Clock, *, action: str, actor: str, actor_id: int | None = None, outcome: str = "ok",
          target: str | None = None, ip: str | None = None, **detail: Any) -> dict[str, Any]:
    """An audit event's column values (for a caller that writes it together with its own rows)."""
    return {"at": clock.now(), "actor": actor, "actor_id": actor_id, "action": action, "outcome": outcome,
            "target": target, "ip": ip, "detail": detail}


def write_event(conn: Connection, values: dict[str, Any]) -> None:
    """Write an event made by `event` in the connection's current transaction."""
    _INSERT_EVENT.execute(conn, values)


@dataclass
class AuditLog:
    """Audit writes that must survive a failed request (refusals), and paged reads."""

    sessions: sessionmaker[Session]
    clock: Clock

    def record_now(self, **kwargs: Any) -> None:
        """Record in a transaction of its own, so a refusal is kept even when the request rolls back."""
        with self.sessions.begin() as session:
            record(session, self.clock, **kwargs)

    def recent(
        self, *, limit: int = 100, action: str | None = None, before_id: int | None = None
    ) -> Sequence[AuditEventRow]:
        """Newest first, optionally filtered by action and paged by id."""
        stmt = select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(min(limit, 500))
        if action:
            stmt = stmt.where(AuditEventRow.action == action)
        if before_id:
            stmt = stmt.where(AuditEventRow.id < before_id)
        with self.sessions() as session:
            return session.scalars(stmt).all()

    def since(self, at: datetime) -> Sequence[AuditEventRow]:
        """Everything at or after an instant, oldest first."""
        with self.sessions() as session:
            return session.scalars(
                select(AuditEventRow).where(AuditEventRow.at >= at).order_by(AuditEventRow.id)
            ).all()
