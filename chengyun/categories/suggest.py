"""Category suggestion for a typed description: a stand-in ranking by text similarity; pure, no I/O.

Ranks the active items of the catalogue by how much of an item's name (and, with less weight, its class's name)
the text contains: rapidfuzz's best partial alignment, or the share of the name's character pairs found in the
text, whichever is higher. It knows nothing but the names; the trained classifier of the triage issue replaces it
behind the same shape (code, name, score).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz

from chengyun.categories.model import Category

ITEM_WEIGHT = 0.8  # the item's own name counts most; its class name breaks ties and helps vague texts
MIN_SCORE = 20.0  # below this a suggestion is noise
MAX_TEXT = 500  # only the start of a long description is compared


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One ranked item: its code, name, class name and a score from 0 to 100."""

    code: str
    name: str
    class_name: str
    score: float
    self_handle: bool
    terms: tuple[str, ...] = ()  # the words of the text that weighed most (a trained classifier's explanation)


def _pairs(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


def similarity(name: str, text: str) -> float:
    """0..100: how well `name` is found in `text` (best partial alignment, or the share of its character pairs)."""
    name, text = name.strip().lower(), text.strip().lower()
    if not name or not text:
        return 0.0
    pairs = _pairs(name)
    coverage = 100.0 * len(pairs & _pairs(text)) / len(pairs)
    return max(float(fuzz.partial_ratio(name, text)), coverage)


def suggest(text: str, categories: Iterable[Category], limit: int = 3) -> list[Suggestion]:
    """The `limit` active items most similar to `text`, best first (ties by code); [] for an empty text."""
    text = " ".join(text.split())[:MAX_TEXT]
    if not text:
        return []
    known = list(categories)
    names = {c.code: c for c in known}
    ranked = []
    for item in known:
        if not item.is_item or not item.active:
            continue
        parent = names.get(item.parent_code or "")
        own = max(similarity(item.name, text), similarity(item.name_en, text) if item.name_en else 0.0)
        group = similarity(parent.name, text) if parent else 0.0
        score = round(ITEM_WEIGHT * own + (1 - ITEM_WEIGHT) * group, 1)
        if score >= MIN_SCORE:
            ranked.append(Suggestion(item.code, item.name, parent.name if parent else "", score, item.self_handle))
    ranked.sort(key=lambda s: (-s.score, s.code))
    return ranked[:limit]
