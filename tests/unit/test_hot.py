"""Hot issues, surge warnings and place mentions on small synthetic reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chengyun.triage.hot import HotItem, HotParams, hot_issues, in_window, score
from chengyun.triage.hot_places import common_place, place_key, place_mentions
from chengyun.triage.hot_surge import SurgeParams, category_surges, cluster_surges, period_counts

END = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
NOISE = ["垃圾桶满了没人清运", "路灯晚上不亮很黑", "广场舞音响太吵", "共享单车乱停乱放", "井盖缺失很危险",
         "树枝挡住红绿灯", "电梯经常停运", "楼道堆放杂物"]
HEATING = ["锦绣花园小区暖气不热室温只有十几度", "锦绣花园小区暖气片不热晚上很冷", "锦绣花园暖气不热老人孩子受冻",
           "锦绣花园小区供暖温度不达标暖气不热", "锦绣花园小区暖气不热多次反映无人处理"]


def item(i: int, text: str, days_ago: float, reporter: str | None = None, likes: int = 0,
         category: str | None = None) -> HotItem:
    return HotItem(id=f"r{i}", text=text, at=END - timedelta(days=days_ago), reporter=reporter or f"u{i}",
                   likes=likes, category=category)


def reports(likes: int = 0) -> list[HotItem]:
    heating = [item(i, t, 1 + i, likes=likes) for i, t in enumerate(HEATING)]
    return heating + [item(100 + i, t, 2 + i) for i, t in enumerate(NOISE)]


def test_similar_reports_form_a_cluster_that_ranks_above_singletons() -> None:
    issues = hot_issues(reports(), END, 30, HotParams(min_size=1))
    top = issues[0]
    assert top.count == 5 and set(top.ids) == {f"r{i}" for i in range(5)}
    assert "暖气" in top.title and top.place == "锦绣花园"
    assert all(h.count == 1 for h in issues[1:]) and top.score > issues[1].score
    assert top.first == END - timedelta(days=5) and top.last == END - timedelta(days=1)


def test_singletons_are_not_hot_issues_by_default() -> None:
    issues = hot_issues(reports(), END, 30)
    assert [h.count for h in issues] == [5]


def test_distinct_reporters_are_counted_by_key() -> None:
    same = [item(i, t, 1 + i, reporter="same-person") for i, t in enumerate(HEATING)]
    issue = hot_issues(same + reports()[5:], END, 30)[0]
    assert issue.count == 5 and issue.reporters == 1
    assert issue.score < hot_issues(reports(), END, 30)[0].score


def test_likes_raise_the_score() -> None:
    plain = hot_issues(reports(), END, 30)[0]
    liked = hot_issues(reports(likes=40), END, 30)[0]
    assert liked.likes == 200 and plain.likes == 0 and liked.score > plain.score


def test_score_grows_with_each_figure() -> None:
    params = HotParams()
    base = score(5, 3, 10, 2, 0.0, params)
    assert score(5, 4, 10, 2, 0.0, params) > base  # reporters
    assert score(6, 3, 10, 2, 0.0, params) > base  # count
    assert score(5, 3, 10, 3, 0.0, params) > base  # spread
    assert score(5, 3, 10, 2, 0.5, params) > base  # growth


def test_growth_compares_the_window_halves() -> None:
    recent = [item(i, t, 1 + i) for i, t in enumerate(HEATING)]
    earlier = [item(i, t, 20 + i) for i, t in enumerate(HEATING)]
    assert hot_issues(recent, END, 30)[0].growth == 1.0
    assert hot_issues(earlier, END, 30)[0].growth == -1.0


def test_the_window_excludes_old_and_future_reports() -> None:
    old = [item(50 + i, t, 40 + i) for i, t in enumerate(HEATING)]
    future = item(99, HEATING[0], -1)
    assert in_window([*old, future], END, 30) == []
    assert hot_issues([*old, future, *reports()[5:]], END, 30) == []
    assert hot_issues(old, END, 60)[0].count == 5


PLACES = ["东湖路", "西山村", "南苑小区", "北门街", "中心广场", "河滨公园"]
BACKGROUND = [place + problem for place in PLACES for problem in NOISE]


def heating_history(recent: int) -> list[HotItem]:
    """One heating complaint a week for eight weeks, then `recent` in the last week, over steady background."""
    items = [item(i, HEATING[i % 5], 7 + 7 * i + 3, category="heating") for i in range(8)]
    items += [item(100 + i, HEATING[i % 5], 0.5 + i * 6 / max(recent, 1), category="heating") for i in range(recent)]
    return items + [item(200 + i, t, 0.3 + 1.3 * i, category="other") for i, t in enumerate(BACKGROUND)]


def test_a_surge_is_warned_when_the_last_days_jump() -> None:
    surges = category_surges(heating_history(8), END)
    assert [s.key for s in surges] == ["heating"]
    surge = surges[0]
    assert surge.recent == 8 and surge.history == (1,) * 8 and surge.mean == 1.0 and surge.std == 0.0
    assert surge.recent > surge.upper and surge.p_value < 0.001 and surge.ratio == 8.0
    assert surge.ids == tuple(sorted(f"r{100 + i}" for i in range(8)))
    cluster = cluster_surges(heating_history(8), END)
    assert len(cluster) == 1 and cluster[0].recent == 8 and "暖气" in cluster[0].key


def test_no_surge_when_flat_or_small() -> None:
    assert category_surges(heating_history(1), END) == []
    assert cluster_surges(heating_history(1), END) == []
    assert category_surges(heating_history(4), END) == []  # fewer than min_count


def test_period_counts_put_each_time_in_its_week() -> None:
    times = [END, END - timedelta(days=6.9), END - timedelta(days=7.5), END - timedelta(days=62), END + timedelta(1)]
    recent, history = period_counts(times, END, SurgeParams(recent_days=7, history=8))
    assert recent == 2 and history == [1, 0, 0, 0, 0, 0, 0, 1]


@pytest.mark.parametrize(("text", "expected"), [
    ("座落在A市A3区联丰路米兰春天G2栋320", [("A市", "city"), ("A3区", "district"), ("联丰路", "road"),
                                        ("米兰春天", "compound")]),
    ("反映A7县春华镇金鼎村水泥路的问题", [("A7县", "district"), ("春华镇", "town"), ("金鼎村", "village")]),
    ("本人系春华镇金鼎村七里组村民", [("春华镇", "town"), ("金鼎村", "village")]),
    ("A市暮云街道丽发新城社区附近搅拌站", [("A市", "city"), ("暮云街道", "town"), ("丽发新城", "compound")]),
    ("A市富绿物业丽发新城强行断水", [("A市", "city"), ("丽发新城", "compound")]),
    ("我们小区的道路坏了，农村的路灯不亮，市民反映", []),
])
def test_place_mentions(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(m.name, m.kind) for m in place_mentions(text)] == expected


def test_place_key_is_the_most_specific_mention() -> None:
    assert place_key("A市A3区联丰路米兰春天G2栋") == "米兰春天"
    assert place_key("A7县春华镇金鼎村水泥路") == "金鼎村"
    assert place_key("A市A6区月亮岛路架设高压线") == "月亮岛路"
    assert place_key("A市的道路太堵") is None


def test_common_place_prefers_a_specific_place_most_texts_name() -> None:
    texts = ["A2区丽发新城附近搅拌站", "丽发新城小区旁搅拌站", "A2区搅拌站噪音", "A2区丽发新城噪音"]
    assert common_place(texts) == "丽发新城"
    assert common_place(["A2区噪音", "A2区灰尘"]) == "A2区"
    assert common_place(["没有地名"]) is None
