"""Hot issues and surge warnings on real citizen messages (fujian3: 4,326 messages with likes, 2017–2020).

    .venv/bin/python bench/bench_hot.py [PATH]   (default ../shared/data/tipdm2020c/fujian3_full_likes.csv)

Prints the top hot issues over the whole file and over one 30-day window, the surge warnings found at each week's
end of 2019 (clusters; and categories when the fujian2 labelled file is there to train the triage classifier),
and the run time on the file and on a 10× synthetic enlargement (one 30-day window of ~40,000 reports).
"""

from __future__ import annotations

import csv
import io
import random
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from chengyun.triage.hot import HotIssue, HotItem, HotParams, hot_issues
from chengyun.triage.hot_surge import Surge, SurgeParams, category_surges, cluster_surges

DATA = Path(__file__).resolve().parents[2] / "shared/data/tipdm2020c"
DEFAULT = DATA / "fujian3_full_likes.csv"
LABELLED = DATA / "fujian2_partial2763_labelled_marsw20.csv"
SHANGHAI = timezone(timedelta(hours=8))
FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M")
WINDOW_END = datetime(2019, 12, 31, 23, 59, tzinfo=SHANGHAI)


def parse_time(text: str) -> datetime:
    """A fujian3 time (two formats occur) in Asia/Shanghai."""
    for fmt in FORMATS:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    raise ValueError(f"unreadable time {text!r}")


def read_items(path: Path) -> list[HotItem]:
    """The file's messages as hot-issue items (subject + body as text, likes from 点赞数)."""
    rows = csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig")))
    return [HotItem(id=r["留言编号"], text=r["留言主题"] + "\n" + " ".join(r["留言详情"].split()),
                    at=parse_time(r["留言时间"]), reporter=r["留言用户"], likes=int(r["点赞数"] or 0),
                    subject=r["留言主题"]) for r in rows]


def with_categories(items: list[HotItem]) -> list[HotItem]:
    """The items with the triage classifier's label (trained on fujian2's labelled messages) as category."""
    from chengyun.triage.dataset import read_labelled
    from chengyun.triage.model import train

    texts, labels = read_labelled(LABELLED.read_bytes(), LABELLED.name, "text", "一级标签")
    predicted = train(texts, labels).predict([it.text for it in items])
    return [replace(it, category=label) for it, label in zip(items, predicted, strict=True)]


def show(title: str, issues: list[HotIssue]) -> None:
    print(f"\n{title}")
    header = f"{'#':>2} {'score':>5} {'n':>3} {'users':>5} {'likes':>5} {'places':>6}  {'span':22}  place / title"
    print(header)
    for rank, h in enumerate(issues, 1):
        print(f"{rank:>2} {h.score:5.2f} {h.count:3} {h.reporters:5} {h.likes:5} {h.places:6}  "
              f"{h.first:%Y-%m-%d}..{h.last:%Y-%m-%d}  [{h.place or '-'}] {h.title}  ({'/'.join(h.terms)})")


def show_surges(found: list[tuple[datetime, Surge]]) -> None:
    for end, s in found:
        print(f"  week to {end:%Y-%m-%d} {s.kind:8} {s.key[:30]:30} recent {s.recent:3}  history {list(s.history)} "
              f"mean {s.mean:.1f} sd {s.std:.1f}  Poisson upper {s.upper}  p {s.p_value:.1e}  ×{s.ratio:.1f}")


def weekly_surges(items: list[HotItem], categories: bool) -> list[tuple[datetime, Surge]]:
    """Surges at every Sunday end of 2019 (each group reported only the first week it surges)."""
    found: list[tuple[datetime, Surge]] = []
    seen: set[str] = set()
    end = datetime(2019, 3, 3, 23, 59, tzinfo=SHANGHAI)
    while end <= datetime(2020, 1, 31, tzinfo=SHANGHAI):
        surges = category_surges(items, end) if categories else cluster_surges(items, end)
        for s in surges:
            if s.key not in seen:
                seen.add(s.key)
                found.append((end, s))
        end += timedelta(days=7)
    return found


def enlarged(items: list[HotItem], times: int, end: datetime) -> list[HotItem]:
    """`times` perturbed copies of every item (a random span of the text dropped), spread over the 30 days to end."""
    rng = random.Random(7)
    out = []
    for k in range(times):
        for it in items:
            cut = rng.randrange(max(len(it.text) - 20, 1))
            out.append(replace(it, id=f"{it.id}-{k}", reporter=f"{it.reporter}-{k}",
                               text=it.text[:cut] + it.text[cut + 20:],
                               at=end - timedelta(seconds=rng.randrange(30 * 86400))))
    return out


def timed(label: str, items: list[HotItem], end: datetime, days: float) -> None:
    started = time.perf_counter()
    hot_issues(items, end, days)
    print(f"{label}: {time.perf_counter() - started:.2f} s")


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    items = read_items(path)
    first, last = min(it.at for it in items), max(it.at for it in items)
    days = (last - first).days + 1
    print(f"{path.name}: {len(items)} messages, {len({it.reporter for it in items})} users, "
          f"{first:%Y-%m-%d}..{last:%Y-%m-%d}; params {HotParams()}")
    show(f"top 15 hot issues over the whole file ({days} days)", hot_issues(items, last, days))
    show(f"top 15 hot issues in the 30 days to {WINDOW_END:%Y-%m-%d}", hot_issues(items, WINDOW_END, 30))
    print(f"\ncluster surge warnings at each week's end, {SurgeParams().recent_days} days vs the "
          f"{SurgeParams().history} weeks before (first week each):")
    show_surges(weekly_surges(items, categories=False))
    if LABELLED.is_file():
        print("\ncategory surge warnings (categories predicted by the triage classifier trained on fujian2):")
        show_surges(weekly_surges(with_categories(items), categories=True))
    print()
    timed(f"whole file ({len(items)} messages)", items, last, days)
    big = enlarged(items, 10, last)
    timed(f"one 30-day window of {len(big)} reports (10 perturbed copies of the file)", big, last, 30)


if __name__ == "__main__":
    main()
