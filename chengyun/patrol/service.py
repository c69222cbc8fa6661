"""Use cases of patrol: a grid worker checks in where they are; they (and staff in scope) read the check-ins."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from chengyun.areas.service import AreaService
from chengyun.audit import record
from chengyun.auth.model import Principal, Role
from chengyun.errors import Forbidden, Invalid, NotFound
from chengyun.intake.model import clean_key, clean_text
from chengyun.patrol.tables import CheckinRow
from chengyun.shared.clock import Clock
from chengyun.shared.geo import CoordSystem, to_wgs84

MAX_NOTE = 200
MAX_ACCURACY_M = 100_000.0
PATROLLERS = frozenset({Role.GRID_WORKER})


@dataclass(frozen=True, slots=True)
class CheckIn:
    """What the phone sends: a point (any declared coordinate system), its accuracy, a note, its retry key."""

    lon: float
    lat: float
    accuracy_m: float | None = None
    note: str = ""
    crs: CoordSystem = CoordSystem.WGS84
    client_key: str | None = None


@dataclass
class PatrolService:
    """Check-ins of grid workers, each located to the smallest area containing it."""

    sessions: sessionmaker[Session]
    clock: Clock
    areas: AreaService

    def check_in(self, principal: Principal, checkin: CheckIn) -> tuple[CheckinRow, bool]:
        """Store a check-in (True) or, for a key already used by this person, return the first one (False)."""
        if principal.role not in PATROLLERS or not principal.user_id:
            raise Forbidden("patrol.grid_workers_only", role=principal.role.value)
        lon, lat, accuracy = _checked(checkin)
        key = clean_key(checkin.client_key, "idempotency_key")
        note = clean_text(checkin.note, "note", MAX_NOTE)
        if key is not None and (found := self._by_key(principal.user_id, key)) is not None:
            return found, False
        chain = self.areas.index().locate(lon, lat)
        row = CheckinRow(user_id=principal.user_id, lon=lon, lat=lat, area_code=chain[-1].code if chain else None,
                         accuracy_m=accuracy, at=self.clock.now(), note=note, client_key=key)
        try:
            with self.sessions.begin() as session:
                session.add(row)
                session.flush()
                record(session, self.clock, action="patrol.check_in", actor=principal.username,
                       actor_id=principal.user_id, target=f"checkin:{row.id}", area=row.area_code)
                session.expunge(row)
        except IntegrityError:  # the same key sent twice at once: answer with the stored one
            if key is None or (found := self._by_key(principal.user_id, key)) is None:
                raise
            return found, False
        return row, True

    def recent(self, principal: Principal, limit: int = 10) -> list[CheckinRow]:
        """The caller's own latest check-ins, newest first."""
        if not 1 <= limit <= 200:
            raise Invalid("patrol.bad_limit", limit=limit)
        with self.sessions() as session:
            rows = list(session.scalars(select(CheckinRow).where(CheckinRow.user_id == principal.user_id)
                                        .order_by(CheckinRow.at.desc(), CheckinRow.id.desc()).limit(limit)))
            session.expunge_all()
        return rows

    def _by_key(self, user_id: int, key: str) -> CheckinRow | None:
        with self.sessions() as session:
            row = session.scalar(select(CheckinRow).where(CheckinRow.user_id == user_id,
                                                          CheckinRow.client_key == key))
            if row is not None:
                session.expunge(row)
        return row


def _checked(checkin: CheckIn) -> tuple[float, float, float | None]:
    """The WGS84 point and the accuracy, refused precisely when not finite or out of range."""
    if not (math.isfinite(checkin.lon) and math.isfinite(checkin.lat)) or not (
            -180 <= checkin.lon <= 180 and -90 <= checkin.lat <= 90):
        raise Invalid("patrol.bad_point", lon=checkin.lon, lat=checkin.lat)
    accuracy = checkin.accuracy_m
    if accuracy is not None and not (math.isfinite(accuracy) and 0 <= accuracy <= MAX_ACCURACY_M):
        raise Invalid("patrol.bad_accuracy", accuracy=accuracy, max=MAX_ACCURACY_M)
    lon, lat = to_wgs84(checkin.lon, checkin.lat, checkin.crs)
    return lon, lat, accuracy


__all__ = ["CheckIn", "NotFound", "PatrolService"]
