"""From a classification to catalogue items: only active items are filed or suggested; the stand-in fills in."""

from __future__ import annotations

from chengyun.categories.defaults import default_categories
from chengyun.categories.model import Catalogue
from chengyun.triage.catalogue import decide, item_suggestions, suggest_items
from chengyun.triage.model import Classification, Suggestion

CATALOGUE = Catalogue(default_categories())


def classification(*labels: tuple[str, float], needs_operator: bool = False) -> Classification:
    suggestions = tuple(Suggestion(code, p, ("垃圾",)) for code, p in labels)
    return Classification(labels[0][0], labels[0][1], suggestions, needs_operator)


class FakeClassifier:
    """Answers one fixed classification (pure test double of the triage service)."""

    def __init__(self, answer: Classification) -> None:
        self.answer = answer
        self.texts: list[str] = []

    def classify(self, text: str) -> Classification:
        self.texts.append(text)
        return self.answer

    def active_version(self) -> str:
        return "v-test"


def test_a_confident_active_item_is_filed_with_names_scores_and_terms() -> None:
    decision = decide(classification(("0101", 0.91), ("0103", 0.05), ("01", 0.02)), CATALOGUE)
    assert decision.code == "0101"
    assert [(s.code, s.name, s.class_name, s.score) for s in decision.suggestions] == [
        ("0101", "暴露垃圾", "市容环境", 91.0), ("0103", "道路不洁", "市容环境", 5.0)]  # the class "01" is dropped
    params = decision.as_params("v1")
    assert params["model"] == "v1" and params["suggestions"][0]["terms"] == ["垃圾"]


def test_low_confidence_or_a_class_label_leaves_it_to_an_operator_with_the_items() -> None:
    unsure = decide(classification(("0101", 0.4), ("0103", 0.3), needs_operator=True), CATALOGUE)
    assert unsure.code is None and [s.code for s in unsure.suggestions] == ["0101", "0103"]
    best_is_class = decide(classification(("01", 0.95), ("0103", 0.03)), CATALOGUE)
    assert best_is_class.code is None and [s.code for s in best_is_class.suggestions] == ["0103"]
    unknown = decide(classification(("9999", 0.99)), CATALOGUE)
    assert (unknown.code, unknown.suggestions) == (None, ())


def test_suggestions_come_from_the_classifier_and_else_from_text_similarity() -> None:
    fake = FakeClassifier(classification(("0103", 0.7), ("0101", 0.2)))
    assert [s.code for s in suggest_items("路面很脏", CATALOGUE, fake)] == ["0103", "0101"]
    class_only = FakeClassifier(classification(("01", 0.9)))
    fallback = suggest_items("路边有暴露垃圾", CATALOGUE, class_only)
    assert fallback and fallback[0].code == "0101" and fallback[0].terms == ()
    assert suggest_items("  ", CATALOGUE, fake) == [] and fake.texts == ["路面很脏"]  # blank text: no model call
    assert item_suggestions(classification(("0101", 0.5)), CATALOGUE)[0].self_handle is True
