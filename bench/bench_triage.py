"""Triage classifier on real citizen messages: stratified 5-fold CV, held-out split, training time, throughput.

    .venv/bin/python bench/bench_triage.py [PATH]   (default ../shared/data/tipdm2020c/fujian2_…_marsw20.csv)
    .venv/bin/python bench/bench_triage.py --demo   (the shipped demo model: item-level top-1/top-3 in 5-fold CV,
                                                     and speed on its short messages)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from chengyun.triage.dataset import read_labelled
from chengyun.triage.evaluation import Evaluation, cross_validate, cross_validate_top_k, score
from chengyun.triage.model import Params, TriageModel, train
from chengyun.triage.service import demo_examples

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/tipdm2020c/fujian2_partial2763_labelled_marsw20.csv"


def show(title: str, result: Evaluation) -> None:
    print(f"\n{title}: accuracy {result.accuracy:.4f}, macro-F1 pooled {result.macro_f1:.4f}, "
          f"per fold {result.macro_f1_mean:.4f} ± {result.macro_f1_std:.4f}")
    for row in result.per_class:
        print(f"  {row.label:10} P {row.precision:.3f}  R {row.recall:.3f}  F1 {row.f1:.3f}  n {row.support}")


def speed(model: TriageModel, texts: list[str]) -> None:
    """Messages per second on one core: labels only and fully explained in one batch, and one by one, with latency."""
    model.classify_many(texts[:100])  # warm: the hash index, decoded terms and weight layout are built once
    started = time.perf_counter()
    model.predict(texts)
    batch = len(texts) / (time.perf_counter() - started)
    started = time.perf_counter()
    model.classify_many(texts)
    explained = len(texts) / (time.perf_counter() - started)
    latencies = []
    for text in texts:
        started = time.perf_counter()
        model.classify(text)
        latencies.append(time.perf_counter() - started)
    single = len(texts) / sum(latencies)
    p50, p99 = (1000 * float(np.percentile(latencies, q)) for q in (50, 99))
    mean_chars = sum(map(len, texts)) / len(texts)
    print(f"prediction, one core, mean {mean_chars:.0f} characters a message: labels in one batch {batch:,.0f} msg/s; "
          f"with confidence + top-3 + terms in one batch {explained:,.0f} msg/s; one by one {single:,.0f} msg/s "
          f"(latency of one classification p50 {p50:.2f} ms, p99 {p99:.2f} ms)")


def demo() -> None:
    """The demo model of a fresh install: how often the right catalogue item is first / among three suggestions."""
    texts, labels = demo_examples()
    figures = cross_validate_top_k(texts, labels, folds=5, k=3)
    print(f"demo examples: {len(texts)} messages, {len(set(labels))} items; stratified 5-fold CV: "
          f"top-1 {figures.top1:.3f}, top-3 {figures.topk:.3f}")
    speed(train(texts, labels), texts)


def main() -> None:
    os.sched_setaffinity(0, {0})
    if sys.argv[1:] == ["--demo"]:
        demo()
        return
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    data = path.read_bytes()
    texts, labels = read_labelled(data, path.name, "text", "一级标签")
    _, splits = read_labelled(data, path.name, "text", "orig_split")
    print(f"{path.name}: {len(texts)} messages, {len(set(labels))} labels, params {Params()}")
    show("stratified 5-fold CV (all rows)", cross_validate(texts, labels, folds=5))
    dev = [i for i, s in enumerate(splits) if s == "dev"]
    test = [i for i, s in enumerate(splits) if s == "test"]
    if dev and test:
        model = train([texts[i] for i in dev], [labels[i] for i in dev])
        show(f"train on orig_split=dev ({len(dev)}), score on test ({len(test)})",
             score([labels[i] for i in test], model.predict([texts[i] for i in test]), sorted(set(labels))))
    started = time.perf_counter()
    model = train(texts, labels)
    print(f"\ntraining on all {len(texts)} rows: {time.perf_counter() - started:.2f} s (one core)")
    speed(model, texts)
    results = model.classify_many(texts)
    low = sum(r.confidence < 0.6 for r in results)
    print(f"on its own training rows: {low} of {len(texts)} below confidence 0.6")


if __name__ == "__main__":
    main()
