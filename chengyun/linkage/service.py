"""The linked response: start a run for an alarm, escalate it, deliver, acknowledge, tick the checklist, close.

`start` resolves tier 0 and stores the run with every notification in one transaction; in-app notifications are
delivered by that commit (the row is what the user sees, the live hub wakes their streams) — the moment recorded
as `first_notified_at`. Other channels go out through `deliver_due` (retries with back-off, a delivery log);
`escalate_due` adds the next tiers when nobody has acknowledged in time. Every write is audited.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chengyun.adapters.notify import Message, Notifier
from chengyun.adapters.notify_hub import LiveHub
from chengyun.audit import record
from chengyun.linkage.channels import ChannelBook, ChannelKind
from chengyun.linkage.messages import AlarmView, render
from chengyun.linkage.model import AlarmFacts, Contact, Plan, PlanBook
from chengyun.linkage.policy import ACK_TOKEN_DAYS, NoticeStatus, RunState, make_ack_token, tier_due_at, tiers_due
from chengyun.linkage.queries import Queries
from chengyun.linkage.resolve import ContactsOf, Directory, Target, resolve_tier
from chengyun.linkage.responses import Responses
from chengyun.linkage.sending import DeliveryReport, Dispatcher
from chengyun.linkage.tables import LinkageRunRow, NotificationAttemptRow, NotificationRow
from chengyun.linkage.views import NO_RECIPIENT
from chengyun.shared.clock import Clock
from chengyun.shared.privacy import PersonalDataVault

N, R = NotificationRow, LinkageRunRow
SYSTEM = "system"


def no_contacts(_device_id: str) -> Sequence[Contact]:
    """The contacts lookup until the devices domain provides one: nobody."""
    return ()


@dataclass
class LinkageService(Responses, Queries):
    """Runs, escalation and delivery here; acknowledgements and checklists in `Responses`, reads in `Queries`."""

    sessions: sessionmaker[Session]
    clock: Clock
    vault: PersonalDataVault
    plans: PlanBook
    channels: ChannelBook
    directory: Directory
    notifier: Notifier
    hub: LiveHub
    ack_key: bytes
    contacts: ContactsOf = field(default=no_contacts)
    locale: str = "zh-CN"
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        self._engine: Engine = self.sessions.kw["bind"]
        self._tz = ZoneInfo(self.timezone)
        self.dispatcher = Dispatcher(self._engine, self.vault, self.notifier, self.ack_url, self.locale)

    # --- start, escalate, close ----------------------------------------------------------------------------

    def start(self, alarm: AlarmFacts) -> int:
        """Open the alarm's run and notify tier 0; the same alarm again returns the same run (idempotent)."""
        found = self.run_id_of(alarm.alarm_id)
        if found is not None:
            return found
        plan = self.plans.for_type(alarm.alarm_type)
        now = self.clock.now()
        targets = resolve_tier(plan.tiers[0], alarm, self.directory, self.contacts,
                               self.channels.for_path(alarm.area_path))
        view = self._view(alarm)  # every read before the write transaction, which stays short
        try:
            with self._engine.begin() as conn:
                run_id = conn.execute(insert(R).values(**_run_values(alarm, plan, now, targets))
                                      .returning(R.id)).scalar_one()
                users = self._insert_notices(conn, run_id, 0, plan, view, targets, now)
                record(conn, self.clock, action="linkage.start", actor=SYSTEM, target=f"linkage_run:{run_id}",
                       alarm=alarm.alarm_id, plan=plan.key, notifications=len(targets))
        except IntegrityError:  # started concurrently for the same alarm: the other run stands
            found = self.run_id_of(alarm.alarm_id)
            if found is None:
                raise
            return found
        self._wake(users)
        return run_id

    def escalate_due(self, now: datetime | None = None, limit: int = 100) -> int:
        """Add the next tiers of every unacknowledged run whose time has come; returns how many runs moved."""
        now = now or self.clock.now()
        stmt = (select(R).where(R.state == RunState.ACTIVE.value, R.next_escalation_at <= now)
                .order_by(R.next_escalation_at, R.id).limit(limit))
        with self.sessions() as session:
            runs = list(session.scalars(stmt))
            session.expunge_all()
        return sum(self._escalate(run, now) for run in runs)

    def _escalate(self, run: LinkageRunRow, now: datetime) -> int:
        plan = self.plans.by_key(run.plan)
        due = tiers_due(plan, run.current_tier, run.started_at, now)
        reached = due[-1] if due else run.current_tier
        alarm = facts_of(run)
        channels = self.channels.for_path(run.area_path)
        resolved = {t: resolve_tier(plan.tiers[t], alarm, self.directory, self.contacts, channels) for t in due}
        view = self._view(alarm)
        users: list[int] = []
        with self._engine.begin() as conn:
            moved = conn.execute(update(R).where(R.id == run.id, R.current_tier == run.current_tier,
                                                 R.state == RunState.ACTIVE.value)
                                 .values(current_tier=reached, version=R.version + 1,
                                         next_escalation_at=tier_due_at(plan, reached + 1, run.started_at)))
            if moved.rowcount != 1:
                return 0  # acknowledged, closed or escalated concurrently
            for tier, targets in resolved.items():
                users += self._insert_notices(conn, run.id, tier, plan, view, targets, now)
                record(conn, self.clock, action="linkage.escalate", actor=SYSTEM, target=f"linkage_run:{run.id}",
                       alarm=run.alarm_id, tier=tier, notifications=len(targets))
        self._wake(users)
        return 1 if due else 0

    def close(self, alarm_id: int, reason: str = "cleared") -> bool:
        """End the alarm's run (cleared or handled): no more tiers, unsent notifications cancelled."""
        now = self.clock.now()
        with self._engine.begin() as conn:
            run = conn.execute(select(R.id, R.state).where(R.alarm_id == alarm_id)).first()
            if run is None or run.state == RunState.CLOSED:
                return False
            conn.execute(update(R).where(R.id == run.id).values(
                state=RunState.CLOSED.value, closed_at=now, close_reason=reason[:40], next_escalation_at=None,
                version=R.version + 1))
            cancelled = conn.execute(update(N).where(N.run_id == run.id, N.status == NoticeStatus.PENDING.value)
                                     .values(status=NoticeStatus.CANCELLED.value, next_attempt_at=None)).rowcount
            record(conn, self.clock, action="linkage.close", actor=SYSTEM, target=f"linkage_run:{run.id}",
                   alarm=alarm_id, reason=reason[:40], cancelled=cancelled)
        return True

    # --- delivery ------------------------------------------------------------------------------------------

    def deliver_due(self, now: datetime | None = None, limit: int = 200) -> DeliveryReport:
        """Send the due notifications of every channel but in-app (retries with back-off, a delivery log)."""
        return self.dispatcher.deliver_due(now or self.clock.now(), limit)

    def ack_url(self, notification_id: int, now: datetime) -> str:
        """The acknowledge link a recipient outside the system opens on a phone (signed, valid 7 days)."""
        token = make_ack_token(self.ack_key, notification_id, now + timedelta(days=ACK_TOKEN_DAYS))
        return f"{self.channels.ack_base_url}/ack/{token}"

    # --- helpers ---------------------------------------------------------------------------------------------

    def run_id_of(self, alarm_id: int) -> int | None:
        """The run of an alarm, if one was started."""
        with self._engine.connect() as conn:
            found: int | None = conn.scalar(select(R.id).where(R.alarm_id == alarm_id))
            return found

    def _view(self, alarm: AlarmFacts) -> AlarmView:
        name = self.directory.area_name(alarm.area_path) if alarm.area_path else ""
        return AlarmView(alarm.alarm_type, str(alarm.severity), alarm.place_label, alarm.started_at, alarm.message,
                         name)

    def _insert_notices(self, conn: Connection, run_id: int, tier: int, plan: Plan, view: AlarmView,
                        targets: list[Target], now: datetime) -> list[int]:
        """Store a tier's notifications (in-app ones delivered by this very commit); the users to wake."""
        messages: dict[str, Message] = {}
        rows = []
        for target in targets:
            code = f"{target.kind.value}:{target.name}"
            if code not in messages:
                recipient = next(r for r in plan.tiers[tier].recipients if r.kind == target.kind
                                 and r.name == target.name)
                messages[code] = render(view, plan, recipient, tier, self.locale, self._tz)
            rows.append(self._notice_values(run_id, tier, target, messages[code], now))
        if not rows:
            return []
        stored = conn.execute(insert(N).returning(N.id, N.channel, N.user_id, sort_by_parameter_order=True),
                              rows).all()
        in_app = [row for row in stored if row.channel == ChannelKind.IN_APP]
        if in_app:
            conn.execute(insert(NotificationAttemptRow), [
                {"notification_id": row.id, "attempt": 1, "at": now, "ok": True, "sink": False, "status_code": None,
                 "error": None, "duration_ms": 0.0} for row in in_app])
            conn.execute(update(R).where(R.id == run_id, R.first_notified_at.is_(None)).values(first_notified_at=now))
        return [row.user_id for row in in_app if row.user_id is not None]

    def _notice_values(self, run_id: int, tier: int, target: Target, message: Message,
                       now: datetime) -> dict[str, Any]:
        status, error, attempts = NoticeStatus.PENDING, None, 0
        next_at: datetime | None = now
        sent_at: datetime | None = None
        if target.channel == ChannelKind.IN_APP:
            status, next_at, sent_at, attempts = NoticeStatus.SENT, None, now, 1
        elif target.channel == ChannelKind.NONE:
            status, error, next_at = NoticeStatus.FAILED, NO_RECIPIENT, None
        return {
            "run_id": run_id, "tier": tier, "recipient_kind": target.kind.value, "recipient_name": target.name,
            "recipient_label": target.label[:200], "dedup_key": self._stored_key(target.key),
            "user_id": target.user_id, "channel": target.channel.value, "target_encrypted": self._target(target),
            "title": message.title[:200], "message": message.text, "markdown": message.markdown,
            "must_confirm": target.confirm.get(self.locale)[:100], "status": status.value, "attempts": attempts,
            "next_attempt_at": next_at, "last_status": None, "last_error": error, "created_at": now,
            "sent_at": sent_at, "acknowledged_at": None, "acknowledged_by": None, "acknowledged_by_id": None,
            "ack_note": None,
        }

    def _stored_key(self, key: str) -> str:
        """Keys that carry an address are stored as a keyed hash (never the number or e-mail itself)."""
        if key.startswith(("user:", "none:")):
            return key[:120]
        channel, _, address = key.partition(":")
        return f"{channel}:{self.vault.match_hash(address)}"[:120]

    def _target(self, target: Target) -> str | None:
        endpoint = target.endpoint
        if endpoint is None:
            return None
        data = {"address": endpoint.address, "secret": endpoint.secret, "mentions": list(endpoint.mentions),
                "msgtype": endpoint.msgtype}
        return self.vault.encrypt(json.dumps(data, ensure_ascii=False))

    def _wake(self, users: list[int]) -> None:
        for user_id in sorted(set(users)):
            self.hub.publish(user_id)


def _run_values(alarm: AlarmFacts, plan: Plan, now: datetime, targets: list[Target]) -> dict[str, Any]:
    in_app = any(t.channel == ChannelKind.IN_APP for t in targets)
    return {
        "alarm_id": alarm.alarm_id, "alarm_type": alarm.alarm_type[:40], "severity": str(alarm.severity)[:16],
        "plan": plan.key, "device_id": alarm.device_id[:64], "area_code": alarm.area_code,
        "area_path": alarm.area_path[:200], "place_label": alarm.place_label[:200], "household": alarm.household,
        "detail": alarm.message[:500], "alarm_at": alarm.started_at, "started_at": now,
        "first_notified_at": now if in_app else None, "current_tier": 0,
        "next_escalation_at": tier_due_at(plan, 1, now), "state": RunState.ACTIVE.value, "checklist": {},
        "version": 1,
    }


def facts_of(run: LinkageRunRow) -> AlarmFacts:
    """The alarm facts a run was started with (for resolving later tiers)."""
    return AlarmFacts(run.alarm_id, run.alarm_type, run.severity, run.device_id, run.alarm_at, run.area_code,
                      run.area_path, run.place_label, run.household, run.detail)
