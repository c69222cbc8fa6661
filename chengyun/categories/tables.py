"""The category catalogue table: one row per class or item, a self-reference for the tree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from chengyun.db.base import Base
from chengyun.db.types import UTCDateTime

KINDS_SQL = "'class','item'"
URGENCIES_SQL = "'critical','urgent','normal'"
LEVELS_SQL = "'property','community','street','district','city'"


class CategoryRow(Base):
    """A class (大类) or item (小类); limits are stored in their text form (`2h`, `5wd`)."""

    __tablename__ = "categories"
    __table_args__ = (
        CheckConstraint(f"kind IN ({KINDS_SQL})", name="kind"),
        CheckConstraint(f"urgency IN ({URGENCIES_SQL})", name="urgency"),
        CheckConstraint(f"handling_level IN ({LEVELS_SQL})", name="handling_level"),
    )

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("categories.code", ondelete="RESTRICT"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    urgency: Mapped[str] = mapped_column(String(10))
    response_limit: Mapped[str] = mapped_column(String(10))
    handling_limit: Mapped[str] = mapped_column(String(10))
    urgent_response_limit: Mapped[str] = mapped_column(String(10))
    urgent_handling_limit: Mapped[str] = mapped_column(String(10))
    handling_level: Mapped[str] = mapped_column(String(12))
    admission: Mapped[bool] = mapped_column(Boolean, default=False)
    self_handle: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
