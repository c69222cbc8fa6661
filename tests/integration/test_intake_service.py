"""Intake on SQLite and PostgreSQL: durable inbox, idempotency, external ids, review, retries, AI cool-down."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from chengyun.areas.tables import BuildingRow, CompoundRow
from chengyun.auth.model import Principal, Role
from chengyun.bootstrap import Container, bootstrap
from chengyun.cases.model import Action, Source
from chengyun.cases.model import Request as StepRequest
from chengyun.cases.tables import CaseRow
from chengyun.config import Settings
from chengyun.errors import Forbidden, Invalid, NotFound
from chengyun.intake.model import Channel, Report, ReportState
from chengyun.intake.tables import ReportRow
from chengyun.shared.clock import FixedClock
from tests.conftest import tiny_district_drafts

YIHU = (104.005, 30.002)  # 怡湖社区第1网格
OUTSIDE = (116.4, 39.9)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def app(settings: Settings, engine: Any, clock: FixedClock) -> Container:
    """The tiny district with the default catalogue and one account per role that reports."""
    c = bootstrap(settings, engine=engine, clock=clock)
    c.areas.import_drafts(tiny_district_drafts(), actor="test")
    c.categories.ensure_default()
    for name, role, scope in [("oper", Role.OPERATOR, "510113002000"), ("grider", Role.GRID_WORKER, "510113002001"),
                              ("sys12345", Role.SYSTEM, "510113002000"), ("other", Role.OPERATOR, "510113002002")]:
        c.auth.create_user(username=name, display_name=name, role=role, scope_code=scope)
    return c


def who(app: Container, name: str) -> Principal:
    return app.auth.principal(name)


def grid_report(**changes: Any) -> Report:
    values: dict[str, Any] = {"channel": Channel.GRID, "source": Source.GRID, "description": "路边<b>暴露垃圾</b>",
                              "category_code": "0101", "lon": YIHU[0], "lat": YIHU[1],
                              "reporter_phone": "13800138000"}
    values.update(changes)
    return Report(**values)


def count(app: Container, table: Any) -> int:
    with app.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_report_becomes_a_case_in_one_step_and_stays_linked(app: Container) -> None:
    done = app.intake.submit(who(app, "grider"), grid_report())
    row = done.report
    assert (done.outcome, row.state) == ("created", ReportState.OPENED.value)
    case, _ = app.cases.get(who(app, "oper"), row.case_number or "")
    assert (case.source, case.category_code, case.description, case.area_code) == \
        ("grid", "0101", "路边暴露垃圾", "510113002001001")
    assert case.reporter_phone_masked == "138****8000"
    with app.sessions() as session:
        stored = session.get(ReportRow, row.id)
        assert stored is not None and "13800138000" not in str(stored.payload)  # only encrypted and masked
        assert stored.reporter_hash == case.reporter_phone_hash and len(stored.reporter_hash or "") == 64


def test_the_same_idempotency_key_never_makes_a_second_report_or_case(app: Container) -> None:
    first = app.intake.submit(who(app, "grider"), grid_report(idempotency_key="phone-42-0001"))
    again = app.intake.submit(who(app, "grider"), grid_report(idempotency_key="phone-42-0001"))
    assert (again.outcome, again.report.token, again.report.case_number) == \
        ("duplicate", first.report.token, first.report.case_number)
    assert count(app, ReportRow) == 1 and count(app, CaseRow) == 1
    other = app.intake.submit(who(app, "grider"), grid_report(idempotency_key="phone-42-0002"))
    assert other.outcome == "created" and count(app, CaseRow) == 2


def test_an_upstream_id_sent_again_is_ignored_or_updates_never_duplicates(app: Container) -> None:
    sent = grid_report(channel=Channel.UPSTREAM, source=Source.CITIZEN, external_system="sys12345",
                       external_id="12345-0001", description="噪音扰民")
    first = app.intake.submit(who(app, "sys12345"), sent)
    assert app.intake.submit(who(app, "sys12345"), sent).outcome == "unchanged"
    changed = app.intake.submit(who(app, "sys12345"), grid_report(
        channel=Channel.UPSTREAM, source=Source.CITIZEN, external_system="sys12345", external_id="12345-0001",
        description="噪音扰民，夜间更严重"))
    assert changed.outcome == "updated" and changed.report.description == "噪音扰民，夜间更严重"
    assert count(app, ReportRow) == 1 and count(app, CaseRow) == 1
    case, _ = app.cases.get(who(app, "oper"), first.report.case_number or "")
    assert (case.external_system, case.external_id) == ("sys12345", "12345-0001")


def test_an_address_nobody_can_place_waits_for_an_operator_then_opens(app: Container) -> None:
    held = app.intake.submit(who(app, "grider"), grid_report(lon=None, lat=None, address="青江路不存在的123号")).report
    assert (held.state, held.last_error, held.case_number) == ("needs_review", "intake.address_not_placed", None)
    assert [r.token for r in app.intake.review_queue(who(app, "oper"))] == [held.token]
    with pytest.raises(Forbidden):
        app.intake.resolve(who(app, "grider"), held.token, lon=YIHU[0], lat=YIHU[1])
    placed = app.intake.resolve(who(app, "oper"), held.token, lon=YIHU[0], lat=YIHU[1])
    assert placed.state == "opened" and placed.case_number is not None
    assert app.intake.review_queue(who(app, "oper")) == []
    with pytest.raises(Invalid):
        app.intake.resolve(who(app, "oper"), held.token, category_code="0101")


def test_an_unclassified_report_waits_for_a_category(app: Container) -> None:
    app.triage.min_confidence = 1.0  # no classification is that sure
    held = app.intake.submit(who(app, "grider"), grid_report(category_code=None)).report
    assert (held.state, held.last_error) == ("needs_review", "intake.needs_category")
    with pytest.raises(Invalid) as info:
        app.intake.resolve(who(app, "oper"), held.token, category_code="9999")
    assert info.value.code == "intake.unknown_category"
    assert app.intake.resolve(who(app, "oper"), held.token, category_code="0101").state == "opened"


def test_reports_are_refused_before_storing_when_outside_scope_or_unknown_category(app: Container) -> None:
    with pytest.raises(NotFound):
        app.intake.submit(who(app, "grider"), grid_report(lon=OUTSIDE[0], lat=OUTSIDE[1]))
    with pytest.raises(NotFound):  # the grid worker's scope is 怡湖; 石家碾 is next door
        app.intake.submit(who(app, "grider"), grid_report(lon=104.015, lat=30.002))
    with pytest.raises(Invalid):
        app.intake.submit(who(app, "grider"), grid_report(category_code="9999"))
    assert count(app, ReportRow) == 0


class FailingGeocoder:
    """Fails like a broken dependency the first `failures` times, then places everything at 怡湖."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def place(self, text: str, scope_path: str | None = None) -> tuple[tuple[float, float] | None, list[Any]]:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("gazetteer unavailable")
        return YIHU, []

    def describe(self, lon: float, lat: float) -> str:
        return ""


