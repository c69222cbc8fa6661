"""Figures of a classifier: accuracy, macro-F1, per-class precision/recall/F1, confusion matrix, k-fold CV; pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from chengyun.errors import Invalid
from chengyun.triage.model import Params, check_training_set, train


@dataclass(frozen=True)
class ClassFigures:
    """Precision, recall and F1 of one label, with its number of true examples."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """Pooled figures over all predictions, and per fold the macro-F1 and accuracy (one fold for a held-out file)."""

    labels: tuple[str, ...]
    accuracy: float
    macro_f1: float
    per_class: tuple[ClassFigures, ...]
    confusion: tuple[tuple[int, ...], ...]  # rows: true label, columns: predicted label, in `labels` order
    fold_macro_f1: tuple[float, ...]
    fold_accuracy: tuple[float, ...]

    @property
    def macro_f1_mean(self) -> float:
        """Mean macro-F1 over the folds."""
        return float(np.mean(self.fold_macro_f1))

    @property
    def macro_f1_std(self) -> float:
        """Standard deviation of macro-F1 over the folds."""
        return float(np.std(self.fold_macro_f1))

    def summary(self) -> dict[str, Any]:
        """JSON-ready headline figures for an artefact's metadata."""
        return {"folds": len(self.fold_macro_f1), "accuracy": round(self.accuracy, 4),
                "macro_f1_mean": round(self.macro_f1_mean, 4), "macro_f1_std": round(self.macro_f1_std, 4)}


def score(truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None,
          folds: Sequence[tuple[float, float]] = ()) -> Evaluation:
    """Figures for one set of predictions; `folds` are (macro-F1, accuracy) pairs of the parts."""
    names = list(labels) if labels is not None else sorted(set(truth) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=names, zero_division=0)
    per_class = tuple(ClassFigures(n, float(p), float(r), float(f), int(s))
                      for n, p, r, f, s in zip(names, precision, recall, f1, support, strict=True))
    matrix = confusion_matrix(truth, predicted, labels=names)
    macro = float(f1_score(truth, predicted, labels=names, average="macro", zero_division=0))
    accuracy = float(accuracy_score(truth, predicted))
    parts = tuple(folds) or ((macro, accuracy),)
    return Evaluation(tuple(names), accuracy, macro, per_class, tuple(tuple(int(v) for v in r) for r in matrix),
                      tuple(p[0] for p in parts), tuple(p[1] for p in parts))


def cross_validate(texts: Sequence[str], labels: Sequence[str], params: Params | None = None, *, folds: int = 5,
                   seed: int = 0) -> Evaluation:
    """Stratified k-fold CV: each fold's model is trained on the other folds only."""
    check_training_set(texts, labels)
    if folds < 2:
        raise Invalid("triage.folds_too_few", folds=folds)
    rare = sorted(label for label, count in Counter(labels).items() if count < folds)
    if rare:
        raise Invalid("triage.label_too_rare", labels=", ".join(rare), folds=folds)
    truth = np.asarray(labels)
    predicted = np.empty(len(labels), dtype=object)
    parts = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(np.zeros(len(labels)), truth):
        model = train([texts[i] for i in train_idx], [labels[i] for i in train_idx], params)
        guess = model.predict([texts[i] for i in test_idx])
        predicted[test_idx] = guess
        parts.append((float(f1_score(truth[test_idx], guess, average="macro", zero_division=0)),
                      float(accuracy_score(truth[test_idx], guess))))
    return score(list(truth), [str(p) for p in predicted], sorted(set(labels)), parts)


@dataclass(frozen=True)
class TopK:
    """How often the true label is the first suggestion, and how often it is among the first `k`."""

    k: int
    top1: float
    topk: float
    rows: int


def top_k_accuracy(truth: Sequence[str], suggested: Sequence[Sequence[str]], k: int = 3) -> TopK:
    """Top-1 and top-k accuracy of ranked suggestions (best first) against the true labels."""
    if not truth:
        raise Invalid("triage.empty_data")
    top1 = sum(bool(s) and s[0] == t for t, s in zip(truth, suggested, strict=True)) / len(truth)
    topk = sum(t in list(s)[:k] for t, s in zip(truth, suggested, strict=True)) / len(truth)
    return TopK(k, top1, topk, len(truth))


def cross_validate_top_k(texts: Sequence[str], labels: Sequence[str], params: Params | None = None, *,
                         folds: int = 5, seed: int = 0, k: int = 3) -> TopK:
    """Stratified k-fold CV of the suggestions: is the true label first, is it among the first `k`."""
    check_training_set(texts, labels)
    truth: list[str] = []
    suggested: list[list[str]] = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(np.zeros(len(labels)), np.asarray(labels)):
        model = train([texts[i] for i in train_idx], [labels[i] for i in train_idx], params)
        for result in model.classify_many([texts[i] for i in test_idx]):
            suggested.append([s.label for s in result.suggestions])
        truth.extend(labels[i] for i in test_idx)
    return top_k_accuracy(truth, suggested, k)
