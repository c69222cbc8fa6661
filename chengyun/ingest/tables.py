"""Tables of ingestion: refused device messages kept for inspection, and each worker's latest counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from chengyun.db.base import Base
from chengyun.db.types import UTCDateTime


class QuarantineRow(Base):
    """One refused (or shed) device message: topic, the first 4 KB of the payload and its full size, the reason
    code with its params, when it arrived and which worker refused it. Written in batches; pruned by age."""

    __tablename__ = "ingest_quarantine"
    __table_args__ = (
        Index("ix_ingest_quarantine_received_at", "received_at"),
        Index("ix_ingest_quarantine_reason_received_at", "reason", "received_at"),
        Index("ix_ingest_quarantine_device_received_at", "device_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(256))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(80))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    worker_id: Mapped[str] = mapped_column(String(64))


class WorkerStatsRow(Base):
    """The latest counters of one ingest worker (accepted, duplicate, quarantined by reason, shed, transitions)
    since it started, written every few seconds; `chengyun ingest quarantine` adds them up."""

    __tablename__ = "ingest_workers"

    worker_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    counters: Mapped[dict[str, Any]] = mapped_column(JSON)
