"""The stored duty list: one row per rule; an import replaces the whole list in one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from chengyun.db.base import Base
from chengyun.db.types import UTCDateTime


class DutyRuleRow(Base):
    """A duty-list rule; `id` is the row number in the imported file, so explanations point at the file."""

    __tablename__ = "duty_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    category_code: Mapped[str] = mapped_column(String(20), index=True)
    area_level: Mapped[str] = mapped_column(String(12))
    area_code: Mapped[str | None] = mapped_column(String(18))
    handling_level: Mapped[str] = mapped_column(String(12))
    lead_unit: Mapped[str] = mapped_column(String(40))
    assist_units: Mapped[list[str]] = mapped_column(JSON, default=list)
    response_limit: Mapped[str | None] = mapped_column(String(10))
    handling_limit: Mapped[str | None] = mapped_column(String(10))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
