"""What readers of linkage see: runs with their notifications and checklist, inbox items, delivery attempts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from chengyun.i18n import translate
from chengyun.linkage.messages import alarm_type_label, severity_label
from chengyun.linkage.model import Plan
from chengyun.linkage.tables import LinkageRunRow, NotificationAttemptRow, NotificationRow

NO_RECIPIENT = "linkage.no_recipient"


@dataclass(frozen=True, slots=True)
class NoticeView:
    """One notification: to whom, how, what they must confirm, and where its delivery and ack stand."""

    id: int
    run_id: int
    tier: int
    recipient_kind: str
    recipient_name: str
    recipient_label: str
    channel: str
    must_confirm: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    ack_note: str | None
    title: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class StepView:
    """One checklist step and its progress."""

    code: str
    text: str
    done: bool = False
    by: str | None = None
    at: str | None = None


@dataclass(frozen=True, slots=True)
class RunView:
    """A run with its plan's name, state, tier, checklist and (for the detail) notifications."""

    id: int
    alarm_id: int
    alarm_type: str
    alarm_label: str
    severity: str
    severity_label: str
    plan: str
    plan_name: str
    device_id: str
    area_code: str | None
    place_label: str
    detail: str
    state: str
    current_tier: int
    tiers: int
    alarm_at: datetime
    started_at: datetime
    first_notified_at: datetime | None
    next_escalation_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    closed_at: datetime | None
    checklist: list[StepView] = field(default_factory=list)
    notifications: list[NoticeView] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class InboxItem:
    """An in-app notification as its recipient sees it."""

    id: int
    run_id: int
    alarm_id: int
    alarm_type: str
    alarm_label: str
    tier: int
    title: str
    message: str
    must_confirm: str
    status: str
    run_state: str
    created_at: datetime
    acknowledged_at: datetime | None


@dataclass(frozen=True, slots=True)
class AttemptView:
    """One delivery attempt from the log."""

    notification_id: int
    attempt: int
    at: datetime
    ok: bool
    sink: bool
    status_code: int | None
    error: str | None
    duration_ms: float | None


def notice_view(row: NotificationRow, locale: str, *, with_text: bool = False) -> NoticeView:
    """A notification row as a view (the error of an unresolved party translated)."""
    error = translate(NO_RECIPIENT, locale) if row.last_error == NO_RECIPIENT else row.last_error
    return NoticeView(row.id, row.run_id, row.tier, row.recipient_kind, row.recipient_name, row.recipient_label,
                      row.channel, row.must_confirm, row.status, row.attempts, error, row.created_at, row.sent_at,
                      row.acknowledged_at, row.acknowledged_by, row.ack_note,
                      row.title if with_text else "", row.message if with_text else "")


def steps_view(plan: Plan, progress: dict[str, Any], locale: str) -> list[StepView]:
    """The plan's checklist with what has been ticked."""
    out = []
    for step in plan.checklist:
        mark = progress.get(step.code) or {}
        out.append(StepView(step.code, step.text.get(locale), bool(mark.get("done")), mark.get("by"), mark.get("at")))
    return out


def run_view(row: LinkageRunRow, plan: Plan, locale: str, notices: list[NoticeView] | None = None) -> RunView:
    """A run row as a view."""
    return RunView(
        row.id, row.alarm_id, row.alarm_type, alarm_type_label(row.alarm_type, locale), row.severity,
        severity_label(row.severity, locale), row.plan, plan.name.get(locale), row.device_id, row.area_code,
        row.place_label, row.detail, row.state, row.current_tier, len(plan.tiers), row.alarm_at, row.started_at,
        row.first_notified_at, row.next_escalation_at, row.acknowledged_at, row.acknowledged_by, row.closed_at,
        steps_view(plan, dict(row.checklist or {}), locale), notices or [])


def inbox_item(notice: NotificationRow, run: LinkageRunRow, locale: str) -> InboxItem:
    """An in-app notification with its run's state."""
    return InboxItem(notice.id, run.id, run.alarm_id, run.alarm_type, alarm_type_label(run.alarm_type, locale),
                     notice.tier, notice.title, notice.message, notice.must_confirm, notice.status, run.state,
                     notice.created_at, notice.acknowledged_at)


def attempt_view(row: NotificationAttemptRow) -> AttemptView:
    """A delivery-log row as a view."""
    return AttemptView(row.notification_id, row.attempt, row.at, row.ok, row.sink, row.status_code, row.error,
                       row.duration_ms)


def as_json(view: Any) -> dict[str, Any]:
    """A view as JSON-ready data: datetimes in ISO 8601 (UTC)."""
    data: dict[str, Any] = _jsonable(asdict(view))
    return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
