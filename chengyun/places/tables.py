"""Tables of the gazetteer: roads and points of interest imported by a street, and aliases of any place.

Compounds and buildings stay in `compounds`/`buildings` (areas); the gazetteer reads them, never copies them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from chengyun.db.base import Base
from chengyun.db.types import UTCDateTime

KINDS_SQL = "'road','poi'"


class PlaceRow(Base):
    """A road (with its course as a GeoJSON LineString) or a point of interest (school, clinic, market …)."""

    __tablename__ = "places"
    __table_args__ = (CheckConstraint(f"kind IN ({KINDS_SQL})", name="kind"),)

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), index=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(40))
    area_code: Mapped[str | None] = mapped_column(ForeignKey("areas.code", ondelete="RESTRICT"), index=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    geometry: Mapped[str | None] = mapped_column(Text)  # GeoJSON LineString of a road, WGS84
    source: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class PlaceAliasRow(Base):
    """Another name of a place (`places.code`) or of a compound (`compounds.code`): 怡湖小区 for 怡湖苑."""

    __tablename__ = "place_aliases"

    place_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    alias: Mapped[str] = mapped_column(String(100), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
