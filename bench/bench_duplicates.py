"""Duplicate detection: precision/recall on labelled pairs of real messages, then build time, memory and lookup
latency for a million synthetic reports.

    .venv/bin/python bench/bench_duplicates.py                 # both parts (needs ../shared/data for the first)
    .venv/bin/python bench/bench_duplicates.py --reports 100000  # a smaller synthetic index
    .venv/bin/python bench/bench_duplicates.py --sample-pairs    # print the candidate pairs that were labelled
    .venv/bin/python bench/bench_duplicates.py --datasketch      # the datasketch comparison (if installed)

Labelled pairs (bench/data/fujian3_duplicate_pairs.csv: message ids, stratum, label) come from
tipdm2020c/fujian3_full_likes.csv. All 9.4 M message pairs are put in disjoint strata by the exact Jaccard of
their character bigrams (A ≥ 0.6, B ≥ 0.4, C ≥ 0.25, D ≥ 0.12) and, below 0.12, by the same user (E), the same
place named in the text (F), or neither (G); a seeded sample of each stratum was read and labelled by hand by
the rule in the CSV's header comment. Precision and recall are estimated by weighting each stratum's sample by
the stratum's size; positives in stratum G (9.3 M pairs, 30 sampled) can only be bounded, not counted.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import scipy.sparse as sp

from chengyun.triage.duplicates import CategoryRule, DuplicateIndex, DuplicateParams, ReportKey
from chengyun.triage.duplicates_text import normalise_text, shingle
from chengyun.triage.hot_places import place_key

ROOT = Path(__file__).resolve().parents[1]
FUJIAN3 = ROOT.parent / "shared" / "data" / "tipdm2020c" / "fujian3_full_likes.csv"
PAIRS = ROOT / "bench" / "data" / "fujian3_duplicate_pairs.csv"
SHANGHAI = ZoneInfo("Asia/Shanghai")
BANDS = (("A", 0.6), ("B", 0.4), ("C", 0.25), ("D", 0.12))
SAMPLE = {"A": 40, "B": 40, "C": 50, "D": 50, "E": 40, "F": 40, "G": 30}
EVAL_PARAMS = DuplicateParams(default_rule=CategoryRule(radius_m=200.0, window_hours=24.0 * 365 * 3))


@dataclass(frozen=True)
class Message:
    """One fujian3 message."""

    id: str
    user: str
    text: str
    at: datetime


def _time(value: str) -> datetime:
    """fujian3 writes both 2019/2/28 11:25:05 and 2017-06-08 17:31:20, Beijing time."""
    value = value.strip().replace("/", "-")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    raise ValueError(value)


def load_fujian3(path: Path = FUJIAN3) -> list[Message]:
    """The messages: subject and details as one text."""
    with path.open(encoding="utf-8") as handle:
        return [Message(r["留言编号"].strip(), r["留言用户"].strip(),
                        r["留言主题"].strip() + "。" + " ".join(r["留言详情"].split()), _time(r["留言时间"]))
                for r in csv.DictReader(handle)]


def bigram_jaccard(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair (i < j) sharing a bigram, with the exact Jaccard of their bigram sets."""
    shingled = shingle([normalise_text(t, EVAL_PARAMS.max_chars) for t in texts], 2)
    _, columns = np.unique(shingled.values, return_inverse=True)
    counts = np.diff(shingled.offsets)
    rows = np.repeat(np.arange(len(texts)), counts)
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, columns)))
    inter = sp.triu(matrix @ matrix.T, k=1).tocoo()
    jac = inter.data / (counts[inter.row] + counts[inter.col] - inter.data)
    return inter.row, inter.col, jac


