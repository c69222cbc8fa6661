"""Text-duplicate detection on 290 hand-labelled pairs of real messages (../shared/data/tipdm2020c/fujian3)."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from chengyun.triage.duplicates import CategoryRule, DuplicateIndex, DuplicateParams, ReportKey
from tests.helpers import shared_data

DATA = shared_data()

pytestmark = pytest.mark.shared_data
FILE = DATA / "tipdm2020c" / "fujian3_full_likes.csv"
PAIRS = Path(__file__).resolve().parents[2] / "bench" / "data" / "fujian3_duplicate_pairs.csv"
MEASURED = (0.921, 0.689)  # precision, recall on the labelled sample: bench/bench_duplicates.py, 2026-11-24
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _reports() -> list[ReportKey]:
    """Subject and details of every message, no point (the data has none), Beijing time."""
    with FILE.open(encoding="utf-8") as handle:
        return [ReportKey(r["留言编号"].strip(), r["留言主题"].strip() + "。" + " ".join(r["留言详情"].split()),
                          None, None, datetime.strptime(r["留言时间"].strip().replace("/", "-"), "%Y-%m-%d %H:%M:%S")
                          .replace(tzinfo=SHANGHAI), reporter_key=r["留言用户"].strip())
                for r in csv.DictReader(handle)]


def _labels() -> dict[frozenset[str], int]:
    """The labelled pairs (lines starting with # state the labelling rule)."""
    with PAIRS.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {frozenset((r["a"], r["b"])): int(r["label"]) for r in rows}


def test_precision_and_recall_on_labelled_pairs_stay_as_measured() -> None:
    reports = _reports()
    index = DuplicateIndex(DuplicateParams(default_rule=CategoryRule(window_hours=24.0 * 365 * 3)))
    index.build(reports)
    flagged = {frozenset((r.id, m.id)) for r in reports for m in index.similar(r)}
    labels = _labels()
    tp = sum(1 for pair, label in labels.items() if label and pair in flagged)
    fp = sum(1 for pair, label in labels.items() if not label and pair in flagged)
    positives = sum(labels.values())
    assert len(reports) == 4326 and len(labels) == 290 and positives == 135
    assert tp / (tp + fp) > MEASURED[0] - 0.03
    assert tp / positives > MEASURED[1] - 0.03
