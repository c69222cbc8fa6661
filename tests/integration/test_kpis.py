"""KPIs of the loop by SQL aggregates on SQLite and PostgreSQL: exact values per group kind, scope, HTTP errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select

from chengyun.areas.tables import AreaRow
from chengyun.auth import api as auth_api
from chengyun.auth.model import Role
from chengyun.bootstrap import Container, bootstrap
from chengyun.cases import kpi_api
from chengyun.cases.kpis import GroupBy, KpiCounts, KpiQuery, KpiReport, KpiRow
from chengyun.cases.rollup import kpis
from chengyun.cases.tables import CaseRow
from chengyun.config import Settings
from chengyun.org.tables import UnitRow
from chengyun.shared.clock import FixedClock
from chengyun.web.errors import install_error_handlers
from tests.conftest import tiny_district_drafts

PASSWORD = "correct-horse-battery"
YIHU, SJN, STREET = "510113002001", "510113002002", "510113002000"
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
H = timedelta(hours=1)
D = timedelta(days=1)
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
_numbers = count(1)


@pytest.fixture
def kc(settings: Settings, engine: Engine) -> Container:
    """A container on a fixed clock with the tiny district, units and accounts."""
    c = bootstrap(settings, clock=FixedClock(NOW), engine=engine)
    c.areas.import_drafts(tiny_district_drafts(), actor="test")
    with c.sessions.begin() as session:
        cg = UnitRow(code="cg", name="综合行政执法队", kind="department", level="street", area_code=STREET)
        session.add(cg)
        session.flush()
        cg_id = cg.id
    for name, role, scope, unit in [("street_op", Role.OPERATOR, STREET, None), ("yihu_op", Role.OPERATOR, YIHU, None),
                                    ("sjn_op", Role.OPERATOR, SJN, None), ("cg_h", Role.HANDLER, STREET, cg_id),
                                    ("resident1", Role.RESIDENT, YIHU, None)]:
        c.auth.create_user(username=name, display_name=name, role=role, scope_code=scope, password=PASSWORD,
                           unit_id=unit)
    return c


def add_case(c: Container, area: str, reported_at: datetime, *, state: str = "registered", category: str = "0101",
             level: str = "community", **fields: Any) -> None:
    """Insert one case row directly, with the area's path and community filled in."""
    with c.sessions.begin() as session:
        path = session.scalar(select(AreaRow.path).where(AreaRow.code == area))
        community = area[:12] if len(area) >= 12 and area[9:12] != "000" else None
        n = next(_numbers)
        session.add(CaseRow(number=f"T-{n:06d}", source="grid", category_code=category, urgency="normal",
                            state=state, version=1, title="t", description="d", area_code=area, area_path=path,
                            community_code=community, handling_level=level, reported_at=reported_at,
                            updated_at=reported_at, **fields))


def dispatched(at: datetime, claim_in: timedelta, handle_in: timedelta, lead: str) -> dict[str, Any]:
    return {"dispatched_at": at, "claim_due": at + claim_in, "handling_due": at + handle_in, "lead_unit": lead}


@pytest.fixture
def cases(kc: Container) -> Container:
    """Seven cases in [2026-11-02, 2026-11-16) Shanghai time and one before it (see the module's expectations)."""
    y, s = YIHU + "001", SJN + "001"
    a0 = T0 + H  # A: yihu, claimed in 1 h, closed 10 h after dispatch (on time), satisfied, phone p1
    add_case(kc, y, T0, state="followed_up", **dispatched(a0, 2 * H, 2 * D, "yihu-jwh"), claimed_at=a0 + H,
             closed_at=a0 + 10 * H, rating="satisfied", reporter_phone_hash="p1")
    b0 = T0 + D + H  # B: yihu, street level, claimed late (4 h), closed late (30 h), returned once, phone p1
    add_case(kc, y, T0 + D, state="followed_up", category="0102", level="street",
             **dispatched(b0, 2 * H, D, "cg"), claimed_at=b0 + 4 * H, closed_at=b0 + 30 * H,
             rating="unsatisfied", returns=1, reporter_phone_hash="p1", repeat_report=True)  # A came before
    c0 = T0 + 2 * D + 2 * H  # C: sjn, dispatched, not claimed, phone p2
    add_case(kc, s, T0 + 2 * D, state="dispatched", category="0201", **dispatched(c0, 2 * H, 5 * D, "sjn-jwh"),
             reporter_phone_hash="p2", repeat_report=True)  # G came before
    add_case(kc, s, T0 + 7 * D, state="rejected", category="0201")  # D
    add_case(kc, s, T0 + 8 * D, state="closed", category="0202", level="property",  # E: self-handled, phone p3
             closed_at=T0 + 8 * D + H / 2, self_handled=True, reporter_phone_hash="p3",
             repeat_report=True)  # F came 21 days before
    # G: street-level, 01:00 on 11-02 in Shanghai but still Sunday 11-01 in UTC; phone p2
    add_case(kc, STREET, datetime(2026, 11, 1, 17, 0, tzinfo=UTC), level="street", reporter_phone_hash="p2")
    add_case(kc, y, T0, state="merged", merged_into="T-000001")  # H
    add_case(kc, y, datetime(2026, 10, 20, tzinfo=UTC), state="closed", closed_at=T0,  # F: before the period
             reporter_phone_hash="p3")
    return kc


