"""The loop over HTTP on the demo street, with the real catalogue, duty list and working calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from chengyun.bootstrap import Container, bootstrap
from chengyun.cases.calendar import WorkingCalendar
from chengyun.cases.deadlines import DeadlinePolicy
from chengyun.config import Settings
from chengyun.demo.load import ensure_demo
from chengyun.shared.clock import FixedClock
from chengyun.shared.handling import TimeLimit
from chengyun.web.app import create_app

# Friday 13 February 2026, 15:00 in Chengdu: the last working day before the Spring Festival holiday
FRIDAY = datetime(2026, 2, 13, 7, 0, tzinfo=UTC)


@pytest.fixture
def demo_client(settings: Settings, engine: object) -> tuple[TestClient, dict[str, str], Container]:
    container = bootstrap(settings, engine=engine, clock=FixedClock(FRIDAY))  # type: ignore[arg-type]
    passwords = {a.username: a.password for a in ensure_demo(container, echo=lambda _: None)}
    return TestClient(create_app(container)), passwords, container


def _sign_in(client: TestClient, passwords: dict[str, str], username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": passwords[username]})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def _yihu_point(client: TestClient) -> list[float]:
    return list(client.get("/api/areas/510113002001001001").json()["center"])


def test_dispatch_follows_the_duty_list_and_the_holiday_calendar(
    demo_client: tuple[TestClient, dict[str, str], Container],
) -> None:
    client, passwords, _ = demo_client
    csrf = _sign_in(client, passwords, "operator")
    lon, lat = _yihu_point(client)
    opened = client.post("/api/cases", headers=csrf, json={
        "source": "citizen", "category_code": "1101", "description": "楼上住户深夜噪音，多次沟通无果",
        "lon": lon, "lat": lat, "reporter_phone": "13912345678"})
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["state"] == "reported" and case["reporter"]["phone"] == "139****5678"
    number = case["number"]
    assert number.startswith("QY-20260213-")
    for action in ("accept", "register", "dispatch"):
        response = client.post(f"/api/cases/{number}/actions/{action}", headers=csrf, json={})
        assert response.status_code == 200, response.text
    case = client.get(f"/api/cases/{number}").json()
    assert case["lead_unit"] == "cc-510113002001" and case["handling_level"] == "community"
    route = case["timeline"][2]["data"]["route"]
    assert route["code"].startswith("routing.explain.") and route["rule"] > 0
    policy = DeadlinePolicy(WorkingCalendar())
    # 1wd from Friday 13 Feb: the next working day is the make-up Saturday 14 Feb; 5wd skips the holiday
    claim_due = datetime.fromisoformat(case["claim_due"])
    assert claim_due == policy.due_at(FRIDAY, TimeLimit.parse("1wd"))
    assert claim_due.date() == datetime(2026, 2, 14).date()
    handling_due = datetime.fromisoformat(case["handling_due"])
    assert handling_due == policy.due_at(FRIDAY, TimeLimit.parse("5wd"))
    assert handling_due.date() == datetime(2026, 2, 27).date()
    assert "claim" in case["actions"] or "redispatch" in case["actions"]


def test_a_handler_works_their_units_case_and_a_stale_version_is_409(
    demo_client: tuple[TestClient, dict[str, str], Container],
) -> None:
    client, passwords, _ = demo_client
    csrf = _sign_in(client, passwords, "operator")
    lon, lat = _yihu_point(client)
    number = client.post("/api/cases", headers=csrf, json={
        "source": "grid", "category_code": "0101", "description": "路口暴露垃圾", "lon": lon, "lat": lat,
    }).json()["number"]
    client.post(f"/api/cases/{number}/actions/register", headers=csrf, json={})
    dispatched = client.post(f"/api/cases/{number}/actions/dispatch", headers=csrf, json={}).json()
    assert dispatched["lead_unit"] == "dept-chengguan"
    handler = TestClient(client.app)
    hcsrf = _sign_in(handler, passwords, "handler")
    mine = handler.get("/api/cases").json()
    assert [c["number"] for c in mine["items"]] == [number]
    claimed = handler.post(f"/api/cases/{number}/actions/claim", headers=hcsrf,
                           json={"version": dispatched["version"]})
    assert claimed.status_code == 200 and claimed.json()["state"] == "claimed"
    stale = handler.post(f"/api/cases/{number}/actions/return", headers=hcsrf,
                         json={"version": dispatched["version"], "note": "不属于本单位"})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "cases.changed"
    empty = handler.post(f"/api/cases/{number}/actions/submit_result", headers=hcsrf, json={"note": ""})
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "cases.result_empty"
    assert "反馈" in empty.json()["error"]["message"]
    closing = handler.post(f"/api/cases/{number}/actions/close", headers=hcsrf, json={})  # an operator's step
    assert closing.status_code == 403 and closing.json()["error"]["code"] == "cases.role_not_allowed"
    assert "结案" in closing.json()["error"]["message"]  # the action by its label, not its code


def test_bad_requests_get_precise_errors(demo_client: tuple[TestClient, dict[str, str], Container]) -> None:
    client, passwords, _ = demo_client
    csrf = _sign_in(client, passwords, "yihu")
    unknown = client.post("/api/cases/QY-20260213-999999/actions/claim", headers=csrf, json={})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "cases.not_found"
    bad_action = client.post("/api/cases/QY-1/actions/fly", headers=csrf, json={})
    assert bad_action.status_code == 422 and bad_action.json()["error"]["code"] == "cases.unknown_action"
    retired = client.post("/api/cases", headers=csrf, json={
        "source": "citizen", "category_code": "01", "description": "x", "lon": 104.2, "lat": 30.8})
    assert retired.status_code in (404, 422) and retired.json()["error"]["code"].startswith("categories.")
    too_long = client.post("/api/cases", headers=csrf, json={
        "source": "citizen", "category_code": "0101", "description": "长" * 4001, "lon": 104.2, "lat": 30.8})
    assert too_long.status_code == 422
    number = client.post("/api/cases", headers=csrf, json={
        "source": "citizen", "category_code": "0101", "description": "路口垃圾", "lon": _yihu_point(client)[0],
        "lat": _yihu_point(client)[1]}).json()["number"]
    ghost = "sha256:" + "0" * 64
    bad_photo = client.post(f"/api/cases/{number}/actions/accept", headers=csrf, json={"attachments": [ghost]})
    assert bad_photo.status_code == 422 and bad_photo.json()["error"]["code"] == "attachments.unknown"
    assert client.get(f"/api/cases/{number}").json()["state"] == "reported"
    no_csrf = client.post("/api/cases", json={
        "source": "citizen", "category_code": "0101", "description": "x", "lon": 104.2, "lat": 30.8})
    assert no_csrf.status_code == 403


def test_unit_suggestions_put_the_duty_list_first_and_are_for_dispatchers(
    demo_client: tuple[TestClient, dict[str, str], Container],
) -> None:
    client, passwords, _ = demo_client
    csrf = _sign_in(client, passwords, "operator")
    lon, lat = _yihu_point(client)
    number = client.post("/api/cases", headers=csrf, json={
        "source": "citizen", "category_code": "1101", "description": "楼上住户深夜噪音，多次沟通无果",
        "lon": lon, "lat": lat}).json()["number"]
    answer = client.get(f"/api/cases/{number}/unit-suggestions")
    assert answer.status_code == 200, answer.text
    first = answer.json()["suggestions"][0]
    assert (first["unit"], first["reason"], first["reason_label"]) == ("cc-510113002001", "duty_list", "权责清单")
    assert first["unit_name"] != first["unit"] and first["explanation"]["text"]
    assert len(answer.json()["suggestions"]) <= 3 and answer.json()["history"]["cases"] >= 0
    assert client.get(f"/api/cases/{number}/unit-suggestions?k=0").status_code == 422
    assert client.get("/api/cases/QY-NOPE/unit-suggestions").status_code == 404
    handler = TestClient(client.app)
    _sign_in(handler, passwords, "handler")
    refused = handler.get(f"/api/cases/{number}/unit-suggestions")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "triage.units.not_allowed"


def test_hot_issues_cluster_similar_cases_and_count_distinct_reporters(
    demo_client: tuple[TestClient, dict[str, str], Container],
) -> None:
    client, passwords, _ = demo_client
    csrf = _sign_in(client, passwords, "operator")
    lon, lat = _yihu_point(client)
    numbers = []
    for i, phone in enumerate(["13900000001", "13900000002", "13900000003"]):
        numbers.append(client.post("/api/cases", headers=csrf, json={
            "source": "citizen", "category_code": "0301", "title": "工地夜间施工噪音扰民",
            "description": f"小区旁边工地夜间施工噪音很大，第{i + 1}次反映", "lon": lon, "lat": lat,
            "reporter_phone": phone}).json()["number"])
    answer = client.get("/api/triage/hot", params={"days": 7})
    assert answer.status_code == 200, answer.text
    top = answer.json()["issues"][0]
    assert sorted(top["cases"]) == sorted(numbers) and (top["count"], top["reporters"]) == (3, 3)
    assert "施工" in top["title"] and top["place"] == "510113002001"
    assert answer.json()["surges"] == []  # no 8 weeks of history yet: nothing can be called a surge
    assert client.get("/api/triage/hot", params={"days": 0}).status_code == 422
    page = client.get("/hot", params={"days": 7}, headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'data-testid="nav-hot"' in page.text
    first_row = page.text.split('data-testid="hot-issue">')[1].split("</tr>")[0]
    assert all(f'href="/cases/{n}"' in first_row for n in numbers) and "施工" in first_row
    handler = TestClient(client.app)
    _sign_in(handler, passwords, "handler")
    assert handler.get("/api/triage/hot").json()["error"]["code"] == "triage.hot.not_allowed"


def test_a_surge_is_warned_once_the_scope_has_eight_weeks_of_history(
    demo_client: tuple[TestClient, dict[str, str], Container],
) -> None:
    client, passwords, c = demo_client
    csrf = _sign_in(client, passwords, "operator")
    lon, lat = _yihu_point(client)

    def open_case(text: str) -> None:
        answer = client.post("/api/cases", headers=csrf, json={"source": "citizen", "category_code": "0407",
                                                                "description": text, "lon": lon, "lat": lat})
        assert answer.status_code == 201, answer.text

    clock = c.clock
    assert isinstance(clock, FixedClock)
    clock.current = FRIDAY - timedelta(weeks=10)
    open_case("小区门口有人摆摊卖水果")  # the scope's first case, ten weeks ago
    clock.current = FRIDAY
    for i in range(6):
        open_case(f"楼下烧烤摊露天烧烤，油烟很大，第{i + 1}次")
    surges = client.get("/api/triage/hot").json()["surges"]
    category = [s for s in surges if s["kind"] == "category" and s["key"] == "0407"]
    assert category and category[0]["recent"] == 6 and category[0]["p_value"] < 0.001
