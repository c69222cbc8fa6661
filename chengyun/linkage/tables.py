"""Tables of linkage: one run per alarm, its notifications (per recipient and channel) and every delivery attempt.

`alarm_id` is a plain integer (no foreign key): linkage keys on the alarm without depending on the alarms tables.
Phone numbers, e-mail addresses and robot URLs (which carry their keys) are stored only encrypted
(`target_encrypted`, with the personal-data vault); `recipient_label` shows them masked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chengyun.db.base import Base
from chengyun.db.types import UTCDateTime


class LinkageRunRow(Base):
    """The linked response to one alarm: its plan, the tier reached, state, and checklist progress."""

    __tablename__ = "linkage_runs"
    __table_args__ = (Index("ix_linkage_runs_due", "state", "next_escalation_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(Integer, unique=True)
    alarm_type: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16))
    plan: Mapped[str] = mapped_column(String(40))
    device_id: Mapped[str] = mapped_column(String(64))
    area_code: Mapped[str | None] = mapped_column(String(18))
    area_path: Mapped[str] = mapped_column(String(200), index=True)
    place_label: Mapped[str] = mapped_column(String(200))
    household: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(String(500))
    alarm_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_tier: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))  # active, acknowledged, closed
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(String(40))
    checklist: Mapped[dict[str, Any]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)


class NotificationRow(Base):
    """One party of one tier reached through one channel: what was said, its delivery status and the ack."""

    __tablename__ = "linkage_notifications"
    __table_args__ = (
        UniqueConstraint("run_id", "tier", "dedup_key", name="uq_linkage_notifications_recipient"),
        Index("ix_linkage_notifications_due", "status", "next_attempt_at"),
        Index("ix_linkage_notifications_inbox", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("linkage_runs.id", ondelete="CASCADE"), index=True)
    tier: Mapped[int] = mapped_column(Integer)
    recipient_kind: Mapped[str] = mapped_column(String(20))
    recipient_name: Mapped[str] = mapped_column(String(40))  # the liaison's name, else empty
    recipient_label: Mapped[str] = mapped_column(String(200))  # display name; phones and e-mails masked
    dedup_key: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(Integer)  # in-app recipient
    channel: Mapped[str] = mapped_column(String(12))
    target_encrypted: Mapped[str | None] = mapped_column(Text)  # address, secret, mentions (vault-encrypted JSON)
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    markdown: Mapped[str] = mapped_column(Text)
    must_confirm: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_by_id: Mapped[int | None] = mapped_column(Integer)
    ack_note: Mapped[str | None] = mapped_column(String(500))


class NotificationAttemptRow(Base):
    """The delivery log: every attempt of every notification with its outcome."""

    __tablename__ = "linkage_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("linkage_notifications.id", ondelete="CASCADE"),
                                                 index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    sink: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))
    duration_ms: Mapped[float | None] = mapped_column(Float)