def run(c: Container, group: GroupBy, scope: str = "/", unit: str | None = None) -> KpiReport:
    with c.sessions.begin() as session:
        path = session.scalar(select(AreaRow.path).where(AreaRow.code == STREET)) if scope == "/" else scope
    query = KpiQuery.local(path or "", group, date(2026, 11, 2), date(2026, 11, 16), c.settings.tz, unit_code=unit)
    with c.sessions() as session:
        return kpis(session, query)


def by_key(result: KpiReport) -> dict[str | None, KpiRow]:
    return {r.key: r for r in result.rows}


def test_total_has_every_kpi_exactly(cases: Container) -> None:
    t = run(cases, GroupBy.COMMUNITY).total
    assert t.counts.cases == 7 and t.counts.dispatched == 3 and t.counts.closed == 3
    assert t.response_rate == pytest.approx(1 / 3)
    assert t.on_time_closure_rate == pytest.approx(0.5)
    assert t.resolution_rate == pytest.approx(3 / 5)
    assert t.satisfaction_rate == pytest.approx(0.5)
    assert t.return_rate == pytest.approx(1 / 3)
    assert t.repeat_report_rate == pytest.approx(3 / 5)  # B, C and E had an earlier case of the same phone
    assert t.avg_claim_hours == pytest.approx(2.5)
    assert t.avg_handling_hours == pytest.approx(20.0)
    assert t.closed_share_by_level == pytest.approx(
        {"property": 1 / 3, "community": 1 / 3, "street": 1 / 3, "district": 0.0, "city": 0.0})


def test_by_community_with_empty_denominators_as_none(cases: Container) -> None:
    rows = by_key(run(cases, GroupBy.COMMUNITY))
    assert list(rows) == [YIHU, SJN, None]
    yihu, sjn, street = rows[YIHU], rows[SJN], rows[None]
    assert (yihu.counts.cases, yihu.response_rate, yihu.on_time_closure_rate) == (3, 0.5, 0.5)
    assert yihu.resolution_rate == 1.0
    assert (yihu.satisfaction_rate, yihu.return_rate, yihu.repeat_report_rate) == (0.5, 0.5, 0.5)
    assert yihu.avg_claim_hours == pytest.approx(2.5) and yihu.avg_handling_hours == pytest.approx(20.0)
    assert (sjn.counts.cases, sjn.response_rate, sjn.on_time_closure_rate, sjn.resolution_rate) == (3, 0.0, None, 0.5)
    assert (sjn.satisfaction_rate, sjn.return_rate, sjn.repeat_report_rate) == (None, 0.0, 1.0)
    assert sjn.avg_claim_hours is None and sjn.avg_handling_hours is None
    assert sjn.closed_share_by_level["property"] == 1.0
    assert (street.counts.cases, street.response_rate, street.return_rate) == (1, None, None)
    assert street.resolution_rate == 0.0
    assert street.closed_share_by_level == {lv: None for lv in ("property", "community", "street", "district", "city")}


def test_by_level_unit_category_and_class(cases: Container) -> None:
    level = by_key(run(cases, GroupBy.LEVEL))
    assert {k: r.counts.cases for k, r in level.items()} == {"community": 4, "property": 1, "street": 2}
    assert level["street"].response_rate == 0.0 and level["street"].on_time_closure_rate == 0.0
    unit = by_key(run(cases, GroupBy.UNIT))
    assert {k: r.counts.dispatched for k, r in unit.items()} == {"cg": 1, "sjn-jwh": 1, "yihu-jwh": 1, None: 0}
    assert unit["yihu-jwh"].response_rate == 1.0 and unit["cg"].return_rate == 1.0
    category = by_key(run(cases, GroupBy.CATEGORY))
    assert {k: r.counts.cases for k, r in category.items()} == {"0101": 3, "0102": 1, "0201": 2, "0202": 1}
    assert category["0101"].resolution_rate == 0.5  # A resolved, G registered, H merged (not counted)
    klass = by_key(run(cases, GroupBy.CLASS))
    assert {k: r.counts.cases for k, r in klass.items()} == {"01": 4, "02": 3}


