"""Hot issues and surge warnings on the 4,326 real fujian3 messages (../shared/data/tipdm2020c), facts checked by
reading the clusters' messages (see BENCHMARKS.md)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest

from chengyun.triage.hot import HotIssue, HotItem, hot_issues
from chengyun.triage.hot_surge import cluster_surges
from tests.helpers import shared_data

DATA = shared_data()

pytestmark = pytest.mark.shared_data
FILE = DATA / "tipdm2020c" / "fujian3_full_likes.csv"
SHANGHAI = timezone(timedelta(hours=8))


def parse_time(text: str) -> datetime:
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=SHANGHAI)
        except ValueError:
            continue
    raise ValueError(text)


@pytest.fixture(scope="module")
def items() -> list[HotItem]:
    rows = csv.DictReader(io.StringIO(FILE.read_bytes().decode("utf-8-sig")))
    return [HotItem(id=r["留言编号"], text=r["留言主题"] + "\n" + " ".join(r["留言详情"].split()),
                    at=parse_time(r["留言时间"]), reporter=r["留言用户"], likes=int(r["点赞数"] or 0),
                    subject=r["留言主题"]) for r in rows]


def subjects(issue: HotIssue, items: list[HotItem], word: str) -> int:
    by_id = {it.id: it for it in items}
    return sum(word in by_id[i].subject for i in issue.ids)


def test_top_hot_issues_over_the_whole_file(items: list[HotItem]) -> None:
    assert len(items) == 4326
    end = max(it.at for it in items)
    top = hot_issues(items, end, (end - min(it.at for it in items)).days + 1)
    plant = top[0]  # a concrete mixing plant by 丽发新城: noise and dust, 2019-11 to 2020-01
    assert plant.place == "丽发新城" and plant.count >= 35 and subjects(plant, items, "搅拌") >= 25
    binding = next(h for h in top[:3] if h.place == "伊景园滨河苑")  # car parks sold bundled with flats
    assert binding.count >= 30 and binding.reporters >= 30 and subjects(binding, items, "滨河") >= 0.8 * binding.count
    loans = next(h for h in top[:5] if "车贷" in h.title)  # the 58车贷 fraud case
    assert loans.count >= 10 and loans.likes >= 2000 and subjects(loans, items, "58车贷") >= 10


def test_surges_of_the_two_largest_issues_are_warned_in_the_weeks_they_broke(items: list[HotItem]) -> None:
    binding = cluster_surges(items, datetime(2019, 8, 4, 23, 59, tzinfo=SHANGHAI))
    assert any("伊景园滨河苑" in s.key and s.recent >= 5 and s.p_value < 0.001 for s in binding)
    plant = cluster_surges(items, datetime(2019, 12, 8, 23, 59, tzinfo=SHANGHAI))
    assert any("丽发新城" in s.key and s.recent >= 5 for s in plant)
    assert cluster_surges(items, datetime(2019, 6, 30, 23, 59, tzinfo=SHANGHAI)) == []