def strata(messages: list[Message]) -> dict[tuple[str, str], str]:
    """The stratum of every pair that is not in G (the rest), keyed by (smaller id, larger id)."""
    rows, cols, jac = bigram_jaccard([m.text for m in messages])
    out: dict[tuple[str, str], str] = {}
    for i, j, value in zip(rows.tolist(), cols.tolist(), jac.tolist(), strict=True):
        name = next((n for n, low in BANDS if value >= low), None)
        if name:
            out[_pair(messages[i].id, messages[j].id)] = name
    _low_strata(messages, out, "E", lambda m: m.user)
    _low_strata(messages, out, "F", lambda m: place_key(m.text))
    return out


def _low_strata(messages: list[Message], out: dict[tuple[str, str], str], name: str, key: object) -> None:
    """Pairs below the Jaccard bands that share a key (user or place), not already in a stratum."""
    groups: dict[str, list[str]] = {}
    for m in messages:
        value = key(m)  # type: ignore[operator]
        if value:
            groups.setdefault(value, []).append(m.id)
    for ids in groups.values():
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                out.setdefault(_pair(a, b), name)


def _pair(a: str, b: str) -> tuple[str, str]:
    """An unordered pair of message ids in a fixed order."""
    return (a, b) if int(a) < int(b) else (b, a)


def stratum_sizes(messages: list[Message], known: dict[tuple[str, str], str]) -> dict[str, int]:
    """How many of all pairs fall in each stratum."""
    sizes = dict.fromkeys(SAMPLE, 0)
    for name in known.values():
        sizes[name] += 1
    sizes["G"] = len(messages) * (len(messages) - 1) // 2 - sum(sizes.values())
    return sizes


def sample_pairs(messages: list[Message]) -> list[tuple[str, str, str]]:
    """The seeded sample of every stratum that was labelled (G drawn uniformly from all other pairs)."""
    known = strata(messages)
    rng = random.Random(20261124)
    by_stratum: dict[str, list[tuple[str, str]]] = {}
    for pair, name in sorted(known.items()):
        by_stratum.setdefault(name, []).append(pair)
    out = [(a, b, name) for name, pairs in sorted(by_stratum.items())
           for a, b in rng.sample(pairs, min(SAMPLE[name], len(pairs)))]
    ids = [m.id for m in messages]
    while sum(1 for p in out if p[2] == "G") < SAMPLE["G"]:
        pair = _pair(*rng.sample(ids, 2))
        if pair not in known:
            out.append((*pair, "G"))
    return out


def print_sample(messages: list[Message]) -> None:
    """The sample with shortened texts, for reading and labelling."""
    text = {m.id: m for m in messages}
    for a, b, name in sample_pairs(messages):
        print(f"{a},{b},{name}\n  A[{text[a].user} {text[a].at:%Y-%m-%d}] {text[a].text[:150]}\n"
              f"  B[{text[b].user} {text[b].at:%Y-%m-%d}] {text[b].text[:150]}")


def read_labels(path: Path = PAIRS) -> list[tuple[str, str, str, int]]:
    """(id a, id b, stratum, label) of the labelled pairs; lines starting with # are the labelling rule."""
    with path.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return [(r["a"], r["b"], r["stratum"], int(r["label"])) for r in rows]


def engine_scores(messages: list[Message], params: DuplicateParams) -> dict[tuple[str, str], float]:
    """The best similarity the engine reports for every pair it returns (no points: text and time only)."""
    index = DuplicateIndex(params)
    keys = [ReportKey(m.id, m.text, None, None, m.at, reporter_key=m.user) for m in messages]
    index.build(keys)
    scores: dict[tuple[str, str], float] = {}
    for key in keys:
        for match in index.similar(key):
            pair = _pair(key.id, match.id)
            scores[pair] = max(scores.get(pair, 0.0), match.similarity)
    return scores


@dataclass(frozen=True)
class Quality:
    """Precision and recall, plain on the labelled sample and weighted by stratum size."""

    precision: float
    recall: float
    weighted_precision: float
    weighted_recall: float
    flagged: int


