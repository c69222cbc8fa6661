"""What responders do with a run: acknowledge a notification (signed in, or by the link) and tick the checklist.

The first acknowledgement of a run stops its escalation (`acknowledged`); deliveries of tiers already sent go on.
Refusals are audited in a transaction of their own, so they survive the request's rollback.
"""

from __future__ import annotations

from sqlalchemy import Engine, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from chengyun.audit import record
from chengyun.auth.model import Principal
from chengyun.errors import Conflict, Forbidden, NotFound
from chengyun.linkage.model import PlanBook
from chengyun.linkage.policy import (
    NoticeStatus,
    RunState,
    check_step,
    clean_note,
    may_acknowledge,
    may_check,
    may_view,
    read_ack_token,
)
from chengyun.linkage.tables import LinkageRunRow, NotificationRow
from chengyun.linkage.views import NoticeView, RunView, notice_view, run_view
from chengyun.shared.clock import Clock

N, R = NotificationRow, LinkageRunRow
CHECK_RETRIES = 3


class Responses:
    """Acknowledgements and checklist progress (a part of `LinkageService`)."""

    sessions: sessionmaker[Session]
    clock: Clock
    plans: PlanBook
    ack_key: bytes
    locale: str
    _engine: Engine

    def acknowledge(self, principal: Principal, notification_id: int, note: str = "") -> NoticeView:
        """Confirm a notification (its user, or an operator in scope on the recipient's behalf); idempotent."""
        text = clean_note(note)
        with self.sessions.begin() as session:
            notice = session.get(N, notification_id)
            run = session.get(R, notice.run_id) if notice is not None else None
            if notice is None or run is None or not may_view(principal, run.area_path,
                                                             recipient=_receives(session, run.id, principal)):
                self._refuse(principal, "linkage.notification_not_found", notification_id)
                raise NotFound("linkage.notification_not_found", notification=notification_id)
            if not may_acknowledge(principal, notice.user_id, run.area_path):
                self._refuse(principal, "linkage.not_your_notification", notification_id)
                raise Forbidden("linkage.not_your_notification", notification=notification_id)
            self._ack(session, notice, run, principal.display_name, principal.user_id, text, "app")
            return notice_view(notice, self.locale, with_text=True)

    def acknowledge_token(self, token: str, note: str = "") -> NoticeView:
        """Confirm through the signed link of an external recipient (family, liaison): no sign-in needed."""
        text = clean_note(note)
        notification_id = read_ack_token(self.ack_key, token, self.clock.now())
        with self.sessions.begin() as session:
            notice = session.get(N, notification_id) if notification_id is not None else None
            run = session.get(R, notice.run_id) if notice is not None else None
            if notice is None or run is None:
                raise NotFound("linkage.ack_link_invalid")
            self._ack(session, notice, run, notice.recipient_label[:100], None, text, "link")
            return notice_view(notice, self.locale, with_text=True)

    def acknowledge_alarm(self, alarm_id: int, by: str, by_id: int | None = None) -> bool:
        """The alarm itself was acknowledged (e.g. on the console): its run stops escalating; False when there is
        no active run."""
        with self.sessions.begin() as session:
            run = session.scalar(select(R).where(R.alarm_id == alarm_id))
            if run is None or run.state != RunState.ACTIVE:
                return False
            run.state, run.acknowledged_at, run.acknowledged_by = RunState.ACKNOWLEDGED.value, self.clock.now(), by
            run.next_escalation_at, run.version = None, run.version + 1
            record(session, self.clock, action="linkage.acknowledge_alarm", actor=by[:100], actor_id=by_id,
                   target=f"linkage_run:{run.id}", alarm=alarm_id)
            return True

    def _ack(self, session: Session, notice: NotificationRow, run: LinkageRunRow, by: str, by_id: int | None,
             note: str, via: str) -> None:
        if notice.status == NoticeStatus.ACKNOWLEDGED:
            return  # the second tap of the same button changes nothing
        now = self.clock.now()
        notice.status, notice.acknowledged_at, notice.next_attempt_at = NoticeStatus.ACKNOWLEDGED.value, now, None
        notice.acknowledged_by, notice.acknowledged_by_id, notice.ack_note = by, by_id, note or None
        if run.state == RunState.ACTIVE:
            run.state, run.acknowledged_at, run.acknowledged_by = RunState.ACKNOWLEDGED.value, now, by
            run.next_escalation_at, run.version = None, run.version + 1
        session.flush()
        record(session, self.clock, action="linkage.acknowledge", actor=by, actor_id=by_id,
               target=f"linkage_notification:{notice.id}", run=run.id, alarm=run.alarm_id, via=via,
               confirm=notice.must_confirm, note=note)

    def check(self, principal: Principal, run_id: int, step: str, done: bool = True) -> RunView:
        """Tick (or untick) a checklist step of a run; concurrent ticks are both kept (version-checked write)."""
        for _ in range(CHECK_RETRIES):
            with self.sessions.begin() as session:
                run = session.get(R, run_id)
                recipient = run is not None and _receives(session, run.id, principal)
                if run is None or not may_view(principal, run.area_path, recipient=recipient):
                    self._refuse(principal, "linkage.run_not_found", run_id)
                    raise NotFound("linkage.run_not_found", run=run_id)
                if not may_check(principal, run.area_path, recipient=recipient):
                    self._refuse(principal, "linkage.may_not_check", run_id)
                    raise Forbidden("linkage.may_not_check", role=principal.role.value)
                plan = self.plans.by_key(run.plan)
                now = self.clock.now()
                progress = check_step(dict(run.checklist or {}), plan, step, done=done, by=principal.display_name,
                                      by_id=principal.user_id, at=now)
                moved = session.connection().execute(update(R).where(R.id == run_id, R.version == run.version)
                                                     .values(checklist=progress, version=run.version + 1)).rowcount
                if moved == 1:
                    record(session, self.clock, action="linkage.check", actor=principal.username,
                           actor_id=principal.user_id, target=f"linkage_run:{run_id}", step=step, done=done)
                    session.expire(run)
                    return run_view(run, plan, self.locale)
        raise Conflict("linkage.changed", run=run_id)

    def _refuse(self, principal: Principal, code: str, target: int) -> None:
        with self.sessions.begin() as session:
            record(session, self.clock, action="linkage.refused", actor=principal.username,
                   actor_id=principal.user_id, outcome="refused", target=str(target), code=code)


def _receives(session: Session, run_id: int, principal: Principal) -> bool:
    """True when the principal has an (in-app) notification of the run."""
    return bool(session.scalar(select(exists().where(N.run_id == run_id, N.user_id == principal.user_id))))