def test_by_day_week_month_in_local_time(cases: Container) -> None:
    day = by_key(run(cases, GroupBy.DAY))
    assert {k: r.counts.cases for k, r in day.items()} == {
        "2026-11-02": 3, "2026-11-03": 1, "2026-11-04": 1, "2026-11-09": 1, "2026-11-10": 1}
    week = by_key(run(cases, GroupBy.WEEK))
    assert {k: r.counts.cases for k, r in week.items()} == {"2026-11-02": 5, "2026-11-09": 2}
    assert week["2026-11-02"].avg_handling_hours == pytest.approx(20.0)
    month = by_key(run(cases, GroupBy.MONTH))
    assert {k: r.counts.cases for k, r in month.items()} == {"2026-11-01": 7}


def test_scope_and_unit_restrict_the_cohort(cases: Container) -> None:
    with cases.sessions() as session:
        sjn_path = session.scalar(select(AreaRow.path).where(AreaRow.code == SJN))
    sjn = run(cases, GroupBy.COMMUNITY, scope=sjn_path or "")
    assert [r.key for r in sjn.rows] == [SJN]
    # C repeats G although G lies outside a community operator's scope: the flag belongs to the case
    assert sjn.total.repeat_report_rate == 1.0
    cg = run(cases, GroupBy.LEVEL, scope="/nowhere", unit="cg")
    assert [(r.key, r.counts.cases) for r in cg.rows] == [("street", 1)]
    assert cg.total.avg_claim_hours == pytest.approx(4.0)


def test_no_cases_gives_no_rows_and_none_rates(kc: Container) -> None:
    result = run(kc, GroupBy.DAY)
    assert result.rows == () and result.total.counts.cases == 0
    assert result.total.response_rate is None and result.total.avg_claim_hours is None


def summary(result: KpiReport) -> list[tuple[str | None, KpiCounts]]:
    return [(r.key, r.counts) for r in result.rows] + [(None, result.total.counts)]


@pytest.mark.parametrize("group", [g for g in GroupBy if g != GroupBy.CATEGORY])
def test_rollup_answers_exactly_like_the_cases_table(cases: Container, group: GroupBy) -> None:
    with cases.sessions() as session:
        sjn_path = session.scalar(select(AreaRow.path).where(AreaRow.code == SJN)) or ""
    live = [summary(run(cases, group)), summary(run(cases, group, scope=sjn_path))]
    report = cases.refresh_kpis()
    assert report.full and report.rows > 0
    assert [summary(run(cases, group)), summary(run(cases, group, scope=sjn_path))] == live
    with cases.sessions.begin() as session:  # the answer now comes from the rollup alone
        session.execute(delete(CaseRow))
    assert [summary(run(cases, group)), summary(run(cases, group, scope=sjn_path))] == live


def test_refresh_rebuilds_only_the_days_whose_cases_changed(cases: Container) -> None:
    cases.refresh_kpis()
    before = run(cases, GroupBy.COMMUNITY).total
    with cases.sessions.begin() as session:  # C is claimed in time, as a step would write it
        c = session.scalars(select(CaseRow).where(CaseRow.state == "dispatched")).one()
        c.claimed_at, c.state, c.updated_at = T0 + 2 * D + 3 * H, "claimed", NOW
    stale = run(cases, GroupBy.COMMUNITY).total
    assert stale.counts == before.counts  # past days come from the rollup until it refreshes
    report = cases.refresh_kpis()
    assert (report.full, report.days) == (False, 1)
    after = run(cases, GroupBy.COMMUNITY).total
    assert after.counts.responded == before.counts.responded + 1 and after.response_rate == pytest.approx(2 / 3)


def test_todays_cases_are_live_after_a_refresh(cases: Container) -> None:
    cases.refresh_kpis()
    add_case(cases, YIHU + "001", NOW + H, reporter_phone_hash="p9")  # reported after the refresh, today
    with cases.sessions() as session:
        path = session.scalar(select(AreaRow.path).where(AreaRow.code == STREET)) or ""
    query = KpiQuery.local(path, GroupBy.DAY, date(2026, 11, 2), date(2026, 11, 24), cases.settings.tz)
    with cases.sessions() as session:
        result = kpis(session, query)
    assert by_key(result)["2026-11-23"].counts.cases == 1 and result.total.counts.cases == 8


def test_scopes_below_a_community_and_handlers_read_the_cases_table(cases: Container) -> None:
    grid = YIHU + "001"
    with cases.sessions() as session:
        grid_path = session.scalar(select(AreaRow.path).where(AreaRow.code == grid)) or ""
    live = summary(run(cases, GroupBy.LEVEL, scope=grid_path)), summary(run(cases, GroupBy.LEVEL, "/x", "cg"))
    cases.refresh_kpis()
    assert (summary(run(cases, GroupBy.LEVEL, scope=grid_path)), summary(run(cases, GroupBy.LEVEL, "/x", "cg"))) == live
    assert live[0][-1][1].cases == 3 and live[1][-1][1].cases == 1