def quality(labels: list[tuple[str, str, str, int]], scores: dict[tuple[str, str], float], threshold: float,
            sizes: dict[str, int]) -> Quality:
    """Precision/recall of `score ≥ threshold` on the labelled pairs."""
    per: dict[str, list[int]] = {}
    for a, b, name, label in labels:
        flagged = int(scores.get(_pair(a, b), -1.0) >= threshold)
        counts = per.setdefault(name, [0, 0, 0, 0])  # tp, fp, fn, n
        counts[0] += flagged and label
        counts[1] += flagged and not label
        counts[2] += label and not flagged
        counts[3] += 1
    tp, fp, fn = (sum(c[k] for c in per.values()) for k in range(3))
    w = {name: sizes[name] / c[3] for name, c in per.items()}
    wtp, wfp, wfn = (sum(c[k] * w[n] for n, c in per.items()) for k in range(3))
    return Quality(tp / max(tp + fp, 1), tp / max(tp + fn, 1), wtp / max(wtp + wfp, 1e-9), wtp / max(wtp + wfn, 1e-9),
                   sum(1 for s in scores.values() if s >= threshold))


def real_data_part() -> None:
    """Precision/recall on the labelled fujian3 pairs, at the default threshold and over thresholds."""
    messages = load_fujian3()
    labels = read_labels()
    sizes = stratum_sizes(messages, strata(messages))
    positives = {n: sum(1 for *_, s, lab in labels if s == n and lab) for n in SAMPLE}
    print(f"fujian3: {len(messages)} messages, {len(labels)} labelled pairs, {sum(positives.values())} duplicates")
    print("  stratum sizes:", sizes, "\n  duplicates in sample:", positives)
    scores = engine_scores(messages, replace(EVAL_PARAMS, threshold=0.0))
    print("  threshold  precision  recall  w.precision  w.recall  pairs flagged in all 4,326")
    for threshold in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8):
        q = quality(labels, scores, threshold, sizes)
        mark = "  <- default" if math.isclose(threshold, DuplicateParams().threshold) else ""
        print(f"  {threshold:9.2f}  {q.precision:9.3f}  {q.recall:6.3f}  {q.weighted_precision:11.3f}  "
              f"{q.weighted_recall:8.3f}  {q.flagged:6d}{mark}")


RULES = {"road": CategoryRule(100.0, 72.0), "sanitation": CategoryRule(150.0, 48.0),
         "noise": CategoryRule(300.0, 168.0), "facility": CategoryRule(200.0, 120.0)}
STREETS = ("怡湖路", "石家碾路", "大弯南路", "化工路", "青江路", "凤凰大道", "团结路", "香岛大道")


def synthetic(n: int, seed: int = 7) -> Iterator[ReportKey]:
    """Realistic reports: fujian3 texts with a place and small edits, in clusters of 1–4 reports of one problem
    (within ~80 m and 36 h), points over a 19 × 18 km box around 104.06, 30.66 (5 % unlocated), a year of times."""
    rng = random.Random(seed)
    texts = [m.text[:200] for m in load_fujian3()] if FUJIAN3.exists() else _template_texts(rng)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    made = 0
    while made < n:
        base = f"{rng.choice(STREETS)}{rng.randrange(1, 400)}号附近，" + rng.choice(texts)
        lon, lat = 104.06 + rng.uniform(-0.1, 0.1), 30.66 + rng.uniform(-0.08, 0.08)
        at = start + timedelta(seconds=rng.randrange(365 * 86400))
        category = rng.choice(list(RULES))
        for _ in range(min(rng.choice((1, 1, 1, 2, 2, 3, 4)), n - made)):
            placed = rng.random() > 0.05
            yield ReportKey(f"s{made}", _edit(base, rng), lon + rng.gauss(0, 0.0005) if placed else None,
                            lat + rng.gauss(0, 0.0005) if placed else None,
                            at + timedelta(hours=rng.uniform(0, 36)), category,
                            base[:10] if rng.random() < 0.6 else None, f"r{rng.randrange(300_000)}")
            made += 1


