"""Storage of the gazetteer: reading compounds, buildings, roads, POIs and aliases; saving an import."""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from chengyun.areas.tables import BuildingRow, CompoundRow
from chengyun.places.model import GazetteerEntry, PlaceKind
from chengyun.places.tables import PlaceAliasRow, PlaceRow
from chengyun.places.tabular import PlaceDraft


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import did: places created, updated, and compounds given aliases."""

    created: int
    updated: int
    aliased: int


class PlaceRepository:
    """Reads and writes of the gazetteer inside the caller's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def version(self) -> Hashable:
        """A cheap fingerprint: counts and latest updates of places and aliases, counts of compounds/buildings."""
        places = self.session.execute(select(func.count(), func.max(PlaceRow.updated_at))).one()
        aliases = self.session.execute(select(func.count(), func.max(PlaceAliasRow.updated_at))).one()
        compounds = self.session.scalar(select(func.count()).select_from(CompoundRow))
        buildings = self.session.scalar(select(func.count()).select_from(BuildingRow))
        return (tuple(places), tuple(aliases), compounds, buildings)

    def compound_names(self) -> dict[str, str]:
        """Every compound's code and name (an import may give them aliases)."""
        return dict(self.session.execute(select(CompoundRow.code, CompoundRow.name)).all())

    def entries(self) -> list[GazetteerEntry]:
        """Every place as a gazetteer entry (area chains are filled in by the caller)."""
        aliases: dict[str, list[str]] = {}
        for code, alias in self.session.execute(select(PlaceAliasRow.place_code, PlaceAliasRow.alias)
                                                .order_by(PlaceAliasRow.place_code, PlaceAliasRow.alias)):
            aliases.setdefault(code, []).append(alias)
        compounds = {row.code: row for row in self.session.scalars(select(CompoundRow).order_by(CompoundRow.code))}
        entries = [GazetteerEntry(c.code, c.name, PlaceKind.COMPOUND, c.lon, c.lat, c.area_code, c.address,
                                  tuple(aliases.get(c.code, ()))) for c in compounds.values()]
        for b in self.session.scalars(select(BuildingRow).order_by(BuildingRow.code)):
            parent = compounds.get(b.compound_code)
            if parent is not None:
                entries.append(GazetteerEntry(b.code, f"{parent.name}{b.number}", PlaceKind.BUILDING, b.lon, b.lat,
                                              parent.area_code, parent.address, (), parent.code, b.number))
        for p in self.session.scalars(select(PlaceRow).order_by(PlaceRow.code)):
            entries.append(GazetteerEntry(p.code, p.name, PlaceKind(p.kind), p.lon, p.lat, p.area_code, p.address,
                                          tuple(aliases.get(p.code, ())), category=p.category,
                                          line=_line(p.geometry)))
        return entries

    def save(self, drafts: Sequence[PlaceDraft], areas: dict[str, str | None], source: str,
             now: datetime) -> ImportResult:
        """Upsert places by code and replace the aliases of every code in the file; `areas` maps code → area."""
        codes = [d.code for d in drafts]
        existing = {row.code: row for row in self.session.scalars(select(PlaceRow).where(PlaceRow.code.in_(codes)))}
        created = updated = aliased = 0
        for draft in drafts:
            if draft.kind == PlaceKind.COMPOUND.value:
                aliased += 1
            elif draft.code in existing:
                _fill(existing[draft.code], draft, areas.get(draft.code), source, now)
                updated += 1
            else:
                row = PlaceRow(code=draft.code)
                _fill(row, draft, areas.get(draft.code), source, now)
                self.session.add(row)
                created += 1
        self.session.execute(delete(PlaceAliasRow).where(PlaceAliasRow.place_code.in_(codes)))
        self.session.add_all(PlaceAliasRow(place_code=d.code, alias=alias, updated_at=now)
                             for d in drafts for alias in d.aliases)
        self.session.flush()
        return ImportResult(created, updated, aliased)


def _fill(row: PlaceRow, draft: PlaceDraft, area_code: str | None, source: str, now: datetime) -> None:
    assert draft.lon is not None and draft.lat is not None
    row.kind, row.name, row.category = draft.kind, draft.name, draft.category
    row.area_code, row.address, row.lon, row.lat = area_code, draft.address, draft.lon, draft.lat
    row.geometry = json.dumps({"type": "LineString", "coordinates": [list(p) for p in draft.line]}) \
        if draft.line else None
    row.source, row.updated_at = source[:100], now


def _line(geometry: str | None) -> tuple[tuple[float, float], ...]:
    if not geometry:
        return ()
    coordinates = json.loads(geometry).get("coordinates") or []
    return tuple((float(lon), float(lat)) for lon, lat in coordinates)
