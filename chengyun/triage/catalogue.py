"""From a classification to the catalogue's items: what intake may file a case under, and what the operator sees.

A model's labels are catalogue codes. Only an active item can be a case's category, so suggestions that name a
class or a retired item are dropped; when none is left (a model trained on classes only), the text-similarity
stand-in of the categories package ranks the items instead. Pure, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from chengyun.categories.model import Catalogue
from chengyun.categories.suggest import Suggestion, suggest
from chengyun.triage.model import Classification


class Classifier(Protocol):
    """What intake and the suggestion endpoints need from the triage service."""

    def classify(self, text: str) -> Classification:
        """The best label, its confidence, the top three suggestions, and whether an operator decides."""
        ...

    def active_version(self) -> str:
        """The model version that classifies."""
        ...


@dataclass(frozen=True)
class Decision:
    """The item intake files the report under (None: an operator picks) and the suggestions shown either way."""

    code: str | None
    confidence: float
    suggestions: tuple[Suggestion, ...]

    def as_params(self, version: str) -> dict[str, Any]:
        """JSON-ready evidence kept with the report (model version, confidence, suggestions with their terms)."""
        return {"model": version, "confidence": round(self.confidence, 4),
                "suggestions": [{"code": s.code, "name": s.name, "class_name": s.class_name, "score": s.score,
                                 "terms": list(s.terms)} for s in self.suggestions]}


def item_suggestions(classification: Classification, catalogue: Catalogue) -> tuple[Suggestion, ...]:
    """The classification's suggestions that are active items, with names and a 0–100 score, best first."""
    out = []
    for s in classification.suggestions:
        item = catalogue.find(s.label)
        if item is None or not item.is_item or not item.active:
            continue
        parent = catalogue.find(item.parent_code or "")
        out.append(Suggestion(item.code, item.name, parent.name if parent else "", round(100 * s.probability, 1),
                              item.self_handle, s.terms))
    return tuple(out)


def decide(classification: Classification, catalogue: Catalogue) -> Decision:
    """File under the best label when it is a confident active item; otherwise leave it to an operator."""
    items = item_suggestions(classification, catalogue)
    confident = not classification.needs_operator and bool(items) and items[0].code == classification.label
    return Decision(items[0].code if confident else None, classification.confidence, items)


def suggest_items(text: str, catalogue: Catalogue, classifier: Classifier | None, limit: int = 3) -> list[Suggestion]:
    """Up to `limit` items for a typed description: the classifier's, else the text-similarity stand-in's."""
    if classifier is not None and text.strip():
        items = item_suggestions(classifier.classify(text), catalogue)
        if items:
            return list(items[:limit])
    return suggest(text, catalogue, limit)
