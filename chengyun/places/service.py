"""Use cases of places: geocode an address, reverse-geocode a point, import roads and POIs (all or nothing)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chengyun.areas.model import ImportProblem
from chengyun.areas.repository import AreaRepository
from chengyun.areas.service import AreaService
from chengyun.areas.tables import AreaRow
from chengyun.audit import AuditLog, record
from chengyun.errors import Invalid
from chengyun.places.model import OUTSIDE, AreaName, Gazetteer, GazetteerEntry, Geocoded, geocode
from chengyun.places.nearby import NearbyIndex, ReverseGeocoded, readable_address
from chengyun.places.repository import ImportResult, PlaceRepository
from chengyun.places.tables import PlaceRow
from chengyun.places.tabular import PlaceDraft, parse_places
from chengyun.shared.clock import Clock
from chengyun.shared.geo import CoordSystem, to_wgs84
from chengyun.shared.snapshot import Snapshot

MAX_IMPORT_BYTES = 20 * 1024 * 1024
MAX_PROBLEMS_SHOWN = 50


@dataclass(frozen=True, slots=True)
class _Loaded:
    gazetteer: Gazetteer
    nearby: NearbyIndex


@dataclass
class PlaceService:
    """Addresses and the gazetteer; reads come from an in-memory snapshot refreshed when places or areas change."""

    sessions: sessionmaker[Session]
    clock: Clock
    audit: AuditLog
    areas: AreaService
    _snapshot: Snapshot[_Loaded] = field(init=False)

    def __post_init__(self) -> None:
        self._snapshot = Snapshot(self.sessions, _version, _load)

    # --- reads --------------------------------------------------------------------------------

    def gazetteer(self) -> Gazetteer:
        """Every known place (compounds, buildings, roads, POIs) with the area names, as last loaded."""
        return self._snapshot.get().gazetteer

    def geocode(self, text: str, scope_path: str | None = None) -> Geocoded:
        """Place a free-text address; `scope_path` (an area's materialised path) limits the candidates to it."""
        scope = scope_path.rstrip("/").rsplit("/", 1)[-1] if scope_path and scope_path.strip("/") else None
        return geocode(text, self.gazetteer(), scope)

    def reverse(self, lon: float, lat: float, crs: CoordSystem = CoordSystem.WGS84) -> ReverseGeocoded:
        """The area chain, the nearest known place within reach and a readable address for a point."""
        wlon, wlat = to_wgs84(lon, lat, crs)
        loaded = self._snapshot.get()
        chain = self.areas.index().locate(wlon, wlat) or ()
        hit = loaded.nearby.nearest(wlon, wlat)
        place, distance = hit if hit else (None, None)
        compound = loaded.gazetteer.by_code.get(place.parent_code) if place and place.parent_code else None
        return ReverseGeocoded(wlon, wlat, chain, place, distance, compound,
                               readable_address(chain, place, distance), None if chain else OUTSIDE)

    # --- writes -------------------------------------------------------------------------------

    def import_file(self, data: bytes, filename: str, actor: str, *, actor_id: int | None = None,
                    crs: CoordSystem = CoordSystem.WGS84) -> ImportResult:
        """Upsert roads and POIs (and compound aliases) from a CSV or .xlsx file; any bad row → nothing stored."""
        if len(data) > MAX_IMPORT_BYTES:
            raise Invalid("places.import.too_large", size=len(data), limit=MAX_IMPORT_BYTES)
        with self.sessions() as session:
            compounds = PlaceRepository(session).compound_names()
        parsed = parse_places(data, filename, compounds, crs)
        if parsed.problems:
            _refuse(list(parsed.problems))
        if not parsed.drafts:
            raise Invalid("places.import.empty_file", where=filename)
        return self.import_drafts(parsed.drafts, source=filename, actor=actor, actor_id=actor_id)

    def import_drafts(self, drafts: Sequence[PlaceDraft], *, source: str, actor: str,
                      actor_id: int | None = None) -> ImportResult:
        """Store clean drafts all or nothing; every road or POI must lie inside a known area."""
        index = self.areas.index()
        located: dict[str, str | None] = {}
        problems: list[ImportProblem] = []
        for draft in drafts:
            if draft.lon is None or draft.lat is None:
                continue
            located[draft.code] = index.locate_code(draft.lon, draft.lat)
            if located[draft.code] is None:
                problems.append(_outside(draft))
        if problems:
            _refuse(problems)
        with self.sessions.begin() as session:
            result = PlaceRepository(session).save(drafts, located, source, self.clock.now())
            record(session, self.clock, action="places.import", actor=actor, actor_id=actor_id,
                   target=source[:200] or None, created=result.created, updated=result.updated,
                   aliased=result.aliased)
        self._snapshot.forget()
        return result

    def has_places(self) -> bool:
        """Whether any road or POI is stored (the demo adds its own once)."""
        with self.sessions() as session:
            return session.scalar(select(PlaceRow.code).limit(1)) is not None


def _outside(draft: PlaceDraft) -> ImportProblem:
    return ImportProblem("places.import.outside", f"row {draft.row}",
                         {"column": "lon", "value": f"{draft.lon:.6f},{draft.lat:.6f}"})


def _refuse(problems: list[ImportProblem]) -> NoReturn:
    raise Invalid("places.import_invalid", problems=problems[:MAX_PROBLEMS_SHOWN], count=len(problems))


def _version(session: Session) -> Hashable:
    return (PlaceRepository(session).version(), AreaRepository(session).version())


def _load(session: Session) -> _Loaded:
    rows = session.execute(select(AreaRow.code, AreaRow.name, AreaRow.level, AreaRow.parent_code)).all()
    areas = [AreaName(code, name, level, parent) for code, name, level, parent in rows]
    parents = {a.code: a.parent_code for a in areas}
    chains: dict[str, tuple[str, ...]] = {}
    entries = [_with_chain(e, parents, chains) for e in PlaceRepository(session).entries()]
    return _Loaded(Gazetteer(entries, areas), NearbyIndex(entries))


def _with_chain(entry: GazetteerEntry, parents: dict[str, str | None],
                chains: dict[str, tuple[str, ...]]) -> GazetteerEntry:
    """The entry with the codes of its area and every area above it."""
    code = entry.area_code
    if code is None:
        return entry
    if code not in chains:
        walk: list[str] = []
        current: str | None = code
        while current is not None and current not in walk:
            walk.append(current)
            current = parents.get(current)
        chains[code] = tuple(reversed(walk))
    return replace(entry, area_chain=chains[code])
