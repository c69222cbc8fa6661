"""KPI definitions at memory speed: parameter parsing, local windows, rates with empty denominators, totals."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from chengyun.cases.kpis import GroupBy, KpiCounts, KpiQuery, KpiRow, parse_group, parse_range, ratio, report
from chengyun.errors import Invalid

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)  # already 11-23 01:00 in Shanghai


def test_group_defaults_to_community_and_unknown_is_refused() -> None:
    assert parse_group(None) is GroupBy.COMMUNITY and parse_group("class") is GroupBy.CLASS
    with pytest.raises(Invalid) as err:
        parse_group("street")
    assert err.value.code == "kpis.bad_group" and "month" in err.value.params["allowed"]
    assert [g for g in GroupBy if g.is_period] == [GroupBy.DAY, GroupBy.WEEK, GroupBy.MONTH]


def test_range_defaults_to_30_local_days_including_today() -> None:
    assert parse_range(None, None, NOW, SHANGHAI) == (date(2026, 10, 25), date(2026, 11, 24))
    assert parse_range("2026-11-01", None, NOW, SHANGHAI) == (date(2026, 11, 1), date(2026, 11, 24))
    assert parse_range(None, "2026-11-10", NOW, SHANGHAI) == (date(2026, 10, 11), date(2026, 11, 10))


@pytest.mark.parametrize(("start", "end", "code"), [
    ("2026-02-30", None, "kpis.bad_date"), ("20261101", None, "kpis.bad_date"), (None, "x", "kpis.bad_date"),
    ("2026-11-10", "2026-11-10", "kpis.bad_range"), ("2026-11-10", "2026-11-01", "kpis.bad_range"),
    ("2024-01-01", "2026-11-01", "kpis.bad_range"),
])
def test_bad_dates_and_ranges_are_precise(start: str | None, end: str | None, code: str) -> None:
    with pytest.raises(Invalid) as err:
        parse_range(start, end, NOW, SHANGHAI)
    assert err.value.code == code


def test_local_query_window_is_converted_to_utc_with_the_offset() -> None:
    q = KpiQuery.local("/1/", GroupBy.DAY, date(2026, 11, 2), date(2026, 11, 16), SHANGHAI)
    assert q.start == datetime(2026, 11, 1, 16, tzinfo=UTC) and q.end == datetime(2026, 11, 15, 16, tzinfo=UTC)
    assert q.utc_offset_minutes == 480 and q.unit_code is None


def test_rates_are_none_when_nothing_to_divide_by() -> None:
    row = KpiRow.of("x", KpiCounts(cases=2))
    assert row.response_rate is None and row.satisfaction_rate is None and row.avg_claim_hours is None
    assert set(row.closed_share_by_level.values()) == {None}
    assert ratio(0, 4) == 0.0 and ratio(1, 0) is None


def test_groups_add_up_to_the_total_including_averages() -> None:
    a = KpiCounts(cases=3, dispatched=2, responded=1, claim_n=2, claim_hours=5.0, closed=1,
                  closed_by_level={"street": 1})
    b = KpiCounts(cases=1, dispatched=1, responded=1, claim_n=1, claim_hours=1.0, closed=1,
                  closed_by_level={"community": 1})
    result = report(KpiQuery("/", GroupBy.COMMUNITY, NOW, NOW), [("b", b), (None, a), ("a", a)])
    assert [r.key for r in result.rows] == ["a", "b", None]
    total = result.total
    assert total.counts.cases == 7 and total.response_rate == pytest.approx(3 / 5)
    assert total.avg_claim_hours == pytest.approx(11 / 5)
    assert total.closed_share_by_level["street"] == pytest.approx(2 / 3)


def test_rolled_up_and_live_counts_of_the_same_group_add_up() -> None:
    query = KpiQuery.local("/", GroupBy.COMMUNITY, date(2026, 11, 1), date(2026, 11, 24), ZoneInfo("Asia/Shanghai"))
    past = KpiCounts(cases=10, dispatched=8, responded=6, closed_by_level={"community": 3})
    today = KpiCounts(cases=2, dispatched=2, responded=2, closed_by_level={"community": 1})
    result = report(query, [("510113002001", past), (None, KpiCounts(cases=1)), ("510113002001", today)])
    assert [r.key for r in result.rows] == ["510113002001", None]
    merged = result.rows[0]
    assert (merged.counts.cases, merged.response_rate) == (12, 0.8)
    assert merged.counts.closed_by_level["community"] == 4 and result.total.counts.cases == 13


def test_a_query_knows_its_local_days_and_can_start_later() -> None:
    query = KpiQuery.local("/", GroupBy.DAY, date(2026, 11, 1), date(2026, 11, 24), ZoneInfo("Asia/Shanghai"))
    assert query.local_days == (date(2026, 11, 1), date(2026, 11, 24))
    today = query.from_day(date(2026, 11, 23))
    assert today.start == datetime(2026, 11, 22, 16, 0, tzinfo=UTC) and today.end == query.end
    assert today.local_days == (date(2026, 11, 23), date(2026, 11, 24))
    assert query.from_day(date(2026, 10, 1)).start == query.start  # never earlier than the window
