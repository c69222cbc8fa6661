"""The shipped default catalogue: its shape (13 classes, ~120 items) and that its values make sense."""

from __future__ import annotations

from collections import Counter

import pytest

from chengyun.categories.defaults import default_catalogue_bytes, default_categories
from chengyun.categories.model import Catalogue, Category, CategoryKind
from chengyun.categories.parsing import COLUMNS, format_csv, parse_catalogue
from chengyun.shared.handling import HandlingLevel, LimitUnit, TimeLimit, Urgency

CLASS_NAMES = ["市容环境", "宣传广告", "施工管理", "街面秩序", "突发事件", "公用设施", "道路交通", "园林绿化",
               "房屋土地", "安全隐患", "矛盾纠纷与社会治安", "生态环境", "民生服务与关爱"]


@pytest.fixture(scope="module")
def categories() -> list[Category]:
    return default_categories()


def by_name(categories: list[Category]) -> dict[str, Category]:
    return {c.name: c for c in categories}


def hours(limit: TimeLimit) -> int:
    assert limit.unit in (LimitUnit.HOURS, LimitUnit.DAYS), limit
    return limit.amount * (24 if limit.unit is LimitUnit.DAYS else 1)


def test_the_file_is_plain_utf8_with_the_documented_header() -> None:
    data = default_catalogue_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8").splitlines()[0] == ",".join(COLUMNS)


def test_thirteen_classes_and_about_120_items_with_unique_codes_and_names(categories: list[Category]) -> None:
    classes = [c for c in categories if c.kind is CategoryKind.CLASS]
    items = [c for c in categories if c.is_item]
    assert [c.name for c in classes] == CLASS_NAMES
    assert all(c.parent_code is None for c in classes)
    assert 110 <= len(items) <= 130
    assert len({c.code for c in categories}) == len(categories)
    assert not [name for name, n in Counter(c.name for c in items).items() if n > 1]
    per_class = Counter(c.parent_code for c in items)
    assert set(per_class) == {c.code for c in classes} and min(per_class.values()) >= 5


def test_codes_follow_the_class_item_scheme(categories: list[Category]) -> None:
    for category in categories:
        if category.is_item:
            assert category.parent_code is not None
            assert len(category.code) == 4 and category.code.startswith(category.parent_code), category
        else:
            assert len(category.code) == 2 and category.code.isdigit(), category


def test_every_item_is_complete_active_and_has_an_english_name(categories: list[Category]) -> None:
    for item in (c for c in categories if c.is_item):
        assert item.active and item.name_en and item.name_en.isascii(), item
        assert Catalogue(categories).item(item.code) == item


def test_urgent_hazards_are_urgent_with_short_limits(categories: list[Category]) -> None:
    named = by_name(categories)
    for name in ("燃气泄漏", "燃气泄漏隐患", "火灾", "路面塌陷", "电梯困人"):
        hazard = named[name]
        assert hazard.urgency is Urgency.CRITICAL, name
        response, handling = hazard.limits(Urgency.CRITICAL)
        assert hours(response) <= 1 and hours(handling) <= 4, name
    for name in ("消防通道堵塞", "电动车违规充电", "井盖破损/缺失"):
        assert named[name].urgency is Urgency.URGENT, name


def test_urgent_and_critical_items_get_calendar_time_limits(categories: list[Category]) -> None:
    for item in (c for c in categories if c.is_item):
        response, handling = item.limits(Urgency.URGENT)
        assert hours(response) <= 2 and hours(handling) <= 24, item  # DESIGN.md: urgent 2 h / 24 h at most
        if item.urgency is not Urgency.NORMAL:
            assert item.response_limit.unit in (LimitUnit.HOURS, LimitUnit.DAYS), item


def test_self_handled_and_admitted_items_are_small_local_matters(categories: list[Category]) -> None:
    items = [c for c in categories if c.is_item]
    named = by_name(categories)
    for name in ("违法张贴小广告", "乱堆物堆料", "楼道杂物堆放", "邻里纠纷", "独居老人关爱"):
        assert named[name].self_handle, name
    for name in ("邻里纠纷", "独居老人关爱", "楼道杂物堆放", "违法张贴小广告"):
        assert named[name].admission, name
    for name in ("违法建设", "无照经营游商", "施工扰民", "燃气泄漏隐患"):
        assert not named[name].admission and not named[name].self_handle, name
    local = (HandlingLevel.PROPERTY, HandlingLevel.COMMUNITY, HandlingLevel.STREET)
    for item in items:
        if item.self_handle or item.admission:
            assert item.urgency is not Urgency.CRITICAL and item.handling_level in local, item
    assert 20 <= sum(c.admission for c in items) <= 60 and 10 <= sum(c.self_handle for c in items) <= 40


def test_the_default_catalogue_survives_a_write_and_read_round_trip(categories: list[Category]) -> None:
    assert parse_catalogue(format_csv(categories).encode(), "csv", {}) == categories
    known = {c.code: c for c in categories}
    assert parse_catalogue(default_catalogue_bytes(), "csv", known) == categories  # re-validated against itself
