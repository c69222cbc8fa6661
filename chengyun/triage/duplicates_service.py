"""Possible duplicates of a report being typed or of a case: an in-memory index of the recent cases.

Every process keeps its own `DuplicateIndex` of the cases reported in the last `window` (whatever the channel: a
report's case, an operator's phone call) and reads the cases added since its last look (by id) at most every
`every_s` seconds — a case opened through another process is found within seconds. Only open cases are offered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from chengyun.cases.model import OPEN_STATES
from chengyun.cases.tables import CaseRow
from chengyun.triage.duplicates import DuplicateIndex
from chengyun.triage.duplicates_model import DuplicateParams, Match, ReportKey

OPEN = frozenset(s.value for s in OPEN_STATES)
PROBE = "probe"  # the id of a report that is only being typed


@dataclass(frozen=True)
class SimilarCase:
    """An open case that looks like the same problem, with the best evidence among its reports."""

    number: str
    title: str
    category_code: str
    state: str
    similarity: float
    metres: float | None
    hours: float


class DuplicateFinder:
    """Recent cases in a duplicate index, refreshed incrementally from the database."""

    def __init__(self, engine: Engine, now: Callable[[], datetime], *, params: DuplicateParams | None = None,
                 window: timedelta = timedelta(days=30), every_s: float = 2.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._engine, self._now, self._window, self.every_s = engine, now, window, every_s
        self._params = params or DuplicateParams()
        self._monotonic = monotonic
        self._index = DuplicateIndex(self._params)
        self._case_of: dict[str, int] = {}  # report id → case id
        self._last_id = 0
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Load the recent cases now (at startup), not on the first lookup."""
        with self._lock:
            self._refresh()

    def similar_open_cases(self, text: str, lon: float | None, lat: float | None, *, category: str = "",
                           address: str = "", exclude_case: int | None = None, limit: int = 5) -> list[SimilarCase]:
        """Open cases that look like this text near this place and time, best first."""
        if not text.strip():
            return []
        probe = ReportKey(PROBE, text, lon, lat, self._now(), category or "", address or None)
        with self._lock:
            self._refresh()
            matches = [m for m in self._index.similar(probe) if m.id != PROBE]
            best: dict[int, Match] = {}
            for m in matches:
                case_id = self._case_of.get(m.id)
                if case_id is not None and case_id != exclude_case and case_id not in best:
                    best[case_id] = m
        return self._open_cases(best)[:limit]

    def _open_cases(self, best: dict[int, Match]) -> list[SimilarCase]:
        if not best:
            return []
        with self._engine.connect() as conn:
            rows = conn.execute(select(CaseRow.id, CaseRow.number, CaseRow.title, CaseRow.description,
                                       CaseRow.category_code, CaseRow.state)
                                .where(CaseRow.id.in_(list(best)))).all()
        found = [SimilarCase(r.number, r.title or r.description[:40], r.category_code, r.state,
                             best[r.id].similarity, best[r.id].metres, best[r.id].hours)
                 for r in rows if r.state in OPEN]
        return sorted(found, key=lambda c: (-c.similarity, c.metres or 0.0))

    def _refresh(self) -> None:
        now_s = self._monotonic()
        if now_s - self._checked < self.every_s:
            return
        self._checked = now_s
        since = self._now() - self._window
        table = CaseRow.__table__
        with self._engine.connect() as conn:
            rows = conn.execute(select(table.c.id, table.c.description, table.c.lon, table.c.lat,
                                       table.c.reported_at, table.c.category_code, table.c.address,
                                       table.c.reporter_phone_hash)
                                .where(table.c.id > self._last_id, table.c.reported_at >= since)
                                .order_by(table.c.id)).all()
        for r in rows:
            key = str(r.id)
            self._index.add(ReportKey(key, r.description, r.lon, r.lat, r.reported_at, r.category_code or "",
                                      r.address or None, r.reporter_phone_hash))
            self._case_of[key] = r.id
            self._last_id = max(self._last_id, r.id)
