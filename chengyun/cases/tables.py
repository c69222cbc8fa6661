"""Tables of the closed loop: cases (the current snapshot), their append-only timeline, and the duty list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from chengyun.db.base import Base
from chengyun.db.types import UTCDateTime


def _present(column: str) -> dict[str, Any]:
    """A partial index's predicate: only rows where the column holds a value."""
    predicate = text(f"{column} IS NOT NULL")
    return {"postgresql_where": predicate, "sqlite_where": predicate}


class CaseRow(Base):
    """A case's current state; `version` is the optimistic lock and equals the last timeline seq."""

    __tablename__ = "cases"
    __table_args__ = (
        # an upstream system's id is unique; most cases have none, and a partial index skips them (migration 0016)
        Index("ux_cases_external", "external_system", "external_id", unique=True, **_present("external_id")),
        Index("ix_cases_merged_into", "merged_into", **_present("merged_into")),
        Index("ix_cases_reporter_user_id", "reporter_user_id", **_present("reporter_user_id")),
        Index("ix_cases_closed_at", "closed_at", **_present("closed_at")),
        Index("ix_cases_reporter_phone_hash", "reporter_phone_hash", **_present("reporter_phone_hash")),
        Index("ix_cases_state_due", "state", "handling_due"),
        Index("ix_cases_lead_state", "lead_unit", "state"),
        # KPIs filter by period and scope and count repeat reporters: all three from the index alone
        Index("ix_cases_reported_at", "reported_at", "area_path", "reporter_phone_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    source: Mapped[str] = mapped_column(String(12), index=True)
    category_code: Mapped[str] = mapped_column(String(20), index=True)
    urgency: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20))  # indexed as the prefix of ix_cases_state_due
    version: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str] = mapped_column(String(200), default="")
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code", ondelete="RESTRICT"), index=True)
    area_path: Mapped[str] = mapped_column(String(200), index=True)
    community_code: Mapped[str | None] = mapped_column(String(18), index=True)
    handling_level: Mapped[str] = mapped_column(String(12))
    lead_unit: Mapped[str | None] = mapped_column(String(40))
    assist_units: Mapped[list[str]] = mapped_column(JSON, default=list)
    route_note: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the routing explanation
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)
    reporter_name: Mapped[str | None] = mapped_column(String(50))
    reporter_phone_hash: Mapped[str | None] = mapped_column(String(64))
    reporter_phone_encrypted: Mapped[str | None] = mapped_column(String(200))
    reporter_phone_masked: Mapped[str | None] = mapped_column(String(20))
    reporter_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    external_system: Mapped[str | None] = mapped_column(String(40))
    external_id: Mapped[str | None] = mapped_column(String(80))
    merged_into: Mapped[str | None] = mapped_column(String(32))
    resume_to: Mapped[str | None] = mapped_column(String(20))
    extension_pending: Mapped[str | None] = mapped_column(String(10))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handling_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pauses: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    rating: Mapped[str | None] = mapped_column(String(20))
    returns: Mapped[int] = mapped_column(Integer, default=0)
    escalations: Mapped[int] = mapped_column(Integer, default=0)
    urges: Mapped[int] = mapped_column(Integer, default=0)
    self_handled: Mapped[bool] = mapped_column(Boolean, default=False)
    # the same reporter (phone hash) had another case within REPEAT_WINDOW before this one (一人多诉)
    repeat_report: Mapped[bool] = mapped_column(Boolean, default=False)
    deadline_level: Mapped[str] = mapped_column(String(8), default="green")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # the KPI rollup's dirty days


class TimelineRow(Base):
    """One immutable step; (case_id, seq) is unique, so two concurrent steps cannot both be written."""

    __tablename__ = "case_timeline"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))  # the prefix of "step"
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_role: Mapped[str] = mapped_column(String(20))
    actor_unit: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[str]] = mapped_column(JSON, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class KpiDailyRow(Base):
    """Additive KPI counts of the cases reported on one local day, per place and one grain's key.

    Grains: `level` (handling level; also serves community, period and total), `unit` (lead unit), `class`
    (category class). `place_code` is the case's community, or its own area when it has none; scope filters join
    it to the area tree. Maintained by `cases.rollup`; never edited by hand.
    """

    __tablename__ = "case_kpi_daily"
    __table_args__ = (Index("ix_case_kpi_daily_grain_day", "grain", "day", "place_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10))  # local date YYYY-MM-DD of reported_at
    grain: Mapped[str] = mapped_column(String(8))
    key: Mapped[str | None] = mapped_column(String(40))
    place_code: Mapped[str] = mapped_column(String(18))
    community_code: Mapped[str | None] = mapped_column(String(18))
    cases: Mapped[int] = mapped_column(Integer)
    dispatched: Mapped[int] = mapped_column(Integer)
    responded: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    closed_with_due: Mapped[int] = mapped_column(Integer)
    closed_on_time: Mapped[int] = mapped_column(Integer)
    eligible: Mapped[int] = mapped_column(Integer)
    resolved: Mapped[int] = mapped_column(Integer)
    rated: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)
    returned: Mapped[int] = mapped_column(Integer)
    with_phone: Mapped[int] = mapped_column(Integer)
    repeated: Mapped[int] = mapped_column(Integer)
    claim_n: Mapped[int] = mapped_column(Integer)
    claim_hours: Mapped[float] = mapped_column(Float)
    handling_n: Mapped[int] = mapped_column(Integer)
    handling_hours: Mapped[float] = mapped_column(Float)
    closed_property: Mapped[int] = mapped_column(Integer)
    closed_community: Mapped[int] = mapped_column(Integer)
    closed_street: Mapped[int] = mapped_column(Integer)
    closed_district: Mapped[int] = mapped_column(Integer)
    closed_city: Mapped[int] = mapped_column(Integer)


class KpiRollupStateRow(Base):
    """When the rollup last refreshed (one row): days before that local day are read from the rollup."""

    __tablename__ = "case_kpi_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    utc_offset_minutes: Mapped[int] = mapped_column(Integer)
