"""The triage classifier on a small synthetic set: training, confidence, suggestions, artefacts, switching."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from chengyun.errors import Invalid, NotFound
from chengyun.triage.artefacts import ModelStore
from chengyun.triage.dataset import read_labelled
from chengyun.triage.evaluation import cross_validate
from chengyun.triage.features import decode, fit_vectoriser, ngram_keys
from chengyun.triage.model import train
from chengyun.triage.service import TriageService, demo_examples

TOPICS = {
    "垃圾": ["垃圾桶满了没人清运", "路边垃圾堆积发臭", "小区垃圾没有清理", "垃圾散落一地很脏", "楼下垃圾成堆"],
    "噪音": ["工地施工噪音太大", "晚上施工噪音扰民", "广场舞噪音很吵", "装修噪音吵得睡不着", "噪音从早到晚不停"],
    "路灯": ["路灯晚上不亮", "这段路灯坏了很黑", "路灯杆歪了不亮", "小区路灯一直不亮", "路灯闪烁不亮"],
}
TEXTS = [t for texts in TOPICS.values() for t in texts]
LABELS = [label for label, texts in TOPICS.items() for _ in texts]
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_ngrams_decode_back_and_never_span_texts() -> None:
    docs, keys = ngram_keys(["ab", "c d"], 2)
    grams = sorted((int(d), decode(int(k))) for d, k in zip(docs, keys, strict=True))
    assert grams == [(0, "a"), (0, "ab"), (0, "b"), (1, "c"), (1, "d")]
    vec = fit_vectoriser(["垃圾桶", "垃圾车"], min_df=1)
    assert {vec.term(i) for i in range(len(vec.vocabulary))} >= {"垃圾", "垃", "圾桶"}


def test_classifies_with_confidence_ordered_suggestions_and_explanations() -> None:
    model = train(TEXTS, LABELS)
    result = model.classify("门口的垃圾没人清运")
    assert result.label == "垃圾"
    assert 0.0 <= result.confidence <= 1.0
    probabilities = [s.probability for s in result.suggestions]
    assert len(result.suggestions) == 3 and probabilities == sorted(probabilities, reverse=True)
    assert result.confidence == probabilities[0]
    assert result.suggestions[0].terms and all(term in "门口的垃圾没人清运" for term in result.suggestions[0].terms)


def test_threshold_sends_to_operator() -> None:
    model = train(TEXTS, LABELS)
    assert not model.classify("路灯不亮", 0.0).needs_operator
    assert model.classify("路灯不亮", 1.0).needs_operator


def test_bad_training_sets_are_refused_with_codes() -> None:
    with pytest.raises(Invalid) as empty:
        train([], [])
    assert empty.value.code == "triage.empty_data"
    with pytest.raises(Invalid) as one:
        train(["a", "b"], ["x", "x"])
    assert one.value.code == "triage.one_label"
    with pytest.raises(Invalid) as rare:
        cross_validate([*TEXTS, "孤单的一条"], [*LABELS, "其他"], folds=5)
    assert rare.value.code == "triage.label_too_rare" and "其他" in rare.value.params["labels"]


def test_reading_files_refuses_missing_columns_and_empty_files() -> None:
    texts, labels = read_labelled("text,label\n垃圾很多,垃圾\n,空\n路灯坏了,路灯\n".encode(), "a.csv", "text", "label")
    assert texts == ["垃圾很多", "路灯坏了"] and labels == ["垃圾", "路灯"]
    with pytest.raises(Invalid) as missing:
        read_labelled(b"text,other\nx,y\n", "a.csv", "text", "label")
    assert missing.value.code == "triage.missing_column" and missing.value.params["columns"] == "label"
    with pytest.raises(Invalid) as empty:
        read_labelled(b"", "a.csv", "text", "label")
    assert empty.value.code == "triage.empty_data"
    with pytest.raises(Invalid) as bad:
        read_labelled(b"not a workbook", "a.xlsx", "text", "label")
    assert bad.value.code == "triage.bad_file"


def test_cross_validation_scores_every_text_once() -> None:
    result = cross_validate(TEXTS, LABELS, folds=5)
    assert sum(map(sum, result.confusion)) == len(TEXTS)
    assert len(result.fold_macro_f1) == 5 and 0.0 <= result.macro_f1 <= 1.0
    assert [row.label for row in result.per_class] == sorted(TOPICS)


def test_save_load_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    model = train(TEXTS, LABELS)
    version = store.save(model, {"rows": len(TEXTS)}, name="synthetic", created_at=NOW)
    again = store.load(version)
    probe = ["垃圾没人管", "路灯坏了", "噪音很大", "不相干的话"]
    assert again.classify_many(probe) == model.classify_many(probe)
    meta = store.meta(version)
    assert meta["version"] == version and meta["rows"] == len(TEXTS) and "scikit-learn" in meta["libraries"]
    assert store.save(model, {}, name="synthetic", created_at=NOW) != version  # never overwritten
    with pytest.raises(NotFound):
        store.load("20260101T000000-none")
    with pytest.raises(Invalid):
        store.load("../escape")


def test_a_running_service_sees_a_switch_after_its_recheck(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    first = store.save(train(TEXTS, LABELS), {}, name="one", created_at=NOW)
    swapped = ["路灯" if label == "垃圾" else "垃圾" if label == "路灯" else label for label in LABELS]
    second = store.save(train(TEXTS, swapped), {}, name="two", created_at=NOW)
    store.activate(first)
    clock = [0.0]
    service = TriageService(store, recheck_s=5.0, monotonic=lambda: clock[0])
    assert service.classify("垃圾没人清运").label == "垃圾"
    ModelStore(tmp_path).activate(second)  # another process switches
    clock[0] = 1.0
    assert service.classify("垃圾没人清运").label == "垃圾"  # not rechecked yet
    clock[0] = 6.0
    assert service.classify("垃圾没人清运").label == "路灯" and service.active_version() == second


def test_a_fresh_install_gets_the_demo_model_for_the_catalogue_classes(tmp_path: Path) -> None:
    texts, labels = demo_examples()
    assert set(labels) == {f"{n:02d}" for n in range(1, 14)} and len(texts) >= 8 * 13
    service = TriageService(ModelStore(tmp_path), min_confidence=0.6, now=lambda: NOW)
    assert service.classify("小区门口垃圾桶满了没人清运").label == "01"
    assert service.classify("晚上工地还在施工，噪音太大").label == "03"
    assert service.active_version().endswith("-demo")
    with pytest.raises(Invalid):
        service.classify("  ")
