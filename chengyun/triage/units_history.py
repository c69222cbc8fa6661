"""Who finally handled past cases, read for unit suggestions: one aggregate query and a cache refreshed every N s.

A case counts once its unit has handled it (result submitted, verified, closed or followed up) and it has a lead
unit — the unit after the last redispatch or escalation, not the first one that returned it; self-handled cases
(grid workers) have none and are left out. SQLAlchemy Core, the same statement on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, Engine, Select, func, select

from chengyun.areas.tables import AreaRow
from chengyun.cases.model import CaseState
from chengyun.cases.tables import CaseRow
from chengyun.org.model import UnitKind
from chengyun.org.tables import UnitRow
from chengyun.triage.units import HistoryRow, UnitHistory, UnitPlace, build_history

HANDLED_STATES = tuple(s.value for s in (CaseState.RESULT_SUBMITTED, CaseState.VERIFIED, CaseState.CLOSED,
                                         CaseState.FOLLOWED_UP))
DEFAULT_WINDOW = timedelta(days=365)
DEFAULT_EVERY_S = 300.0


def history_statement(since: datetime, until: datetime) -> Select[Any]:
    """Handled cases reported in [since, until) per category, located area and final lead unit."""
    columns: list[Any] = [CaseRow.category_code, CaseRow.area_path, CaseRow.lead_unit, func.count().label("cases")]
    return (select(*columns)
            .where(CaseRow.reported_at >= since, CaseRow.reported_at < until,
                   CaseRow.state.in_(HANDLED_STATES), CaseRow.lead_unit.is_not(None))
            .group_by(CaseRow.category_code, CaseRow.area_path, CaseRow.lead_unit))


def load_history(conn: Connection, since: datetime, until: datetime) -> UnitHistory:
    """The history of cases reported in [since, until), folded up the area tree."""
    rows = conn.execute(history_statement(since, until))
    return build_history(HistoryRow(r.category_code, r.area_path, r.lead_unit, int(r.cases)) for r in rows)


def load_unit_places(conn: Connection) -> dict[str, UnitPlace]:
    """Every unit's area path and kind, for the push-down guard."""
    stmt = select(UnitRow.code, UnitRow.kind, AreaRow.path).join(AreaRow, AreaRow.code == UnitRow.area_code)
    return {code: UnitPlace(path, UnitKind(kind)) for code, kind, path in conn.execute(stmt)}


@dataclass(frozen=True)
class UnitsKnowledge:
    """What suggesting needs from storage: the handled-case history and the unit directory, loaded together."""

    history: UnitHistory
    units: Mapping[str, UnitPlace]
    loaded_at: datetime


class HistoryCache:
    """The history of the last `window` and the unit directory, reloaded at most every `every_s` seconds."""

    def __init__(self, engine: Engine, now: Callable[[], datetime], *, window: timedelta = DEFAULT_WINDOW,
                 every_s: float = DEFAULT_EVERY_S, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._now = now
        self._window = window
        self._every_s = every_s
        self._monotonic = monotonic
        self._value: UnitsKnowledge | None = None
        self._loaded = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> UnitsKnowledge:
        """The cached knowledge, reloaded first when it is older than `every_s` (one reader reloads at a time)."""
        with self._lock:
            if self._value is None or self._monotonic() - self._loaded >= self._every_s:
                self._value = self._load()
                self._loaded = self._monotonic()
            return self._value

    def forget(self) -> None:
        """Reload on the next `get()` (after a bulk import of history, say)."""
        with self._lock:
            self._value = None

    def _load(self) -> UnitsKnowledge:
        now = self._now()
        with self._engine.connect() as conn:
            history = load_history(conn, now - self._window, now)
            units = load_unit_places(conn)
        return UnitsKnowledge(history, MappingProxyType(units), now)
