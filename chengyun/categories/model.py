"""The category catalogue (事件分类目录): classes and items with default urgency, time limits and handling level.

Pure: no storage, no web. A `Catalogue` is an immutable snapshot of every category that other domains query
(limits for a code and urgency, the ancestors of a code for routing fallback, the tree for display).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from enum import StrEnum

from chengyun.errors import Invalid, NotFound
from chengyun.shared.handling import HandlingLevel, LimitUnit, TimeLimit, Urgency

CODE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,19}")  # fits cases.category_code (20)
MAX_NAME = 100
MAX_NAME_EN = 200


DEFAULT_RESPONSE = TimeLimit(1, LimitUnit.WORKING_DAYS)  # claim within 1 working day
DEFAULT_HANDLING = TimeLimit(5, LimitUnit.WORKING_DAYS)
DEFAULT_URGENT_RESPONSE = TimeLimit(2, LimitUnit.HOURS)
DEFAULT_URGENT_HANDLING = TimeLimit(24, LimitUnit.HOURS)


class CategoryKind(StrEnum):
    """A class (大类) groups items; an item (小类) is what a case is classified as."""

    CLASS = "class"
    ITEM = "item"


@dataclass(frozen=True, slots=True)
class Category:
    """One class or item. For a class the handling fields are the defaults its items inherit on import.

    `response_limit`/`handling_limit` apply at normal urgency, the `urgent_*` limits at urgent and critical.
    """

    code: str
    name: str
    kind: CategoryKind
    parent_code: str | None = None
    name_en: str = ""
    urgency: Urgency = Urgency.NORMAL
    response_limit: TimeLimit = DEFAULT_RESPONSE
    handling_limit: TimeLimit = DEFAULT_HANDLING
    urgent_response_limit: TimeLimit = DEFAULT_URGENT_RESPONSE
    urgent_handling_limit: TimeLimit = DEFAULT_URGENT_HANDLING
    handling_level: HandlingLevel = HandlingLevel.COMMUNITY
    admission: bool = False  # on the community admission list (准入清单)
    self_handle: bool = False  # a grid worker may handle it on the spot (自办自结)
    active: bool = True  # retired categories stay for old cases but take no new ones

    @property
    def is_item(self) -> bool:
        """True for an item (小类)."""
        return self.kind is CategoryKind.ITEM

    def limits(self, urgency: Urgency) -> tuple[TimeLimit, TimeLimit]:
        """(response limit, handling limit) for a case of this category at the given urgency."""
        if urgency is Urgency.NORMAL:
            return self.response_limit, self.handling_limit
        return self.urgent_response_limit, self.urgent_handling_limit


SYSTEM_DEFAULTS = Category(code="", name="", kind=CategoryKind.CLASS)
"""What a top-level class inherits for cells left blank (DESIGN.md: urgent 2h/24h, normal 1wd/5wd)."""

INHERITED_FIELDS = ("urgency", "response_limit", "handling_limit", "urgent_response_limit",
                    "urgent_handling_limit", "handling_level", "admission", "self_handle")
"""Fields an item (or a nested class) takes from its class when its own value is left blank."""


@dataclass(frozen=True, slots=True)
class CatalogueProblem:
    """One precise reason a file or a change was refused: an error code, where, and message parameters."""

    code: str
    where: str
    params: dict[str, object]


@dataclass(frozen=True, slots=True)
class CategoryNode:
    """A category with its children, for display as a tree."""

    category: Category
    children: tuple[CategoryNode, ...] = field(default=())


class Catalogue:
    """An immutable snapshot of every stored category, indexed by code."""

    def __init__(self, categories: Iterable[Category]) -> None:
        self._by_code = {c.code: c for c in sorted(categories, key=lambda c: c.code)}
        self._children: dict[str | None, list[Category]] = {}
        for category in self._by_code.values():
            self._children.setdefault(category.parent_code, []).append(category)

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Category]:
        return iter(self._by_code.values())

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def find(self, code: str) -> Category | None:
        """The category with this code, or None."""
        return self._by_code.get(code)

    def get(self, code: str) -> Category:
        """The category with this code, or NotFound('categories.not_found')."""
        category = self._by_code.get(code)
        if category is None:
            raise NotFound("categories.not_found", code=code)
        return category

    def item(self, code: str) -> Category:
        """The active item a new case may be filed under; a class or a retired item is refused precisely."""
        category = self.get(code)
        if not category.is_item:
            raise Invalid("categories.not_an_item", code=code, name=category.name)
        if not category.active:
            raise Invalid("categories.retired", code=code, name=category.name)
        return category

    def ancestors(self, code: str) -> tuple[Category, ...]:
        """The classes above a code, nearest first (item → its class → …), for routing fallback."""
        chain: list[Category] = []
        parent = self.get(code).parent_code
        while parent is not None and parent in self._by_code and len(chain) < len(self._by_code):
            chain.append(self._by_code[parent])
            parent = self._by_code[parent].parent_code
        return tuple(chain)

    def limits_for(self, code: str, urgency: Urgency) -> tuple[TimeLimit, TimeLimit]:
        """(response limit, handling limit) for a case of this category at this urgency."""
        return self.get(code).limits(urgency)

    def children(self, code: str | None) -> tuple[Category, ...]:
        """Direct children of a class (None: the top-level classes), by code."""
        return tuple(self._children.get(code, ()))

    def items(self, *, active_only: bool = False) -> tuple[Category, ...]:
        """Every item, by code."""
        return tuple(c for c in self._by_code.values() if c.is_item and (c.active or not active_only))

    def tree(self, *, active_only: bool = False) -> tuple[CategoryNode, ...]:
        """Top-level classes with their descendants, each level ordered by code."""
        return self._subtree(None, active_only, depth=0)

    def _subtree(self, code: str | None, active_only: bool, depth: int) -> tuple[CategoryNode, ...]:
        if depth > len(self._by_code):  # stored data is acyclic; never loop on a corrupted table
            return ()
        return tuple(
            CategoryNode(child, self._subtree(child.code, active_only, depth + 1))
            for child in self.children(code)
            if child.active or not active_only
        )


def exceeds(longer: TimeLimit, shorter: TimeLimit) -> bool:
    """True when `longer` is certainly longer than `shorter`.

    Calendar hours and days compare (1d = 24h); working hours and working days compare only with their own
    unit, because the length of a working day is the calendar's business, not the catalogue's.
    """
    if longer.unit in _CALENDAR_HOURS and shorter.unit in _CALENDAR_HOURS:
        return longer.amount * _CALENDAR_HOURS[longer.unit] > shorter.amount * _CALENDAR_HOURS[shorter.unit]
    return longer.unit == shorter.unit and longer.amount > shorter.amount


_CALENDAR_HOURS = {LimitUnit.HOURS: 1, LimitUnit.DAYS: 24}


def valid_code(text: str) -> bool:
    """Codes are 1–20 ASCII letters, digits, '_', '.', '-', starting with a letter or digit."""
    return CODE_PATTERN.fullmatch(text) is not None


def changed_fields(old: Category, new: Category) -> dict[str, list[str]]:
    """Field → [old, new] as text for every field that differs (for the audit record)."""
    return {f.name: [str(getattr(old, f.name)), str(getattr(new, f.name))] for f in fields(Category)
            if getattr(old, f.name) != getattr(new, f.name)}
