"""The phone pages' pure helpers: the category suggestion stand-in, the anonymous endpoints' token bucket, and the
deadline level of a task on the grid worker's map."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from chengyun.cases.tables import CaseRow
from chengyun.categories.defaults import default_categories
from chengyun.categories.model import Category, CategoryKind
from chengyun.categories.suggest import similarity, suggest
from chengyun.intake.grid_map import task_level
from chengyun.intake.ratelimit import RateLimiter

CATALOGUE = default_categories()


def test_the_item_named_in_the_text_ranks_first() -> None:
    for text, code in [("小区门口路灯不亮了", "0603"), ("楼下有人乱贴小广告", "0201"), ("路边有一堆暴露垃圾", "0101"),
                       ("the rubbish bin is overflowing", "0104")]:
        ranked = suggest(text, CATALOGUE)
        assert ranked[0].code == code, (text, ranked)
        assert len(ranked) <= 3 and ranked == sorted(ranked, key=lambda s: -s.score)


def test_nothing_is_suggested_for_empty_or_unrelated_text() -> None:
    assert suggest("", CATALOGUE) == [] and suggest("   ", CATALOGUE) == []
    assert suggest("你好", CATALOGUE) == []


def test_only_active_items_are_suggested_and_class_names_count() -> None:
    cats = [Category("01", "市容环境", CategoryKind.CLASS), Category("0101", "暴露垃圾", CategoryKind.ITEM, "01"),
            Category("0102", "暴露垃圾堆", CategoryKind.ITEM, "01", active=False),
            Category("02", "园林绿化", CategoryKind.CLASS), Category("0201", "树木倒伏", CategoryKind.ITEM, "02")]
    ranked = suggest("暴露垃圾影响市容环境", cats)
    assert [s.code for s in ranked] == ["0101"] and ranked[0].class_name == "市容环境"
    assert ranked[0].score == 100.0


def test_similarity_is_symmetric_in_case_and_bounded() -> None:
    assert similarity("Street light", "the STREET LIGHT is out") == 100.0
    assert similarity("", "x") == 0.0 and 0 <= similarity("井盖", "路灯") <= 100


def test_the_bucket_allows_a_burst_then_refills_at_the_hourly_rate() -> None:
    limiter = RateLimiter(burst=3, per_hour=3600)  # one token a second
    assert [limiter.allow("1.2.3.4", 0.0)[0] for _ in range(4)] == [True, True, True, False]
    allowed, wait = limiter.allow("1.2.3.4", 0.0)
    assert not allowed and math.isclose(wait, 1.0)
    assert limiter.allow("1.2.3.4", 1.0) == (True, 0.0)
    assert limiter.allow("5.6.7.8", 1.0) == (True, 0.0)  # another client has its own bucket


def test_the_bucket_never_holds_more_than_the_burst_and_forgets_old_clients() -> None:
    limiter = RateLimiter(burst=2, per_hour=3600, max_clients=2)
    assert limiter.allow("a", 0.0)[0] and limiter.allow("a", 10_000.0)[0] and limiter.allow("a", 10_000.0)[0]
    assert not limiter.allow("a", 10_000.0)[0]
    limiter.allow("b", 10_000.0)
    limiter.allow("c", 10_000.0)  # "a" is the least recently seen: forgotten, it starts full again
    assert limiter.allow("a", 10_000.0)[0]
    assert RateLimiter(burst=0, per_hour=10).allow("x", 0.0) == (False, math.inf)


def test_task_levels_follow_the_deadline_while_the_clock_runs() -> None:
    now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

    def case(state: str, level: str, due: datetime | None = None) -> CaseRow:
        return CaseRow(state=state, deadline_level=level, handling_due=due)

    assert task_level(case("dispatched", "green"), now) == "normal"
    assert task_level(case("dispatched", "yellow"), now) == "due_soon"
    assert task_level(case("dispatched", "red"), now) == "overdue"
    assert task_level(case("handling", "green", now - timedelta(minutes=1)), now) == "overdue"
    assert task_level(case("suspended", "red"), now) == "normal"  # a suspended case's clock is paused
