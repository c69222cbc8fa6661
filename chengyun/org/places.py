"""Where each unit answers, in memory: what the dispatch guard asks on every dispatch.

Units are written rarely (an import, the demo) and read on every dispatch, so this is a `Snapshot` like the
catalogue and the duty list. Its fingerprint is the whole small table (code, kind, area path), so any change, also
one made by hand in SQL or an area moved to another parent, is seen within the check interval; a code the snapshot
lacks (a unit added a moment ago) is read from the database instead of refused.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chengyun.areas.tables import AreaRow
from chengyun.org.model import UnitPlace
from chengyun.org.tables import UnitRow
from chengyun.shared.snapshot import Snapshot

_PLACES = select(UnitRow.code, UnitRow.kind, AreaRow.path).join(AreaRow, AreaRow.code == UnitRow.area_code)


class UnitPlaces:
    """Unit code → `UnitPlace`, checked against the database at most every few seconds."""

    def __init__(self, sessions: sessionmaker[Session], *, every_s: float | None = None) -> None:
        self._sessions = sessions
        options = {} if every_s is None else {"every_s": every_s}
        self._snapshot: Snapshot[dict[str, UnitPlace]] = Snapshot(sessions, _fingerprint, _load, **options)

    def get(self, code: str) -> UnitPlace | None:
        """The unit's place, or None when no unit has this code."""
        found = self._snapshot.get().get(code)
        if found is not None:
            return found
        with self._sessions() as session:  # added since the last check, or unknown: one point read
            row = session.execute(_PLACES.where(UnitRow.code == code)).first()
        return UnitPlace(row.kind, row.path) if row is not None else None

    def forget(self) -> None:
        """Reload on the next read (after this process changed units)."""
        self._snapshot.forget()


def _fingerprint(session: Session) -> tuple[tuple[str, str, str], ...]:
    return tuple((code, kind, path) for code, kind, path in session.execute(_PLACES.order_by(UnitRow.code)))


def _load(session: Session) -> dict[str, UnitPlace]:
    return {code: UnitPlace(kind, path) for code, kind, path in _fingerprint(session)}
