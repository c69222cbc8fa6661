"""Tables of alarms: one row per alarm (its current state and place) and its own append-only history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from chengyun.db.base import Base
from chengyun.db.types import UTCDateTime

ACTIVE_ONLY = text("active")
"""The partial index's condition (SQLite and PostgreSQL both index only the rows where it holds)."""


class AlarmRow(Base):
    """An alarm of one rule on one device; `version` is the optimistic lock.

    At most one row per (device, rule) is active: a partial unique index says so, so two writers racing to raise the
    same alarm cannot both succeed. The place is copied from the device when the alarm is raised (area path for
    scope and propagation to community and street; `place_codes` as `/building/compound/` for buildings and
    compounds), so the alarm stays where it happened if the device moves later.
    """

    __tablename__ = "alarms"
    __table_args__ = (
        Index("uq_alarms_one_active", "device_id", "rule_id", unique=True,
              sqlite_where=ACTIVE_ONLY, postgresql_where=ACTIVE_ONLY),
        Index("ix_alarms_device_rule", "device_id", "rule_id"),
        Index("ix_alarms_active_last", "active", "last_at"),
        Index("ix_alarms_case_state", "case_state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(64))
    alarm_type: Mapped[str] = mapped_column(String(40), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean)
    acknowledged: Mapped[bool] = mapped_column(Boolean, default=False)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=1)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cleared_by: Mapped[str | None] = mapped_column(String(64))
    clearer: Mapped[str | None] = mapped_column(String(8))  # rule | person
    area_code: Mapped[str | None] = mapped_column(String(18))
    area_path: Mapped[str] = mapped_column(String(200), index=True, default="")
    place_codes: Mapped[str] = mapped_column(String(200), default="")
    household: Mapped[str | None] = mapped_column(String(80), index=True)
    resident_id: Mapped[int | None] = mapped_column(Integer)
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    case_number: Mapped[str | None] = mapped_column(String(32), index=True)
    case_state: Mapped[str] = mapped_column(String(8), default="none")  # none | pending | opened | failed
    case_error: Mapped[str | None] = mapped_column(String(80))
    case_attempts: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)


class AlarmEventRow(Base):
    """One step of an alarm's history: raised, updated, acknowledged, cleared, commented, assigned, case opened.

    `case_sync` says whether the step is still to be written into the linked case's timeline (`pending`), was
    (`done`), could not be (`skipped`, e.g. the case was closed meanwhile) or is not meant to be (`none`).
    """

    __tablename__ = "alarm_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    case_sync: Mapped[str] = mapped_column(String(8), index=True, default="none")