def test_a_processing_failure_keeps_the_report_and_retries_it_when_due(app: Container,
                                                                      clock: FixedClock) -> None:
    app.intake.geocoder = FailingGeocoder(failures=2)
    kept = app.intake.submit(who(app, "grider"), grid_report(lon=None, lat=None, address="怡湖苑3栋")).report
    assert (kept.state, kept.attempts, kept.last_error) == ("received", 1, "intake.processing_failed")
    assert kept.last_error_params == {"reason": "RuntimeError"}
    assert app.intake.process_due() == 0  # not due yet: 30 s back-off
    clock.advance(timedelta(seconds=31))
    assert app.intake.process_due() == 1
    clock.advance(timedelta(seconds=61))
    assert app.intake.process_due() == 1
    row = app.intake.get(who(app, "oper"), kept.token)
    assert (row.state, row.attempts) == ("opened", 2) and row.case_number is not None
    assert app.intake.process_due() == 0


def test_operators_see_only_reports_in_their_scope(app: Container) -> None:
    held = app.intake.submit(who(app, "grider"), grid_report(category_code=None)).report
    assert app.intake.get(who(app, "grider"), held.token).token == held.token  # the submitter
    assert [r.token for r in app.intake.review_queue(who(app, "oper"))] == [held.token]
    assert app.intake.review_queue(who(app, "other")) == []
    with pytest.raises(NotFound):
        app.intake.get(who(app, "other"), held.token)


