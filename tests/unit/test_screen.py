"""The big screen's pure parts: panel and layer descriptions, map classes, the stream's cursor and gap tracking."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chengyun.auth.model import Principal, Role
from chengyun.cases.kpis import GroupBy, KpiCounts, KpiQuery, report
from chengyun.config import Settings
from chengyun.errors import Invalid
from chengyun.i18n import catalogue
from chengyun.screen.model import (
    CASE_CLASSES,
    Cursor,
    Event,
    GapTracker,
    Intake,
    Trend,
    bucket_class,
    bucket_of,
    case_class,
)
from chengyun.screen.panels import LAYERS, PANELS, TOP_CLASSES, Kind, Slot, layer, panel
from chengyun.screen.service import Focus, ScreenService
from chengyun.screen.sources import SOURCES, TAILS

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def test_every_panel_and_layer_is_described_once_with_a_known_source_and_translated_title() -> None:
    ids = [p.id for p in PANELS] + [lay.id for lay in LAYERS]
    assert len(ids) == len(set(ids))
    for desc in (*PANELS, *LAYERS):
        assert desc.source in SOURCES, desc.id
        for locale in ("zh-CN", "en"):
            assert desc.title in catalogue(locale), (desc.title, locale)
    for lay in LAYERS:
        assert lay.kind == Kind.MAP_LAYER and lay.palette
        assert all(lay.legend + cls in catalogue("zh-CN") and lay.legend + cls in catalogue("en")
                   for cls in lay.palette)
    assert {p.slot for p in PANELS} == set(Slot)
    assert panel("feed").refresh.live and layer("cases").refresh.live
    assert layer("cases").link == "/cases/{id}"  # one click from the map to the case's console page


def test_the_issue_asks_for_these_panels() -> None:
    wanted = {"today_total", "intake_by_source", "intake_by_class", "response_rate", "resolution_rate",
              "satisfaction_rate", "on_time_rate", "overdue", "avg_claim_hours", "avg_handling_hours",
              "closed_by_level", "hot", "feed", "trend_7", "trend_30"}
    assert {p.id for p in PANELS} == wanted
    assert {lay.id for lay in LAYERS} >= {"cases", "workers"}


def test_overdue_uses_the_overdue_boards_states() -> None:
    from chengyun.cases.pages import CLOCKED as BOARD
    from chengyun.screen.queries import CLOCKED

    assert CLOCKED == BOARD


def test_case_classes_follow_state_then_deadline() -> None:
    past, future = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
    assert case_class("reported", "green", None, NOW) == "triage"
    assert case_class("returned", "red", past, NOW) == "triage"  # no clock runs for the dispatcher's queue
    assert case_class("suspended", "red", past, NOW) == "suspended"
    assert case_class("dispatched", "green", future, NOW) == "green"
    assert case_class("handling", "yellow", future, NOW) == "yellow"
    assert case_class("handling", "red", future, NOW) == "red"
    assert case_class("claimed", "green", past, NOW) == "red"  # past due before the sweep saw it
    for done in ("closed", "followed_up", "rejected", "merged"):
        assert case_class(done, "red", past, NOW) is None
    assert set(CASE_CLASSES) == set(layer("cases").palette)


def test_value_functions_pick_the_figures_of_their_source() -> None:
    intake = Intake({"grid": 3, "citizen": 2}, {f"{i:02d}": i for i in range(1, 11)})
    assert panel("today_total").value(intake) == 5
    assert panel("intake_by_source").value(intake) == [("grid", 3), ("citizen", 2), ("sensor", 0), ("upstream", 0),
                                                       ("district", 0)]
    classes = panel("intake_by_class").value(intake)
    assert len(classes) == TOP_CLASSES and classes[0] == ("10", 10) and classes[-1] == ("03", 3)
    query = KpiQuery(scope_path="/", group=GroupBy.LEVEL, start=NOW - timedelta(days=30), end=NOW)
    counts = KpiCounts(cases=4, dispatched=4, responded=3, closed=2, closed_with_due=2, closed_on_time=1, eligible=4,
                       resolved=2, rated=2, satisfied=2, claim_n=2, claim_hours=3.0,
                       closed_by_level={"community": 2})
    kpis = report(query, [("community", counts)])
    assert panel("response_rate").value(kpis) == 0.75 and panel("resolution_rate").value(kpis) == 0.5
    assert panel("satisfaction_rate").value(kpis) == 1.0 and panel("on_time_rate").value(kpis) == 0.5
    assert panel("avg_claim_hours").value(kpis) == 1.5 and panel("avg_handling_hours").value(kpis) is None
    assert dict(panel("closed_by_level").value(kpis))["community"] == 1.0
    trend = Trend(("2026-11-22", "2026-11-23"), (4, 1), (2, 0))
    assert panel("trend_7").value(trend) == (trend.days, [("cases", (4, 1)), ("closed", (2, 0))])


def _event(tail: str, seq: int) -> Event:
    return Event(tail=tail, seq=seq, kind="case.step", at=NOW, area_path="/a/")


def test_cursor_round_trips_and_only_moves_forward() -> None:
    cursor = Cursor({"cases": 12, "steps": 40})
    assert cursor.text() == "cases:12;steps:40"
    assert Cursor.parse(cursor.text(), TAILS) == cursor
    assert Cursor.parse("cases:3;alarms:9", ("cases", "steps")) == Cursor({"cases": 3})  # unknown tails ignored
    moved = cursor.after([_event("steps", 41), _event("steps", 39), _event("cases", 13)])
    assert moved == Cursor({"cases": 13, "steps": 41})
    assert moved.covers(cursor) and not cursor.covers(moved) and cursor.covers(Cursor({}))


@pytest.mark.parametrize("text", ["cases:x", "cases:-1", "cases", "cases:" + "9" * 19, "steps:1;cases:1e3"])
def test_a_malformed_cursor_is_refused(text: str) -> None:
    with pytest.raises(Invalid) as err:
        Cursor.parse(text, TAILS)
    assert err.value.code == "screen.bad_cursor"


def test_gap_tracker_asks_again_for_skipped_ids_until_they_come_or_time_runs_out() -> None:
    gaps = GapTracker(newest=10, patience=15)
    gaps.saw([11, 14], now=0.0)
    assert gaps.newest == 14 and gaps.pending(1.0) == [12, 13]
    gaps.saw([13], now=2.0)
    assert gaps.pending(3.0) == [12]
    assert gaps.pending(16.0) == []  # a rolled-back insert: given up
    empty = GapTracker()
    empty.saw([5, 6], now=0.0)
    assert empty.pending(0.0) == []  # a fresh tracker knows nothing about ids before the first it sees


@given(st.permutations(list(range(101, 141))), st.integers(1, 6))
def test_every_id_is_delivered_exactly_once_whatever_the_commit_order(order: list[int], batch: int) -> None:
    """Ids 101… taken in order but committed in any order, polled `batch` commits at a time, all arrive once."""
    gaps, committed, delivered = GapTracker(newest=100, patience=1000), set(), []
    for tick, start in enumerate(range(0, len(order), batch)):
        committed |= set(order[start:start + batch])
        pending = set(gaps.pending(float(tick)))
        found = sorted(i for i in committed if i > gaps.newest or i in pending)  # what one poll returns
        delivered += found
        gaps.saw(found, float(tick))
    assert sorted(delivered) == sorted(order) and not gaps.pending(float(len(order)))


class SlowHot:
    """A fake HotService: counts analyses, each taking a moment, and answers with the count so far."""

    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def analyse(self, principal: Principal, days: int) -> tuple[list[str], list[str]]:
        with self.lock:
            self.calls += 1
            n = self.calls
        time.sleep(0.2)
        return [f"{principal.scope_path}#{n}"], []


def test_hot_issues_are_analysed_once_per_focus_and_refreshed_in_the_background(
        monkeypatch: pytest.MonkeyPatch) -> None:
    hot = SlowHot()
    service = ScreenService(None, None, None, hot, None)  # type: ignore[arg-type]  # only the hot cache is used
    op = Principal(1, "op", "op", Role.OPERATOR, "510113002000", "/510113002000/")
    focus = Focus("510113002001", "怡湖社区", "community", "/510113002000/510113002001/", ())
    answers: list[object] = []
    threads = [threading.Thread(target=lambda: answers.append(service._hot_issues(op, focus))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert hot.calls == 1 and answers == [["/510113002000/510113002001/#1"]] * 4  # the others waited for it
    monkeypatch.setattr("chengyun.screen.service.HOT_TTL_S", 0.0)
    assert service._hot_issues(op, focus) == ["/510113002000/510113002001/#1"]  # stale, served at once
    deadline = time.monotonic() + 10
    while service._hot_issues(op, focus) != ["/510113002000/510113002001/#2"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hot.calls >= 2 and service._hot_issues(op, focus)[0].startswith("/510113002000/510113002001/#")


def test_the_descriptions_and_the_model_are_pure() -> None:
    """panels.py and model.py import no database, web or HTTP library (checked in a fresh interpreter)."""
    code = ("import sys, chengyun.screen.panels, chengyun.screen.model; "
            "print(','.join(m for m in ('sqlalchemy', 'fastapi', 'starlette', 'httpx2') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_a_bucket_is_the_focus_grandchild_on_the_objects_way_or_its_own_higher_area() -> None:
    street = "/510113/510113002/"
    assert bucket_of("/510113/510113002/510113002001/510113002001001/510113002001001002/", street) == \
        "510113002001001"  # a microgrid's device counts under its grid, seen from the street
    assert bucket_of("/510113/510113002/510113002001/", street) == "510113002001"  # bound to a community only
    community = street + "510113002001/"
    assert bucket_of("/510113/510113002/510113002001/510113002001001/510113002001001002/", community) == \
        "510113002001001002"


@given(st.integers(0, 500), st.integers(0, 500), st.integers(0, 500))
def test_a_bucket_alarms_if_any_device_does_and_is_offline_from_a_fifth(alarming: int, offline: int,
                                                                         online: int) -> None:
    total = alarming + offline + online
    cls = bucket_class(total, alarming, offline)
    if alarming:
        assert cls == "alarm"
    elif total and offline / total >= 0.2:
        assert cls == "offline"
    else:
        assert cls == "online"


@pytest.mark.parametrize("url", ["ftp://tiles.example/{z}/{x}/{y}.png", "https://tiles.example/{z}/{x}.png",
                                 "tiles/{z}/{x}/{y}.png"])
def test_a_tile_url_without_http_or_a_placeholder_is_refused_at_startup(url: str) -> None:
    with pytest.raises(ValidationError, match="screen_tile_url"):
        Settings(screen_tile_url=url)


def test_a_tile_url_template_is_kept_and_none_is_the_offline_default() -> None:
    assert Settings().screen_tile_url == ""
    url = "https://t0.tianditu.example/{z}/{x}/{y}.png"
    assert Settings(screen_tile_url=f" {url} ").screen_tile_url == url
