"""The triage classifier: character n-gram TF-IDF + multinomial logistic regression; pure, no I/O.

Probabilities come straight from the logistic model (no separate calibration step); a suggestion is explained by
the n-grams of the text whose weight × TF-IDF value pushed most towards its label.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from chengyun.errors import Invalid
from chengyun.triage.explain import FloatArray, Weights, explain
from chengyun.triage.features import LeadVectoriser, Rows, Vectoriser, fit_features

TOP_K = 3


@dataclass(frozen=True)
class Params:
    """Hyper-parameters, fixed up front (chosen by 5-fold CV on the fujian2 `dev` split only; see BENCHMARKS.md)."""

    ngram_max: int = 2  # character 1- and 2-grams
    min_df: int = 2  # an n-gram must occur in two training texts
    c: float = 20.0  # inverse regularisation strength of the logistic regression
    balanced: bool = True  # class weights inversely proportional to class size (macro-F1 counts every class)
    max_chars: int = 2000  # longer texts are cut
    lead_chars: int = 30  # the opening characters (the subject) also form a block of their own …
    lead_weight: float = 0.5  # … weighted by this (0: no such block)
    max_iter: int = 2000
    top_terms: int = 5  # terms shown per suggestion

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the artefact's metadata."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Params:
        """Read back `to_dict`, ignoring unknown keys."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Suggestion:
    """One candidate label, its probability and the text's terms that weighed most for it."""

    label: str
    probability: float
    terms: tuple[str, ...]


@dataclass(frozen=True)
class Classification:
    """The best label with its confidence, the top suggestions (best first) and whether an operator must decide."""

    label: str
    confidence: float
    suggestions: tuple[Suggestion, ...]
    needs_operator: bool = False


@dataclass(frozen=True)
class TriageModel:
    """A fitted vectoriser and classifier; `labels[i]` is the label of probability column i."""

    vectoriser: Vectoriser | LeadVectoriser
    classifier: Any
    labels: tuple[str, ...]
    params: Params = field(default_factory=Params)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The best label of each text."""
        proba = self.probabilities(self.vectoriser.rows(texts))
        return [self.labels[i] for i in np.argmax(proba, axis=1)]

    def classify_many(self, texts: Sequence[str], min_confidence: float = 0.0) -> list[Classification]:
        """Classify texts in one batch; below `min_confidence` the result asks for an operator."""
        rows = self.vectoriser.rows(texts)
        proba = self.probabilities(rows)
        order = np.argsort(-proba, axis=1, kind="stable")[:, :TOP_K]
        chosen = np.take_along_axis(proba, order, axis=1).tolist()
        terms = explain(rows, order, self._weights, self.vectoriser, self.params.top_terms)
        out = []
        for labels, probabilities, words in zip(order.tolist(), chosen, terms, strict=True):
            suggestions = tuple(Suggestion(self.labels[k], p, w) for k, p, w in zip(labels, probabilities, words,
                                                                                   strict=True))
            out.append(Classification(suggestions[0].label, suggestions[0].probability, suggestions,
                                      suggestions[0].probability < min_confidence))
        return out

    def classify(self, text: str, min_confidence: float = 0.0) -> Classification:
        """Classify one text."""
        return self.classify_many([text], min_confidence)[0]

    def probabilities(self, rows: Rows) -> FloatArray:
        """Each row's probability per label, as the classifier's `predict_proba` computes them (without its checks)."""
        weights = self._weights
        scores: FloatArray = np.asarray(rows.matrix() @ weights.by_column) + weights.intercept
        if len(self.labels) == 2:
            positive = expit(scores[:, 0])
            return np.stack([1 - positive, positive], axis=1)
        scores -= np.max(scores, axis=1).reshape((-1, 1))
        np.exp(scores, out=scores)
        scores /= np.sum(scores, axis=1).reshape((-1, 1))
        return scores

    @cached_property
    def _weights(self) -> Weights:
        return Weights.of(self.classifier)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the fitted fields only; the caches are rebuilt on first use."""
        return {name: self.__dict__[name] for name in self.__dataclass_fields__}


def check_training_set(texts: Sequence[str], labels: Sequence[str]) -> None:
    """Refuse what cannot be trained on: no rows, mismatched lengths, a single label."""
    if len(texts) != len(labels):
        raise Invalid("triage.length_mismatch", texts=len(texts), labels=len(labels))
    if not texts:
        raise Invalid("triage.empty_data")
    if len(set(labels)) < 2:
        raise Invalid("triage.one_label", label=labels[0])


def train(texts: Sequence[str], labels: Sequence[str], params: Params | None = None) -> TriageModel:
    """Fit the vectoriser and the classifier; deterministic for the same input."""
    params = params or Params()
    check_training_set(texts, labels)
    vectoriser = _features(texts, params, params.min_df)
    if not len(vectoriser.vocabulary):
        vectoriser = _features(texts, params, 1)
    if not len(vectoriser.vocabulary):
        raise Invalid("triage.empty_data")
    classifier = LogisticRegression(C=params.c, max_iter=params.max_iter,
                                    class_weight="balanced" if params.balanced else None)
    with warnings.catch_warnings():
        # lbfgs may stop a little short on tiny sets; its solution is still the usable one
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(vectoriser.transform(texts), np.asarray(labels))
    return TriageModel(vectoriser, classifier, tuple(str(label) for label in classifier.classes_), params)


def _features(texts: Sequence[str], params: Params, min_df: int) -> Vectoriser | LeadVectoriser:
    return fit_features(texts, ngram_max=params.ngram_max, min_df=min_df, max_chars=params.max_chars,
                        lead_chars=params.lead_chars, lead_weight=params.lead_weight)
