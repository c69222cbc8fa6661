"""The triage service: classify with the active model, train and evaluate files, switch versions without restart."""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from chengyun.errors import Invalid
from chengyun.triage.artefacts import ModelStore, sha256
from chengyun.triage.dataset import read_labelled
from chengyun.triage.evaluation import Evaluation, cross_validate, score
from chengyun.triage.model import Classification, Params, TriageModel, train

RECHECK_S = 2.0  # how often a running process looks at the `active` pointer
DEMO_NAME = "demo"


def demo_examples() -> tuple[list[str], list[str]]:
    """The shipped example texts, labelled with the default catalogue's active item codes (five or more each)."""
    text = resources.files("chengyun.triage").joinpath("data/examples.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    return [r["text"] for r in rows], [r["code"] for r in rows]


@dataclass(frozen=True)
class Trained:
    """A newly saved version and its cross-validated figures (None when the data is too small for k folds)."""

    version: str
    rows: int
    labels: tuple[str, ...]
    evaluation: Evaluation | None


class TriageService:
    """Classifies report texts with the active model; a switch of `active` by any process is seen within seconds."""

    def __init__(self, store: ModelStore, *, min_confidence: float = 0.6, recheck_s: float = RECHECK_S,
                 monotonic: Callable[[], float] = time.monotonic, now: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.min_confidence = min_confidence
        self.recheck_s = recheck_s
        self._monotonic = monotonic
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._model: TriageModel | None = None
        self._version: str | None = None
        self._stamp: tuple[int, int] | None = None
        self._checked = float("-inf")

    def classify(self, text: str) -> Classification:
        """The best label, its confidence, three suggestions with their terms, and whether an operator decides."""
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        """Classify a batch with the active model (faster per text than one by one)."""
        if any(not t.strip() for t in texts):
            raise Invalid("triage.empty_text")
        return self.model().classify_many(texts, self.min_confidence)

    def active_version(self) -> str:
        """The version the next classification uses."""
        self.model()
        assert self._version is not None
        return self._version

    def model(self) -> TriageModel:
        """The active model, reloaded when the pointer changed (checked at most every `recheck_s`)."""
        with self._lock:
            now = self._monotonic()
            if self._model is not None and now - self._checked < self.recheck_s:
                return self._model
            self._checked = now
            stamp = self.store.pointer_stamp()
            if self._model is None or stamp != self._stamp:
                if stamp is None:
                    self.install_demo()
                    stamp = self.store.pointer_stamp()
                version = self.store.active()
                assert version is not None
                self._model, self._version, self._stamp = self.store.load(version), version, stamp
            return self._model

    def install_demo(self) -> str:
        """Train the demo model from the shipped examples, save it and make it active (a fresh install's model)."""
        texts, labels = demo_examples()
        data = "\n".join(f"{y}\t{x}" for x, y in zip(texts, labels, strict=True)).encode()
        meta = {"data_file": "chengyun/triage/data/examples.csv", "data_sha256": sha256(data)}
        return self._train_and_save(texts, labels, Params(), DEMO_NAME, meta, folds=0, activate=True,
                                    trainer=_demo_model).version

    def train_file(self, path: Path, *, text_col: str, label_col: str, name: str = "", folds: int = 5,
                   activate: bool = True, params: Params | None = None) -> Trained:
        """Train on a CSV/.xlsx file, save a new version with its metadata, and (by default) make it active."""
        data = _read(path)
        texts, labels = read_labelled(data, path.name, text_col, label_col)
        meta = {"data_file": path.name, "data_sha256": sha256(data), "text_col": text_col, "label_col": label_col}
        return self._train_and_save(texts, labels, params or Params(), name or path.stem, meta, folds, activate)

    def evaluate_file(self, path: Path, *, text_col: str, label_col: str, folds: int = 5,
                      holdout: Path | None = None, params: Params | None = None) -> Evaluation:
        """Stratified k-fold CV on one file, or train on it and score on a held-out file."""
        texts, labels = read_labelled(_read(path), path.name, text_col, label_col)
        if holdout is None:
            return cross_validate(texts, labels, params, folds=folds)
        test_texts, test_labels = read_labelled(_read(holdout), holdout.name, text_col, label_col)
        model = train(texts, labels, params)
        return score(test_labels, model.predict(test_texts), sorted(set(labels) | set(test_labels)))

    def use(self, version: str) -> None:
        """Make a stored version the active one, for this and every other running process."""
        self.store.activate(version)
        self._checked = float("-inf")

    def _train_and_save(self, texts: list[str], labels: list[str], params: Params, name: str,
                        meta: dict[str, Any], folds: int, activate: bool,
                        trainer: Callable[[list[str], list[str], Params], TriageModel] | None = None) -> Trained:
        started = time.perf_counter()
        model = (trainer or train)(texts, labels, params)
        train_s = time.perf_counter() - started
        evaluation = None
        if folds >= 2 and min(labels.count(label) for label in set(labels)) >= folds:
            evaluation = cross_validate(texts, labels, params, folds=folds)
        meta = {**meta, "rows": len(texts), "labels": list(model.labels), "params": params.to_dict(),
                "train_seconds": round(train_s, 3), "cross_validation": evaluation.summary() if evaluation else None}
        version = self.store.save(model, meta, name=name, created_at=self._now())
        if activate:
            self.use(version)
        return Trained(version, len(texts), model.labels, evaluation)


_DEMO_LOCK = threading.Lock()
_DEMO: dict[str, TriageModel] = {}


def _demo_model(texts: list[str], labels: list[str], params: Params) -> TriageModel:
    """The demo model, trained once per process for the same examples (every fresh data directory wants it)."""
    key = sha256("\n".join(f"{y}\t{x}" for x, y in zip(texts, labels, strict=True)).encode() + repr(params).encode())
    with _DEMO_LOCK:
        if key not in _DEMO:
            _DEMO[key] = train(texts, labels, params)
        return _DEMO[key]


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise Invalid("files.not_found", path=str(path))
    return path.read_bytes()
