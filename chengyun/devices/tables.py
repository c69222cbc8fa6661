"""Tables of devices: device instances bound to places, residents in care (独居老人 …) and their contacts.

Phone numbers are stored as a keyed hash (matching), encrypted (authorised reveal) and masked (screens), never
plain. A device's credential is stored only as HMAC-SHA256 under the instance key. `updated_at` moves only when
what the in-memory directory holds changes (never on `last_seen_at`), so other processes refresh cheaply.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from chengyun.db.base import Base
from chengyun.db.types import UTCDateTime

STATUSES_SQL = "'online','offline'"


class CareResidentRow(Base):
    """A resident a device watches over (e.g. an elderly person living alone), identified by home and name.

    `home` is the household key of the resident's devices (or, without a room, the place code or `device:<id>`)."""

    __tablename__ = "care_residents"
    __table_args__ = (UniqueConstraint("home", "name", name="uq_care_residents_home_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    home: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(50))
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_encrypted: Mapped[str | None] = mapped_column(String(200))
    phone_masked: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(String(500), default="")
    area_code: Mapped[str | None] = mapped_column(ForeignKey("areas.code", ondelete="RESTRICT"), index=True)
    area_path: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CareContactRow(Base):
    """Someone to notify about a resident (family, neighbour), in order `seq` (1 first)."""

    __tablename__ = "care_contacts"
    __table_args__ = (UniqueConstraint("resident_id", "seq", name="uq_care_contacts_resident_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("care_residents.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(50))
    relation: Mapped[str] = mapped_column(String(20), default="")
    phone_hash: Mapped[str] = mapped_column(String(64), index=True)
    phone_encrypted: Mapped[str] = mapped_column(String(200))
    phone_masked: Mapped[str] = mapped_column(String(20))


class DeviceRow(Base):
    """One device: external `device_id` (unique, also in its MQTT topic), type, place, located area, resident,
    credential hash, and its online status with the time last heard from."""

    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint(f"status IN ({STATUSES_SQL})", name="status"),
        Index("ix_devices_sweep", "status", "type_code"),  # not last_seen_at: it changes on every message batch
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    type_code: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code", ondelete="RESTRICT"), index=True)
    area_path: Mapped[str] = mapped_column(String(200), index=True)
    place_code: Mapped[str | None] = mapped_column(String(40), index=True)  # gazetteer code: building, compound …
    compound_code: Mapped[str | None] = mapped_column(String(40))  # the compound above a building
    building: Mapped[str] = mapped_column(String(20), default="")
    unit: Mapped[str] = mapped_column(String(20), default="")
    room: Mapped[str] = mapped_column(String(20), default="")
    household: Mapped[str | None] = mapped_column(String(120), index=True)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("care_residents.id", ondelete="SET NULL"),
                                                    index=True)
    credential_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8), default="offline")
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
