"""Use cases of the big screen: the focus area (drill-down within the caller's scope), panels, layers, the map."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from chengyun.areas.locate import AreaIndex
from chengyun.areas.model import AreaLevel
from chengyun.areas.repository import AreaRepository
from chengyun.areas.service import AreaService
from chengyun.areas.tables import AreaRow
from chengyun.auth.model import Principal, Role
from chengyun.errors import Forbidden, Invalid
from chengyun.screen.model import Cursor, LayerPoint
from chengyun.screen.panels import HOT_DAYS, PANELS, Panel, layer, panel
from chengyun.screen.queries import Context
from chengyun.screen.sources import SOURCES, newest_ids
from chengyun.shared.clock import Clock
from chengyun.triage.hot import HotIssue
from chengyun.triage.hot_service import HotService

VIEWERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.AUDITOR})  # who may open the screen (as /hot)
HOT_TTL_S = 120.0  # the hot issues of a focus are recomputed (in the background) when older than this
MAX_OUTLINE_RINGS = 5000


@dataclass(frozen=True, slots=True)
class Focus:
    """The area the screen shows: inside the caller's scope, with the chain from the scope's top down to it."""

    code: str
    name: str
    level: str
    path: str
    chain: tuple[tuple[str, str, str], ...]  # (code, name, level) from the caller's scope area to the focus


@dataclass
class ScreenService:
    """Answers the screen's requests; every answer is limited to the focus, and the focus to the caller's scope."""

    sessions: sessionmaker[Session]
    clock: Clock
    areas: AreaService
    hot_service: HotService
    tz: ZoneInfo
    _hot: dict[str, tuple[float, Sequence[HotIssue]]] = field(default_factory=dict)
    _hot_running: set[str] = field(default_factory=set)
    _hot_gates: dict[str, threading.Lock] = field(default_factory=dict)
    _maps: dict[str, tuple[AreaIndex, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def focus(self, principal: Principal, code: str | None = None) -> Focus:
        """The focus area: `code` (default: the caller's scope area); outside the scope it is the same 404."""
        if principal.role not in VIEWERS:
            raise Forbidden("screen.not_allowed", role=principal.role.value)
        row = self.areas.get(principal, code or principal.scope_code)
        chain = tuple((r.code, r.name, r.level.value) for r in self.areas.chain(row.code))
        top = next((i for i, (c, _, _) in enumerate(chain) if c == principal.scope_code), 0)
        return Focus(row.code, row.name, row.level, row.path, chain[top:])

    def panels(self, principal: Principal, focus: Focus, ids: Iterable[str] | None = None) -> dict[str, Any]:
        """The raw values of the panels asked for (all by default), each source queried once."""
        wanted = [_known(i) for i in ids] if ids is not None else list(PANELS)
        results: dict[str, Any] = {}
        with self.sessions() as session:
            ctx = self._context(session, principal, focus)
            for source in dict.fromkeys(p.source for p in wanted):
                results[source] = SOURCES[source](ctx)
        return {p.id: p.value(results[p.source]) for p in wanted}

    def layer(self, principal: Principal, focus: Focus, layer_id: str) -> list[LayerPoint]:
        """The points of one map layer in the focus."""
        try:
            source = SOURCES[layer(layer_id).source]
        except KeyError:
            raise Invalid("screen.unknown_layer", layer=layer_id) from None
        with self.sessions() as session:
            points: list[LayerPoint] = source(self._context(session, principal, focus))
        return points

    def cursor(self) -> Cursor:
        """Where a stream opened now starts: the newest id of every tail."""
        with self.sessions() as session:
            return Cursor(newest_ids(session, self.clock.now()))

    def map(self, focus: Focus) -> dict[str, Any]:
        """The focus's children as clickable regions and their children as outlines (GeoJSON, WGS84), cached."""
        index = self.areas.index()
        with self._lock:
            cached = self._maps.get(focus.code)
        if cached is not None and cached[0] is index:
            return cached[1]
        built = self._build_map(focus)
        with self._lock:
            self._maps[focus.code] = (index, built)
        return built

    def _build_map(self, focus: Focus) -> dict[str, Any]:
        level = AreaLevel(focus.level)
        with self.sessions() as session:
            repo = AreaRepository(session)
            own = repo.get(focus.code)
            children = list(repo.children(focus.code))
            below = level.child_level.child_level if level.child_level else None
            outlines = list(repo.within(focus.path, below)) if below else []
        drillable = [c for c in children if c.geometry]
        regions = drillable or ([own] if own is not None and own.geometry else [])
        return {"regions": {"type": "FeatureCollection", "features": [_feature(r) for r in regions]},
                "drillable": bool(drillable), "outlines": _rings(outlines)[:MAX_OUTLINE_RINGS],
                "boundary": _rings([own]) if drillable else []}

    def _context(self, session: Session, principal: Principal, focus: Focus) -> Context:
        return Context(session, focus.path, self.clock.now(), self.tz,
                       hot=lambda: self._hot_issues(principal, focus))

    def _hot_issues(self, principal: Principal, focus: Focus) -> Sequence[HotIssue]:
        """Triage's hot issues with the focus as the scope. The analysis is the costly one: it runs once per focus
        however many screens ask (the others wait for it), and an answer older than HOT_TTL_S is served while a
        background thread computes the next one."""
        with self._lock:
            cached = self._hot.get(focus.path)
            stale = cached is not None and time.monotonic() - cached[0] >= HOT_TTL_S
            refresh = stale and focus.path not in self._hot_running
            if refresh:
                self._hot_running.add(focus.path)
            gate = self._hot_gates.setdefault(focus.path, threading.Lock())
        if cached is not None:
            if refresh:
                threading.Thread(target=self._analyse, args=(principal, focus), name="screen-hot", daemon=True).start()
            return cached[1]
        with gate:  # a cold focus: the first request computes, the ones that came meanwhile take its answer
            with self._lock:
                cached = self._hot.get(focus.path)
            return cached[1] if cached is not None else self._analyse(principal, focus)

    def _analyse(self, principal: Principal, focus: Focus) -> Sequence[HotIssue]:
        try:
            narrowed = replace(principal, scope_code=focus.code, scope_path=focus.path)
            issues, _ = self.hot_service.analyse(narrowed, HOT_DAYS)
            with self._lock:
                self._hot[focus.path] = (time.monotonic(), issues)
            return issues
        finally:
            with self._lock:
                self._hot_running.discard(focus.path)


def _known(panel_id: str) -> Panel:
    try:
        return panel(panel_id)
    except KeyError:
        raise Invalid("screen.unknown_panel", panel=panel_id) from None


def _feature(row: AreaRow) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"name": row.code, "label": row.name, "level": row.level,
                                              "center": [row.center_lon, row.center_lat]},
            "geometry": json.loads(row.geometry or "null")}


def _rings(rows: Iterable[AreaRow | None]) -> list[list[list[float]]]:
    """The outer rings of the rows' polygons, for drawing as lines."""
    rings: list[list[list[float]]] = []
    for row in rows:
        if row is None or not row.geometry:
            continue
        geometry = json.loads(row.geometry)
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        rings += [[[round(x, 6), round(y, 6)] for x, y, *_ in polygon[0]] for polygon in polygons]
    return rings