def test_an_ai_cameras_repeats_within_the_cool_down_join_the_first_case(app: Container, clock: FixedClock) -> None:
    def alert(n: int) -> Report:
        return Report(Channel.AI, Source.SENSOR, f"消防通道占用 {n}", category_code="1001", lon=YIHU[0],
                      lat=YIHU[1], dedup_key="ai:cam-7:fire_lane_blocked", cooldown_s=1800)

    first = app.intake.submit(who(app, "sys12345"), alert(1)).report
    clock.advance(timedelta(minutes=10))
    repeat = app.intake.submit(who(app, "sys12345"), alert(2)).report
    assert (repeat.state, repeat.case_number) == ("suppressed", first.case_number)
    clock.advance(timedelta(minutes=25))  # 35 minutes after the first: the cool-down (30 min) is over
    later = app.intake.submit(who(app, "sys12345"), alert(3)).report
    assert later.state == "opened" and later.case_number != first.case_number
    low = app.intake.submit(who(app, "sys12345"), alert(4), suppress="intake.ai.below_threshold").report
    assert (low.state, low.last_error, low.case_number) == ("suppressed", "intake.ai.below_threshold", None)
    assert app.intake.counts() == {"opened": 2, "suppressed": 2}
    assert count(app, CaseRow) == 2


def _add_compound(app: Container) -> None:
    with app.sessions.begin() as session:
        session.add(CompoundRow(code="cmp-1", name="怡湖苑", area_code="510113002001001",
                                address="四川省成都市青白江区青江路123号", lon=104.003, lat=30.003, households=10))
        session.flush()
        session.add(BuildingRow(code="cmp-1-03", compound_code="cmp-1", number="3栋", lon=104.0032, lat=30.0031,
                                floors=6, units=2, households=24))


def test_a_known_address_is_geocoded_and_a_gps_point_gets_a_readable_address(app: Container) -> None:
    _add_compound(app)
    typed = app.intake.submit(who(app, "grider"), grid_report(lon=None, lat=None,
                                                              address="青江路123号怡湖苑3栋2单元")).report
    assert typed.state == "opened" and (typed.lon, typed.lat) == (104.0032, 30.0031)  # the building's point
    gps = app.intake.submit(who(app, "grider"), grid_report(lon=104.0031, lat=30.0030)).report
    assert "怡湖苑" in gps.address
    case, _ = app.cases.get(who(app, "oper"), gps.case_number or "")
    assert case.address == gps.address


def test_an_ambiguous_address_waits_with_the_gazetteers_best_candidates(app: Container) -> None:
    _add_compound(app)
    with app.sessions.begin() as session:  # a second compound at the same street number
        session.add(CompoundRow(code="cmp-2", name="青江苑", area_code="510113002001002",
                                address="四川省成都市青白江区青江路123号", lon=104.006, lat=30.007, households=8))
    held = app.intake.submit(who(app, "grider"), grid_report(lon=None, lat=None, address="青江路123号")).report
    assert (held.state, held.last_error) == ("needs_review", "intake.address_not_placed")
    candidates = (held.last_error_params or {})["candidates"]
    assert {c["code"] for c in candidates} >= {"cmp-1", "cmp-2"}
    assert {"code", "name", "lon", "lat", "score", "why"} <= set(candidates[0])
    assert app.intake.resolve(who(app, "oper"), held.token, lon=candidates[0]["lon"],
                              lat=candidates[0]["lat"]).state == "opened"


def test_the_same_upstream_report_sent_twice_at_once_is_stored_once(app: Container) -> None:
    sent = grid_report(channel=Channel.UPSTREAM, source=Source.CITIZEN, external_system="sys12345",
                       external_id="12345-race", description="同时重发")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        barrier.wait()
        outcomes.append(app.intake.submit(who(app, "sys12345"), sent).outcome)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes).count("created") == 1 and len(outcomes) == 4
    assert count(app, ReportRow) == 1 and count(app, CaseRow) == 1


