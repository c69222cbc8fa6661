"""Reading and writing areas and places; callers own the transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import shapely
from shapely.geometry import shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chengyun.areas.locate import AreaNode
from chengyun.areas.model import AreaDraft, AreaLevel, ImportProblem, materialised_path
from chengyun.areas.tables import AreaRow, BuildingRow, CompoundRow
from chengyun.errors import Invalid


@dataclass(frozen=True)
class SaveResult:
    """How many areas an import created and updated."""

    created: int
    updated: int


class AreaRepository:
    """Area rows in one SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, code: str) -> AreaRow | None:
        """One area by code."""
        return self.session.get(AreaRow, code)

    def children(self, code: str) -> Sequence[AreaRow]:
        """Direct children, ordered by code."""
        stmt = select(AreaRow).where(AreaRow.parent_code == code).order_by(AreaRow.code)
        return self.session.scalars(stmt).all()

    def roots(self) -> Sequence[AreaRow]:
        """Areas without a parent."""
        return self.session.scalars(select(AreaRow).where(AreaRow.parent_code.is_(None))).all()

    def within(self, scope_path: str, level: AreaLevel | None = None) -> Sequence[AreaRow]:
        """Every area in a subtree (optionally of one level), by materialised path."""
        stmt = select(AreaRow).where(AreaRow.path.startswith(scope_path, autoescape=True))
        if level is not None:
            stmt = stmt.where(AreaRow.level == level.value)
        return self.session.scalars(stmt.order_by(AreaRow.code)).all()

    def count_by_level(self, scope_path: str = "/") -> dict[str, int]:
        """Area counts per level inside a subtree."""
        stmt = (
            select(AreaRow.level, func.count())
            .where(AreaRow.path.startswith(scope_path, autoescape=True))
            .group_by(AreaRow.level)
        )
        return {level: int(n) for level, n in self.session.execute(stmt)}

    def known_levels(self) -> dict[str, AreaLevel]:
        """Code → level of every stored area (what an import may attach to)."""
        rows = self.session.execute(select(AreaRow.code, AreaRow.level))
        return {code: AreaLevel(level) for code, level in rows}

    def version(self) -> tuple[int, datetime | None]:
        """A cheap fingerprint that changes whenever areas are added or updated."""
        count, latest = self.session.execute(select(func.count(), func.max(AreaRow.updated_at))).one()
        return int(count), latest

    def load_nodes(self) -> list[AreaNode]:
        """Everything the point-location index needs, polygons parsed."""
        rows = self.session.execute(
            select(AreaRow.code, AreaRow.name, AreaRow.level, AreaRow.parent_code, AreaRow.geometry)
        )
        return [
            AreaNode(code, name, AreaLevel(level), parent, shape(json.loads(geo)) if geo else None)
            for code, name, level, parent, geo in rows
        ]

    def save_drafts(self, drafts: Iterable[AreaDraft], now: datetime) -> SaveResult:
        """Upsert drafts (parents first); an existing area may not move to another parent."""
        drafts = list(drafts)
        existing = {row.code: row for row in self._rows({d.code for d in drafts})}
        paths = {row.code: row.path for row in self._rows({d.parent_code for d in drafts if d.parent_code})}
        problems: list[ImportProblem] = []
        created = 0
        for draft in drafts:
            row = existing.get(draft.code)
            if row is not None and row.parent_code != draft.parent_code:
                problems.append(ImportProblem("areas.import.parent_changed", draft.source,
                                              {"code": draft.code, "old": row.parent_code,
                                               "new": draft.parent_code}))
                continue
            if draft.parent_code is not None and draft.parent_code not in paths:
                problems.append(ImportProblem("areas.import.unknown_parent", draft.source,
                                              {"parent": draft.parent_code}))
                continue
            if row is None:
                parent_path = paths[draft.parent_code] if draft.parent_code else None
                row = AreaRow(code=draft.code, path=materialised_path(parent_path, draft.code))
                self.session.add(row)
                created += 1
            paths[draft.code] = row.path
            _fill(row, draft, now)
        if problems:
            raise Invalid("areas.import_invalid", problems=problems[:50], count=len(problems))
        self.session.flush()
        return SaveResult(created, len(drafts) - created)

    def _rows(self, codes: set[str], chunk: int = 5000) -> list[AreaRow]:
        """Rows for many codes, queried in chunks (SQLite caps the number of bound parameters)."""
        ordered = sorted(codes)
        rows: list[AreaRow] = []
        for start in range(0, len(ordered), chunk):
            part = ordered[start : start + chunk]
            rows.extend(self.session.scalars(select(AreaRow).where(AreaRow.code.in_(part))))
        return rows

    def add_compound(self, row: CompoundRow, buildings: Iterable[BuildingRow]) -> None:
        """Store a compound with its buildings."""
        self.session.add(row)
        self.session.add_all(list(buildings))

    def compounds_in(self, scope_path: str) -> Sequence[CompoundRow]:
        """Compounds whose microgrid lies inside a subtree."""
        stmt = (
            select(CompoundRow)
            .join(AreaRow, AreaRow.code == CompoundRow.area_code)
            .where(AreaRow.path.startswith(scope_path, autoescape=True))
            .order_by(CompoundRow.code)
        )
        return self.session.scalars(stmt).all()


def _fill(row: AreaRow, draft: AreaDraft, now: datetime) -> None:
    row.name = draft.name
    row.level = draft.level.value
    row.parent_code = draft.parent_code
    row.updated_at = now
    if draft.geometry is None:
        row.geometry = None
        row.center_lon = row.center_lat = None
        return
    geom = shape(draft.geometry)
    point = shapely.point_on_surface(geom)
    row.geometry = json.dumps(draft.geometry, separators=(",", ":"))
    row.center_lon, row.center_lat = round(point.x, 7), round(point.y, 7)
