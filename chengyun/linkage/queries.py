"""Reading linkage: runs in the caller's scope, one run in full, the delivery log, my in-app inbox, the ack page."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from chengyun.auth.model import Principal
from chengyun.errors import NotFound
from chengyun.linkage.model import PlanBook
from chengyun.linkage.policy import VIEW_ROLES, may_view, read_ack_token
from chengyun.linkage.tables import LinkageRunRow, NotificationAttemptRow, NotificationRow
from chengyun.linkage.views import (
    AttemptView,
    InboxItem,
    NoticeView,
    RunView,
    attempt_view,
    inbox_item,
    notice_view,
    run_view,
)
from chengyun.shared.clock import Clock

N, R, A = NotificationRow, LinkageRunRow, NotificationAttemptRow
MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class AckPage:
    """What the public acknowledge page shows: the recipient's notification and its run (with the checklist)."""

    notice: NoticeView
    run: RunView


class Queries:
    """Reads (a part of `LinkageService`)."""

    sessions: sessionmaker[Session]
    clock: Clock
    plans: PlanBook
    ack_key: bytes
    locale: str
    _engine: Engine

    def runs(self, principal: Principal, *, alarm_id: int | None = None, state: str | None = None,
             limit: int = 50) -> list[RunView]:
        """Runs the caller may see (scope, or a notification of theirs), newest first."""
        mine = exists().where(N.run_id == R.id, N.user_id == principal.user_id)
        visible = or_(R.area_path.startswith(principal.scope_path, autoescape=True), mine) \
            if principal.role in VIEW_ROLES else mine
        stmt = select(R).where(visible).order_by(R.id.desc()).limit(max(1, min(limit, MAX_PAGE)))
        if alarm_id is not None:
            stmt = stmt.where(R.alarm_id == alarm_id)
        if state:
            stmt = stmt.where(R.state == state)
        with self.sessions() as session:
            return [run_view(row, self.plans.by_key(row.plan), self.locale) for row in session.scalars(stmt)]

    def run(self, principal: Principal, run_id: int) -> RunView:
        """One run with its checklist and every notification (tier, then id); NotFound outside the scope."""
        with self.sessions() as session:
            row = self._visible(session, principal, run_id)
            notices = session.scalars(select(N).where(N.run_id == run_id).order_by(N.tier, N.id))
            views = [notice_view(n, self.locale) for n in notices]
            return run_view(row, self.plans.by_key(row.plan), self.locale, views)

    def deliveries(self, principal: Principal, run_id: int) -> list[AttemptView]:
        """Every delivery attempt of the run's notifications, oldest first."""
        with self.sessions() as session:
            self._visible(session, principal, run_id)
            stmt = (select(A).join(N, N.id == A.notification_id).where(N.run_id == run_id)
                    .order_by(A.at, A.id))
            return [attempt_view(row) for row in session.scalars(stmt)]

    def inbox(self, principal: Principal, *, limit: int = 50, before_id: int | None = None) -> list[InboxItem]:
        """My in-app notifications, newest first."""
        stmt = (select(N, R).join(R, R.id == N.run_id).where(N.user_id == principal.user_id)
                .order_by(N.id.desc()).limit(max(1, min(limit, MAX_PAGE))))
        if before_id is not None:
            stmt = stmt.where(N.id < before_id)
        with self.sessions() as session:
            return [inbox_item(n, r, self.locale) for n, r in session.execute(stmt).all()]

    def inbox_since(self, user_id: int, after_id: int, limit: int = 50) -> list[InboxItem]:
        """The user's in-app notifications with an id above `after_id`, oldest first (the live stream's poll)."""
        stmt = (select(N, R).join(R, R.id == N.run_id).where(N.user_id == user_id, N.id > after_id)
                .order_by(N.id).limit(limit))
        with self.sessions() as session:
            return [inbox_item(n, r, self.locale) for n, r in session.execute(stmt).all()]

    def latest_inbox_id(self, user_id: int) -> int:
        """The newest in-app notification id of the user (0 when none): where a new stream starts."""
        with self._engine.connect() as conn:
            return int(conn.scalar(select(func.coalesce(func.max(N.id), 0)).where(N.user_id == user_id)) or 0)

    def ack_page(self, token: str) -> AckPage:
        """The notification and run behind an acknowledge link; NotFound for any bad or expired link."""
        notification_id = read_ack_token(self.ack_key, token, self.clock.now())
        with self.sessions() as session:
            notice = session.get(N, notification_id) if notification_id is not None else None
            run = session.get(R, notice.run_id) if notice is not None else None
            if notice is None or run is None:
                raise NotFound("linkage.ack_link_invalid")
            return AckPage(notice_view(notice, self.locale, with_text=True),
                           run_view(run, self.plans.by_key(run.plan), self.locale))

    @staticmethod
    def _visible(session: Session, principal: Principal, run_id: int) -> LinkageRunRow:
        row = session.get(R, run_id)
        mine = row is not None and bool(session.scalar(select(exists().where(N.run_id == run_id,
                                                                               N.user_id == principal.user_id))))
        if row is None or not may_view(principal, row.area_path, recipient=mine):
            raise NotFound("linkage.run_not_found", run=run_id)
        return row
