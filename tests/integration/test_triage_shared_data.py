"""The triage classifier on 2,763 real citizen messages (../shared/data/tipdm2020c): stratified 5-fold CV."""

from __future__ import annotations

import numpy as np
import pytest

from chengyun.triage.dataset import read_labelled
from chengyun.triage.evaluation import cross_validate, score
from chengyun.triage.model import train
from tests.helpers import shared_data
from tests.unit.test_triage import reference_terms

DATA = shared_data()

pytestmark = pytest.mark.shared_data
FILE = DATA / "tipdm2020c" / "fujian2_partial2763_labelled_marsw20.csv"
MEASURED_MACRO_F1 = 0.906  # bench/bench_triage.py, 2026-12-04, with the opening block (BENCHMARKS.md)


def test_five_fold_macro_f1_on_real_messages() -> None:
    texts, labels = read_labelled(FILE.read_bytes(), FILE.name, "text", "一级标签")
    result = cross_validate(texts, labels, folds=5)
    assert len(texts) == 2763 and len(result.labels) == 7
    assert result.macro_f1_mean > MEASURED_MACRO_F1 - 0.02
    assert result.accuracy > 0.88


def test_held_out_split_and_the_fast_path_agree_with_scikit_learn() -> None:
    data = FILE.read_bytes()
    texts, labels = read_labelled(data, FILE.name, "text", "一级标签")
    _, splits = read_labelled(data, FILE.name, "text", "orig_split")
    dev = [i for i, s in enumerate(splits) if s == "dev"]
    test = [texts[i] for i, s in enumerate(splits) if s == "test"]
    model = train([texts[i] for i in dev], [labels[i] for i in dev])
    results = model.classify_many(test)
    held = score([labels[i] for i, s in enumerate(splits) if s == "test"], [r.label for r in results])
    assert held.macro_f1 > 0.888 - 0.02  # bench/bench_triage.py: 0.888
    expected = model.classifier.predict_proba(model.vectoriser.transform(test))
    assert np.abs(model.probabilities(model.vectoriser.rows(test)) - expected).max() < 1e-9
    for text, result in list(zip(test, results, strict=True))[:100]:
        assert result == model.classify(text)
        assert all(s.terms == reference_terms(model, text, s.label) for s in result.suggestions)