TRAINING = {  # a small, clearly separable history: what a street would train on (item codes of the catalogue)
    "0101": ["路边有一堆暴露垃圾没人管", "小区门口垃圾堆着好几天了", "绿化带里扔了很多生活垃圾", "楼下垃圾乱扔发臭",
             "街角堆了一大堆垃圾", "空地上到处是垃圾袋"],
    "0405": ["机动车乱停放堵住了路口", "汽车停在人行道上", "小区门口车辆乱停挡住消防通道", "路边违停的汽车太多",
             "有辆车长期占道停放", "停车场外面乱停车"],
    "0603": ["路灯不亮晚上很黑", "这条路的路灯坏了好几盏", "小区外面路灯晚上不亮", "路灯一到晚上就熄灭",
             "桥下的路灯不亮了", "夜里路灯全黑看不见路"],
}


def train(app: Container, tmp_path: Path, history: dict[str, list[str]]) -> str:
    rows = "".join(f"{code},{text}\n" for code, texts in history.items() for text in texts)
    path = tmp_path / "history.csv"
    path.write_text("code,text\n" + rows, encoding="utf-8")
    return app.triage.train_file(path, text_col="text", label_col="code", folds=0).version


def test_a_report_without_category_is_classified_and_opened_with_the_evidence(app: Container, tmp_path: Path) -> None:
    version = train(app, tmp_path, TRAINING)
    app.triage.min_confidence = 0.5
    opened = app.intake.submit(who(app, "grider"), grid_report(category_code=None,
                                                               description="路口有车乱停放，堵住了")).report
    assert (opened.state, opened.category_code) == ("opened", "0405")
    evidence = opened.payload["classification"]
    assert evidence["model"] == version and evidence["confidence"] >= 0.5
    assert evidence["suggestions"][0]["code"] == "0405" and evidence["suggestions"][0]["terms"]
    case, _ = app.cases.get(who(app, "oper"), opened.case_number or "")
    assert case.category_code == "0405"
    with app.sessions() as session:  # stored, not only answered
        assert session.scalar(select(ReportRow.category_code).where(ReportRow.token == opened.token)) == "0405"


def test_an_unsure_classification_waits_with_three_suggestions(app: Container, tmp_path: Path) -> None:
    train(app, tmp_path, TRAINING)
    app.triage.min_confidence = 0.99
    held = app.intake.submit(who(app, "grider"), grid_report(category_code=None, description="路灯不亮")).report
    assert (held.state, held.last_error, held.category_code) == ("needs_review", "intake.needs_category", None)
    suggestions = (held.last_error_params or {})["suggestions"]
    assert suggestions[0]["code"] == "0603" and len(suggestions) == 3
    assert suggestions[0]["name"] == "路灯不亮" and suggestions[0]["class_name"]
    assert app.intake.resolve(who(app, "oper"), held.token, category_code="0603").state == "opened"


def test_a_model_of_classes_only_files_nothing_by_itself(app: Container, tmp_path: Path) -> None:
    train(app, tmp_path, {"01": TRAINING["0101"], "04": TRAINING["0405"]})
    app.triage.min_confidence = 0.0
    held = app.intake.submit(who(app, "grider"), grid_report(category_code=None)).report
    assert (held.state, held.last_error) == ("needs_review", "intake.needs_category")
    assert (held.last_error_params or {})["suggestions"] == []  # a class is no category for a case


def test_a_reporter_may_follow_an_open_case_instead_of_opening_another(app: Container) -> None:
    first = app.intake.submit(who(app, "grider"), grid_report()).report
    number = first.case_number or ""
    joined = app.intake.submit(who(app, "grider"), grid_report(category_code=None, follow_case=number,
                                                               idempotency_key="follow-1"))
    again = app.intake.submit(who(app, "grider"), grid_report(category_code=None, follow_case=number,
                                                              idempotency_key="follow-1"))
    assert (joined.outcome, joined.report.state, joined.report.case_number) == ("created", "joined", number)
    assert (again.outcome, again.report.token) == ("duplicate", joined.report.token)
    assert joined.report.category_code == "0101" and count(app, CaseRow) == 1 and count(app, ReportRow) == 2
    with pytest.raises(NotFound) as missing:
        app.intake.submit(who(app, "grider"), grid_report(follow_case="QY-20260101-999999"))
    assert missing.value.code == "intake.follow_case_not_found"
    app.cases.act(who(app, "oper"), number, StepRequest(Action.REJECT, note="不属实"))
    with pytest.raises(Invalid) as closed:
        app.intake.submit(who(app, "grider"), grid_report(follow_case=number))
    assert closed.value.code == "intake.follow_case_closed" and count(app, ReportRow) == 2
