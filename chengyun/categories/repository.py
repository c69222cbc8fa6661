"""Reading and writing catalogue rows; callers own the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chengyun.categories.model import Category, CategoryKind
from chengyun.categories.tables import CategoryRow
from chengyun.shared.handling import HandlingLevel, TimeLimit, Urgency


@dataclass(frozen=True)
class SaveResult:
    """How many categories a write created, changed and left as they were."""

    created: int
    updated: int
    unchanged: int


class CategoryRepository:
    """Catalogue rows in one SQLAlchemy session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> list[Category]:
        """Every stored category, by code."""
        return [to_category(row) for row in self.session.scalars(select(CategoryRow).order_by(CategoryRow.code))]

    def by_code(self) -> dict[str, Category]:
        """Every stored category keyed by code (what an import is checked against)."""
        return {category.code: category for category in self.all()}

    def count(self) -> int:
        """How many categories are stored."""
        return int(self.session.scalar(select(func.count()).select_from(CategoryRow)) or 0)

    def version(self) -> tuple[int, datetime | None]:
        """A cheap fingerprint that changes whenever categories are added or changed."""
        count, latest = self.session.execute(select(func.count(), func.max(CategoryRow.updated_at))).one()
        return int(count), latest

    def save(self, categories: Sequence[Category], now: datetime) -> SaveResult:
        """Upsert by code (parents first in `categories`); unchanged rows are not touched at all."""
        existing = {row.code: row for row in self.session.scalars(select(CategoryRow))}  # hundreds of rows
        created = [c for c in categories if c.code not in existing]
        changed = [c for c in categories if c.code in existing and to_category(existing[c.code]) != c]
        # new rows first, in parents-first order, so an existing item may move under a class created here
        for category in created:
            self.session.add(_fill(CategoryRow(code=category.code), category, now))
            self.session.flush()
        for category in changed:
            _fill(existing[category.code], category, now)
        self.session.flush()
        return SaveResult(len(created), len(changed), len(categories) - len(created) - len(changed))


def to_category(row: CategoryRow) -> Category:
    """A stored row as the domain value."""
    return Category(
        code=row.code, name=row.name, kind=CategoryKind(row.kind), parent_code=row.parent_code,
        name_en=row.name_en, urgency=Urgency(row.urgency),
        response_limit=TimeLimit.parse(row.response_limit), handling_limit=TimeLimit.parse(row.handling_limit),
        urgent_response_limit=TimeLimit.parse(row.urgent_response_limit),
        urgent_handling_limit=TimeLimit.parse(row.urgent_handling_limit),
        handling_level=HandlingLevel(row.handling_level), admission=row.admission, self_handle=row.self_handle,
        active=row.active,
    )


def _fill(row: CategoryRow, category: Category, now: datetime) -> CategoryRow:
    row.parent_code = category.parent_code
    row.kind = category.kind.value
    row.name = category.name
    row.name_en = category.name_en
    row.urgency = category.urgency.value
    for column in ("response_limit", "handling_limit", "urgent_response_limit", "urgent_handling_limit"):
        setattr(row, column, str(getattr(category, column)))
    row.handling_level = category.handling_level.value
    row.admission = category.admission
    row.self_handle = category.self_handle
    row.active = category.active
    row.updated_at = now
    return row

