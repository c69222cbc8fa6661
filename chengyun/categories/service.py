"""Use cases of the category catalogue: reads for every user, edits and imports for admins; writes commit once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from chengyun.audit import AuditLog, record
from chengyun.categories.defaults import DEFAULT_FILE, default_categories
from chengyun.categories.model import Catalogue, Category, CategoryNode, changed_fields
from chengyun.categories.parsing import category_row, fields_row, format_for, read_rows, validate_rows
from chengyun.categories.repository import CategoryRepository, SaveResult
from chengyun.errors import Conflict, NotFound
from chengyun.shared.clock import Clock
from chengyun.shared.handling import TimeLimit, Urgency
from chengyun.shared.snapshot import Snapshot

EDIT_INVALID = "categories.invalid"


@dataclass
class CategoryService:
    """The catalogue as the rest of the system uses it; reads come from a snapshot refreshed on change."""

    sessions: sessionmaker[Session]
    clock: Clock
    audit: AuditLog
    _snapshot: Snapshot[Catalogue] = field(init=False)

    def __post_init__(self) -> None:
        self._snapshot = Snapshot(self.sessions, lambda s: CategoryRepository(s).version(),
                                  lambda s: Catalogue(CategoryRepository(s).all()))

    # --- reads --------------------------------------------------------------------------------

    def catalogue(self) -> Catalogue:
        """The stored catalogue, reloaded when the table changed (count or latest update).

        Writes through this service are seen at once; another process's writes within a few seconds
        (`shared.snapshot`), which keeps the freshness query off every single case action.
        """
        return self._snapshot.get()

    def get(self, code: str) -> Category:
        """One category, or NotFound('categories.not_found')."""
        return self.catalogue().get(code)

    def item(self, code: str) -> Category:
        """The active item a new case may be filed under (NotFound; Invalid for a class or a retired item)."""
        return self.catalogue().item(code)

    def ancestors(self, code: str) -> tuple[Category, ...]:
        """The classes above a code, nearest first: routing falls back from an item to its class."""
        return self.catalogue().ancestors(code)

    def limits_for(self, code: str, urgency: Urgency) -> tuple[TimeLimit, TimeLimit]:
        """(response limit, handling limit) for a case of this category at this urgency."""
        return self.catalogue().limits_for(code, urgency)

    def tree(self, *, active_only: bool = False) -> tuple[CategoryNode, ...]:
        """Top-level classes with their items."""
        return self.catalogue().tree(active_only=active_only)

    # --- writes -------------------------------------------------------------------------------

    def import_file(self, data: bytes, *, filename: str, fmt: str = "", actor: str,
                    actor_id: int | None = None) -> SaveResult:
        """Upsert a CSV or Excel catalogue by code, all or nothing, and audit it; re-importing changes nothing."""
        rows = read_rows(data, format_for(filename, fmt))
        with self.sessions.begin() as session:
            repo = CategoryRepository(session)
            result = repo.save(validate_rows(rows, repo.by_code()), self.clock.now())
            record(session, self.clock, action="categories.import", actor=actor, actor_id=actor_id,
                   target=filename[:200] or None, created=result.created, updated=result.updated,
                   unchanged=result.unchanged)
        self._forget()
        return result

    def create(self, fields: Mapping[str, object], *, actor: str, actor_id: int | None = None) -> Category:
        """Add one class or item; its code must be new."""
        code = str(fields.get("code") or "").strip()
        with self.sessions.begin() as session:
            repo = CategoryRepository(session)
            known = repo.by_code()
            if code in known:
                raise Conflict("categories.exists", code=code)
            [category] = validate_rows([fields_row(fields)], known, error=EDIT_INVALID)
            repo.save([category], self.clock.now())
            record(session, self.clock, action="categories.create", actor=actor, actor_id=actor_id,
                   target=f"category:{category.code}", **category_row(category))
        self._forget()
        return category

    def update(self, code: str, changes: Mapping[str, object], *, actor: str,
               actor_id: int | None = None) -> Category:
        """Change fields of one category (None resets a field to its class's value); the code stays."""
        with self.sessions.begin() as session:
            repo = CategoryRepository(session)
            known = repo.by_code()
            old = known.get(code)
            if old is None:
                raise NotFound("categories.not_found", code=code)
            merged = {**category_row(old), **fields_row(changes).values, "code": code}
            [new] = validate_rows([fields_row(merged)], known, error=EDIT_INVALID)
            repo.save([new], self.clock.now())
            record(session, self.clock, action="categories.update", actor=actor, actor_id=actor_id,
                   target=f"category:{code}", changes=changed_fields(old, new))
        self._forget()
        return new

    def ensure_default(self, *, actor: str = "system") -> SaveResult | None:
        """Install the shipped default catalogue when no category is stored; None when there already are some."""
        with self.sessions.begin() as session:
            repo = CategoryRepository(session)
            if repo.count():
                return None
            result = repo.save(default_categories(), self.clock.now())
            record(session, self.clock, action="categories.import", actor=actor, target=DEFAULT_FILE,
                   created=result.created, updated=result.updated, unchanged=result.unchanged)
        self._forget()
        return result

    def _forget(self) -> None:
        self._snapshot.forget()
