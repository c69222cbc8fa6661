"""Use cases of the area tree: import, locate, and scoped reads. Each write commits once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chengyun.areas.locate import AreaIndex
from chengyun.areas.model import AreaDraft, AreaLevel, AreaRef
from chengyun.areas.parsing import CsvOptions, GeoJsonOptions, parse_division_csv, parse_geojson
from chengyun.areas.repository import AreaRepository, SaveResult
from chengyun.areas.tables import AreaRow
from chengyun.audit import AuditLog, record
from chengyun.auth.model import Principal
from chengyun.errors import Invalid, NotFound
from chengyun.shared.clock import Clock
from chengyun.shared.geo import CoordSystem, to_wgs84
from chengyun.shared.snapshot import Snapshot


@dataclass
class AreaService:
    """The area tree as the rest of the system uses it."""

    sessions: sessionmaker[Session]
    clock: Clock
    audit: AuditLog
    _index: Snapshot[AreaIndex] = field(init=False)

    def __post_init__(self) -> None:
        self._index = Snapshot(self.sessions, lambda s: AreaRepository(s).version(),
                               lambda s: AreaIndex(AreaRepository(s).load_nodes()))

    # --- writes -------------------------------------------------------------------------------

    def import_drafts(self, drafts: Sequence[AreaDraft], *, actor: str, actor_id: int | None = None,
                      source: str = "") -> SaveResult:
        """Store parsed areas all-or-nothing and audit the import."""
        with self.sessions.begin() as session:
            result = AreaRepository(session).save_drafts(drafts, self.clock.now())
            record(session, self.clock, action="areas.import", actor=actor, actor_id=actor_id,
                   target=source or None, created=result.created, updated=result.updated)
        self._index.forget()
        return result

    def import_bytes(self, principal: Principal, data: bytes, options: GeoJsonOptions | CsvOptions, *,
                     source_name: str) -> SaveResult:
        """Parse a file, check every new area hangs inside the importer's scope, store all or nothing."""
        known = self.known_levels()
        if isinstance(options, GeoJsonOptions):
            drafts = parse_geojson(data, options, known)
        else:
            drafts = parse_division_csv(data, options, known)
        self._check_import_scope(principal, drafts)
        return self.import_drafts(drafts, actor=principal.username, actor_id=principal.user_id,
                                  source=source_name)

    def _check_import_scope(self, principal: Principal, drafts: Sequence[AreaDraft]) -> None:
        """Updates must target areas in scope; new areas must hang under one (roots: root admins only)."""
        in_file = {d.code for d in drafts}
        with self.sessions() as session:
            repo = AreaRepository(session)
            for draft in drafts:
                if draft.parent_code in in_file and repo.get(draft.code) is None:
                    continue
                anchor = repo.get(draft.code) or (repo.get(draft.parent_code) if draft.parent_code else None)
                if anchor is not None:
                    allowed = principal.can_see_path(anchor.path)
                else:
                    allowed = principal.scope_path.count("/") == 2  # "/<root>/": the whole tree
                if not allowed:
                    raise NotFound("areas.import.outside_scope", where=draft.source, code=draft.code)

    def known_levels(self) -> dict[str, AreaLevel]:
        """Codes already stored, for the import parser's parent checks."""
        with self.sessions() as session:
            return AreaRepository(session).known_levels()

    # --- point location -----------------------------------------------------------------------

    def index(self) -> AreaIndex:
        """The point-location index, rebuilt when the stored areas changed (checked every few seconds)."""
        return self._index.get()

    def locate(self, lon: float, lat: float, crs: CoordSystem = CoordSystem.WGS84,
               principal: Principal | None = None) -> tuple[AreaRef, ...]:
        """The chain of areas containing the point; outside every polygon (or a scope, if any) → error."""
        wlon, wlat = to_wgs84(lon, lat, crs)
        chain = self.index().locate(wlon, wlat)
        if chain is None:
            raise NotFound("areas.point_outside", lon=wlon, lat=wlat)
        scope = principal.scope_code if principal is not None else ""  # "" (the system itself): everywhere
        if scope and scope not in {ref.code for ref in chain}:
            raise NotFound("areas.point_outside_scope", lon=wlon, lat=wlat, scope=scope)
        return chain

    # --- scoped reads ---------------------------------------------------------------------------

    def get(self, principal: Principal, code: str) -> AreaRow:
        """One area inside the principal's scope; outside it looks exactly like a missing area."""
        with self.sessions() as session:
            row = AreaRepository(session).get(code)
        if row is None:
            raise NotFound("areas.not_found", code=code)
        if not principal.can_see_path(row.path):
            self.audit.record_now(action="scope.refused", actor=principal.username,
                                  actor_id=principal.user_id, outcome="refused", target=f"area:{code}")
            raise NotFound("areas.not_found", code=code)
        return row

    def children(self, principal: Principal, code: str) -> Sequence[AreaRow]:
        """Direct children of an area in scope."""
        self.get(principal, code)
        with self.sessions() as session:
            return AreaRepository(session).children(code)

    def chain(self, code: str) -> tuple[AreaRef, ...]:
        """Root-first chain of an existing area (names are public facts)."""
        node = self.index().node(code)
        if node is None:
            raise NotFound("areas.not_found", code=code)
        return self.index().chain(code)

    def map_features(self, principal: Principal, code: str) -> dict[str, Any]:
        """A FeatureCollection of the area and its children, for the map."""
        area = self.get(principal, code)
        rows = [area, *self.children(principal, code)]
        features = [_feature(row, role="self" if row is area else "child") for row in rows if row.geometry]
        return {"type": "FeatureCollection", "features": features}

    def counts(self, principal: Principal) -> dict[str, int]:
        """Areas per level within the principal's scope."""
        with self.sessions() as session:
            return AreaRepository(session).count_by_level(principal.scope_path)


def _feature(row: AreaRow, role: str) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": row.code, "name": row.name, "level": row.level, "role": role,
                       "center": [row.center_lon, row.center_lat]},
        "geometry": json.loads(row.geometry or "null"),
    }


def require_float(name: str, raw: str | None) -> float:
    """Parse a coordinate parameter or raise a precise error."""
    try:
        return float(raw or "")
    except ValueError:
        raise Invalid("geo.not_a_number", field=name, value=raw) from None
