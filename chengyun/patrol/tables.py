"""Tables of patrol: one row per check-in (巡查打卡)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chengyun.db.base import Base
from chengyun.db.types import UTCDateTime


class CheckinRow(Base):
    """A grid worker was here at this time: the WGS84 point, its accuracy, the smallest area containing it.

    `client_key` is the phone's idempotency key: a check-in re-sent after a timeout is stored once per user.
    `area_code` is empty when the point lies outside every area (the check-in is kept all the same).
    """

    __tablename__ = "patrol_checkins"
    __table_args__ = (
        UniqueConstraint("user_id", "client_key", name="uq_patrol_checkins_client_key"),
        Index("ix_patrol_checkins_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    area_code: Mapped[str | None] = mapped_column(ForeignKey("areas.code", ondelete="RESTRICT"), index=True)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(200), default="")
    client_key: Mapped[str | None] = mapped_column(String(100))
