"""Tables of the area tree and the places inside it (residential compounds and their buildings)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chengyun.db.base import Base
from chengyun.db.types import UTCDateTime

LEVELS_SQL = "'city','district','street','community','grid','microgrid'"


class AreaRow(Base):
    """One node of the area tree; `path` is the materialised path used for subtree scopes."""

    __tablename__ = "areas"
    __table_args__ = (CheckConstraint(f"level IN ({LEVELS_SQL})", name="level"),)

    code: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(12), index=True)
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("areas.code", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(200), unique=True)
    geometry: Mapped[str | None] = mapped_column(Text)  # GeoJSON geometry, WGS84
    center_lon: Mapped[float | None] = mapped_column(Float)
    center_lat: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CompoundRow(Base):
    """A residential compound (小区/院落) inside a microgrid."""

    __tablename__ = "compounds"

    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code", ondelete="RESTRICT"), index=True)
    address: Mapped[str] = mapped_column(String(200))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    households: Mapped[int] = mapped_column(Integer, default=0)


class BuildingRow(Base):
    """A building of a compound, e.g. 3栋 with its units (单元) and floors."""

    __tablename__ = "buildings"

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    compound_code: Mapped[str] = mapped_column(
        ForeignKey("compounds.code", ondelete="CASCADE"), index=True
    )
    number: Mapped[str] = mapped_column(String(20))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    floors: Mapped[int] = mapped_column(Integer)
    units: Mapped[int] = mapped_column(Integer)
    households: Mapped[int] = mapped_column(Integer)