def _edit(text: str, rng: random.Random) -> str:
    """The same problem as another person words it: a few characters dropped, a greeting added."""
    chars = [c for c in text if rng.random() > 0.08]
    return rng.choice(("", "你好，", "请问", "反映：")) + "".join(chars)


def _template_texts(rng: random.Random) -> list[str]:
    """Fallback texts when the real messages are not available."""
    what = ("路灯不亮", "井盖破损", "垃圾堆放", "占道经营", "噪音扰民", "污水外溢", "违章搭建", "树木倒伏")
    return [f"{w}，已经{rng.randrange(2, 30)}天了，影响居民出行，请尽快处理。{rng.randrange(10**6)}"
            for w in what * 500]


def _rss_mib() -> float:
    """The resident memory of this process now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def performance_part(n: int, lookups: int) -> None:
    """Build an index of n synthetic reports; time single-report lookups of each kind."""
    params = DuplicateParams(rules=RULES)
    queries: list[ReportKey] = []
    step = max(1, n // lookups)

    generating = [0.0]

    def keep(reports: Iterator[ReportKey]) -> Iterator[ReportKey]:
        for i in range(n):
            t0 = time.perf_counter()
            report = next(reports)
            generating[0] += time.perf_counter() - t0
            if i % step == 0 and len(queries) < lookups:
                queries.append(report)
            yield report

    before = _rss_mib()
    index = DuplicateIndex(params)
    started = time.perf_counter()
    index.build(keep(synthetic(n)))
    built = time.perf_counter() - started - generating[0]
    print(f"synthetic: {len(index):,} reports indexed in {built:.1f} s, generating them apart "
          f"({generating[0]:.1f} s; h3 resolution {index.resolution}); "
          f"RSS {_rss_mib():,.0f} MiB ({_rss_mib() - before:,.0f} MiB for the index)")
    for name in ("similar", "same_place", "same_reporter"):
        method = getattr(index, name)
        times, found = [], 0
        for report in queries:
            t0 = time.perf_counter()
            found += len(method(report))
            times.append((time.perf_counter() - t0) * 1000)
        p50, p99 = np.percentile(times, [50, 99])
        print(f"  {name:13s} {len(queries)} lookups: p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(times):.2f} ms; "
              f"{found / len(queries):.2f} matches a lookup")


def datasketch_part(n: int = 20_000) -> None:
    """Why not datasketch: its MinHash and MinHashLSH on the same texts (64 permutations, 32 bands of 2)."""
    try:
        from datasketch import LeanMinHash, MinHash, MinHashLSH
    except ImportError:
        print("datasketch is not installed")
        return
    texts = [normalise_text(r.text, 300) for r in synthetic(n)]
    t0 = time.perf_counter()
    sketches = []
    for text in texts:
        mh = MinHash(num_perm=64)
        mh.update_batch([text[i: i + 2].encode() for i in range(len(text) - 1)])
        sketches.append(LeanMinHash(mh))
    sketched = time.perf_counter() - t0
    before = _rss_mib()
    lsh = MinHashLSH(num_perm=64, params=(32, 2))
    for i, mh in enumerate(sketches):
        lsh.insert(str(i), mh)
    print(f"datasketch: {sketched / n * 1e6:.0f} µs to sketch a report; MinHashLSH "
          f"{(_rss_mib() - before) * 1024 * 1024 / n:,.0f} bytes a report")


def main() -> None:
    """Run the parts asked for."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--sample-pairs", action="store_true")
    parser.add_argument("--datasketch", action="store_true")
    parser.add_argument("--skip-real", action="store_true")
    args = parser.parse_args()
    if args.sample_pairs:
        print_sample(load_fujian3())
        return
    if args.datasketch:
        datasketch_part()
        return
    if not args.skip_real:
        if FUJIAN3.exists() and PAIRS.exists():
            real_data_part()
        else:
            print(f"skipping the real-data part: {FUJIAN3} or {PAIRS} is missing", file=sys.stderr)
    performance_part(args.reports, args.lookups)


if __name__ == "__main__":
    main()
