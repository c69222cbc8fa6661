"""The category catalogue (事件分类目录): what other domains may use.

`Category`, `Catalogue` (`get`, `item`, `limits_for(code, urgency)`, `ancestors(code)`) and the kinds are pure values;
`CategoryService` (the same reads on the stored catalogue, plus admin edits) is imported on first use, so a pure
module can import the types here without pulling in SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chengyun.categories.model import Catalogue, Category, CategoryKind, CategoryNode

if TYPE_CHECKING:
    from chengyun.categories.service import CategoryService

__all__ = ["Catalogue", "Category", "CategoryKind", "CategoryNode", "CategoryService"]


def __getattr__(name: str) -> object:
    """Load `CategoryService` lazily (it needs the storage layer)."""
    if name == "CategoryService":
        from chengyun.categories.service import CategoryService

        return CategoryService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