@pytest.fixture
def client(cases: Container) -> TestClient:
    app = FastAPI()
    app.state.container = cases
    install_error_handlers(app)
    app.include_router(auth_api.router)
    app.include_router(kpi_api.router)
    return TestClient(app)


def login(client: TestClient, username: str) -> None:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text


def test_http_community_operator_sees_only_their_community(client: TestClient) -> None:
    login(client, "yihu_op")
    body = client.get("/api/kpis", params={"group": "community", "from": "2026-11-02", "to": "2026-11-16"}).json()
    assert [r["key"] for r in body["rows"]] == [YIHU]
    assert body["total"]["counts"]["cases"] == 3 and body["total"]["response_rate"] == 0.5
    assert body["from"] == "2026-11-02" and body["to"] == "2026-11-16" and body["group"] == "community"


def test_http_defaults_to_the_last_30_days_by_the_clock(client: TestClient) -> None:
    login(client, "street_op")
    body = client.get("/api/kpis").json()
    assert (body["group"], body["from"], body["to"]) == ("community", "2026-10-25", "2026-11-24")  # today included
    assert body["total"]["counts"]["cases"] == 7  # F (10-20) is older than 30 days
    assert body["total"]["satisfaction_rate"] == 0.5


def test_http_handler_sees_their_units_cases(client: TestClient) -> None:
    login(client, "cg_h")
    body = client.get("/api/kpis", params={"group": "unit", "from": "2026-11-01", "to": "2026-12-01"}).json()
    assert [(r["key"], r["counts"]["cases"]) for r in body["rows"]] == [("cg", 1)]


@pytest.mark.parametrize(("params", "code"), [
    ({"group": "street"}, "kpis.bad_group"),
    ({"from": "2026-11-31"}, "kpis.bad_date"),
    ({"to": "23/11/2026"}, "kpis.bad_date"),
    ({"from": "2026-11-16", "to": "2026-11-02"}, "kpis.bad_range"),
    ({"from": "2026-11-02", "to": "2026-11-02"}, "kpis.bad_range"),
    ({"from": "2020-01-01", "to": "2026-11-02"}, "kpis.bad_range"),
])
def test_http_bad_parameters_answer_precise_codes(client: TestClient, params: dict[str, str], code: str) -> None:
    login(client, "street_op")
    response = client.get("/api/kpis", params=params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == code and error["message"] != code


def test_http_residents_and_anonymous_callers_are_refused(client: TestClient) -> None:
    assert client.get("/api/kpis").status_code == 401
    login(client, "resident1")
    response = client.get("/api/kpis")
    assert response.status_code == 403 and response.json()["error"]["code"] == "kpis.role_not_allowed"


@pytest.fixture
def web(cases: Container) -> TestClient:
    from chengyun.web.app import create_app

    return TestClient(create_app(cases))


def test_kpi_page_shows_the_totals_and_a_row_per_community(web: TestClient) -> None:
    login(web, "street_op")
    page = web.get("/kpis", params={"start": "2026-11-02", "end": "2026-11-16"})
    assert page.status_code == 200 and "绩效考核" in page.text
    html = page.text
    assert 'data-kpi="cases"><div class="v">7</div>' in html
    assert 'data-kpi="response_rate"><div class="v">33.3%</div>' in html  # 1 of 3 dispatched claimed in time
    assert 'data-kpi="repeat_report_rate"><div class="v">60.0%</div>' in html
    assert f'data-key="{YIHU}"' in html and f'data-key="{SJN}"' in html and 'data-key=""' in html
    assert '"cases": [' in html and "2026-11-02" in html  # the trend's data for the chart


def test_kpi_page_for_a_unit_groups_by_category_class_and_presets_work(web: TestClient, cases: Container) -> None:
    login(web, "cg_h")
    html = web.get("/kpis", params={"days": 30}).text
    assert "分事件大类" in html and 'data-key="01"' in html
    cases.refresh_kpis()
    login(web, "street_op")
    assert "往日数据截至" in web.get("/kpis", params={"days": 30}).text


def test_kpi_page_refuses_a_bad_period_with_the_reason(web: TestClient) -> None:
    login(web, "street_op")
    response = web.get("/kpis", params={"start": "2026-11-16", "end": "2026-11-02"})
    assert response.status_code == 422 and "统计区间无效：2026-11-16 至 2026-11-02" in response.text
    for days in ("0", "100000000", "soon"):
        refused = web.get("/kpis", params={"days": days}, headers={"Accept": "application/json"})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "request.invalid"
