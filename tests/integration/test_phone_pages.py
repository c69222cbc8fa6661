"""The phone pages' endpoints over HTTP on SQLite and PostgreSQL: anonymous resident reports (retries, rate limit,
precise refusals), tracking without personal data, rating once after closing, patrol check-ins, the category
suggestion, the reverse-geocoding helper and the pages themselves (the grid worker's tasks on a server-drawn map)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from chengyun.auth.model import Role
from chengyun.bootstrap import Container
from chengyun.cases.model import Action, Request
from chengyun.cases.tables import CaseRow
from chengyun.intake.tables import ReportRow
from chengyun.patrol.tables import CheckinRow
from chengyun.web.app import create_app

YIHU = (104.005, 30.002)  # inside 怡湖社区第1网格 of the tiny district
GOOD = {"description": "路边暴露垃圾，没人清理", "category_code": "0101", "lon": YIHU[0], "lat": YIHU[1],
        "reporter_phone": "13912345678"}


@pytest.fixture
def site(tiny_district: Container) -> tuple[TestClient, dict[str, str], Container]:
    """The app on the tiny district with a burst of 6 anonymous requests, and tokens for staff."""
    c = tiny_district
    c.categories.ensure_default()
    c.settings = c.settings.model_copy(update={"public_burst": 6, "public_per_hour": 1})
    tokens = {}
    for name, role, scope in [("grider", Role.GRID_WORKER, "510113002001001"), ("oper", Role.OPERATOR, "510113002000"),
                              ("resi", Role.RESIDENT, "510113002001")]:
        c.auth.create_user(username=name, display_name=name, role=role, scope_code=scope)
        tokens[name] = c.auth.issue_token(name, "tests")
    return TestClient(create_app(c)), tokens, c


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def count(c: Container, table: Any) -> int:
    with c.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def report(client: TestClient, body: dict[str, Any], key: str | None = None) -> Any:
    return client.post("/api/public/reports", json=body, headers={"Idempotency-Key": key} if key else {})


def test_an_anonymous_report_opens_a_case_and_a_retry_with_the_same_key_returns_it(site: Any) -> None:
    client, _, c = site
    first = report(client, GOOD, "res-0001")
    again = report(client, GOOD, "res-0001")
    assert (first.status_code, again.status_code) == (201, 200), first.text
    body = first.json()
    assert again.json()["token"] == body["token"] and again.json()["outcome"] == "duplicate"
    assert body["case_number"].startswith("QY-") and body["placed"] is True
    assert body["track_url"] == f"/report/track?token={body['token']}"
    assert body["reporter_phone"] == "139****5678" and "13912345678" not in first.text
    with c.sessions() as session:
        row = session.scalars(select(ReportRow)).one()
    assert (row.channel, row.source, row.submitted_by) == ("resident", "citizen", None)
    assert "13912345678" not in str(row.payload)
    assert count(c, ReportRow) == 1


def test_an_address_that_is_not_placed_waits_for_an_operator(site: Any) -> None:
    client, _, _ = site
    body = report(client, {"description": "小区门口路灯不亮", "address": "火星路99号"}).json()
    assert (body["state"], body["case_number"], body["placed"]) == ("needs_review", None, False)
    track = client.get(f"/api/public/reports/{body['token']}").json()
    assert (track["state"], track["state_label"], track["case"]) == ("needs_review", "待人工处理", None)


def test_anonymous_writes_are_rate_limited_per_client(site: Any) -> None:
    client, _, c = site
    answers = [report(client, GOOD, f"burst-{i}").status_code for i in range(7)]
    assert answers == [201] * 6 + [429]
    refused = report(client, GOOD, "burst-7").json()["error"]
    assert refused["code"] == "public.rate_limited" and "秒后再试" in refused["message"]
    assert count(c, ReportRow) == 6


@pytest.mark.parametrize(("body", "status", "code"), [
    ({**GOOD, "description": "长" * 4001}, 422, "intake.too_long"),
    ({**GOOD, "description": "垃圾\x07\x1b[2J"}, 422, "intake.control_characters"),
    ({**GOOD, "description": "<script>alert(1)</script>"}, 422, "intake.required"),
    ({**GOOD, "description": "x" * 40_000}, 413, "public.too_large"),
    ({**GOOD, "lon": 116.4, "lat": 39.9}, 404, "areas.point_outside"),
    ({**GOOD, "reporter_phone": "12"}, 422, "privacy.bad_phone"),
    ({**GOOD, "attachments": ["0" * 64]}, 422, "attachments.unknown"),
    ({"description": "垃圾"}, 422, "intake.no_location"),
])
def test_bad_anonymous_reports_are_refused_precisely_and_store_nothing(site: Any, body: dict[str, Any], status: int,
                                                                       code: str) -> None:
    client, _, c = site
    answer = report(client, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert count(c, ReportRow) == 0


def test_markup_is_stripped_to_its_text(site: Any) -> None:
    client, _, c = site
    token = report(client, {**GOOD, "description": "<b>路灯</b>不亮<img src=x onerror=alert(1)>"}).json()["token"]
    assert c.intake.by_token(token).description == "路灯不亮"


def test_photos_upload_anonymously_and_only_the_public_copy_is_shown(site: Any) -> None:
    from tests.integration.test_intake_api import png

    client, _, _ = site
    up = client.post("/api/public/attachments", files={"file": ("a.png", png(), "image/png")})
    assert up.status_code == 201 and set(up.json()) == {"id", "public_id", "width", "height"}
    bad = client.post("/api/public/attachments", files={"file": ("a.html", b"<html>", "text/html")})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "attachments.not_an_image"
    done = report(client, {**GOOD, "attachments": [up.json()["id"]]})
    assert done.status_code == 201


def test_tracking_shows_states_and_the_answer_but_no_people_or_internal_notes(site: Any) -> None:
    client, _, c = site
    closed = report(client, GOOD).json()
    c.cases.act(c.auth.principal("grider"), closed["case_number"], Request(Action.SELF_HANDLE, note="已清理干净"))
    other = report(client, {**GOOD, "description": "道路不洁"}).json()
    c.cases.act(c.auth.principal("oper"), other["case_number"], Request(Action.ACCEPT, note="内部：联系城管中队长张三"))
    view = client.get(f"/api/public/reports/{closed['token']}").json()
    case = view["case"]
    assert (case["state"], case["state_label"], case["can_rate"]) == ("closed", "已结案", True)
    assert [(s["action"], s["answer"]) for s in case["timeline"]] == [("self_handle", "已清理干净")]
    hidden = client.get(f"/api/public/reports/{other['token']}")
    assert "张三" not in hidden.text and "actor" not in hidden.text
    assert "****" not in hidden.text and "13912345678" not in hidden.text
    assert hidden.json()["case"]["timeline"][0]["answer"] is None
    assert client.get("/api/public/reports/not-a-token").status_code == 404
    page = client.get(f"/report/track?token={closed['token']}")
    assert page.status_code == 200 and "已结案" in page.text and "已清理干净" in page.text


def test_a_closed_case_is_rated_once_through_the_follow_up_step(site: Any) -> None:
    client, _, c = site
    sent = report(client, GOOD).json()
    url = f"/api/public/reports/{sent['token']}/rating"
    early = client.post(url, json={"rating": "satisfied"})
    assert early.status_code == 409 and early.json()["error"]["code"] == "public.not_closed"
    c.cases.act(c.auth.principal("grider"), sent["case_number"], Request(Action.SELF_HANDLE, note="已清理"))
    wrong = client.post(url, json={"rating": "great"})
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "cases.bad_rating"
    rated = client.post(url, json={"rating": "basically_satisfied", "comment": "处理很快"})
    assert rated.status_code == 200, rated.text
    assert (rated.json()["case"]["state"], rated.json()["case"]["rating"]) == ("followed_up", "basically_satisfied")
    again = client.post(url, json={"rating": "unsatisfied"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "public.already_rated"
    row, steps = c.cases.get(c.auth.principal("oper"), sent["case_number"])
    assert row.rating == "basically_satisfied" and steps[-1].data["by"] == "reporter"
    assert steps[-1].note == "处理很快"


def test_patrol_check_ins_are_stored_located_and_idempotent(site: Any) -> None:
    client, tokens, c = site
    body = {"lon": YIHU[0], "lat": YIHU[1], "accuracy_m": 8.5, "note": "巡查正常"}
    first = client.post("/api/patrol/checkins", json=body, headers=auth(tokens["grider"], **{"Idempotency-Key": "p-1"}))
    again = client.post("/api/patrol/checkins", json=body, headers=auth(tokens["grider"], **{"Idempotency-Key": "p-1"}))
    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert first.json()["area_code"] == "510113002001001" and again.json()["id"] == first.json()["id"]
    assert first.json()["area_name"] == "怡湖社区第1网格"
    far = client.post("/api/patrol/checkins", json={"lon": 116.4, "lat": 39.9}, headers=auth(tokens["grider"]))
    assert far.status_code == 201 and far.json()["area_code"] is None
    bad = client.post("/api/patrol/checkins", json={**body, "accuracy_m": -1}, headers=auth(tokens["grider"]))
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "patrol.bad_accuracy"
    refused = client.post("/api/patrol/checkins", json=body, headers=auth(tokens["oper"]))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "patrol.grid_workers_only"
    assert count(c, CheckinRow) == 2
    mine = client.get("/api/patrol/checkins", headers=auth(tokens["grider"])).json()["items"]
    assert [m["area_code"] for m in mine] == [None, "510113002001001"]


def test_category_suggestion_and_reverse_geocoding_for_the_phone(site: Any) -> None:
    client, tokens, _ = site
    top = client.get("/api/categories/suggest", params={"text": "小区门口路灯不亮了"}, headers=auth(tokens["grider"]))
    assert top.status_code == 200 and top.json()["items"][0]["code"] == "0603"
    assert len(top.json()["items"]) <= 3
    public = client.get("/api/public/categories/suggest", params={"text": "路边有暴露垃圾"}).json()["items"]
    assert public[0]["code"] == "0101" and public[0]["self_handle"] is True
    where = client.get("/api/places/reverse", params={"lon": YIHU[0], "lat": YIHU[1]}, headers=auth(tokens["grider"]))
    assert where.status_code == 200 and where.json()["areas"][-1]["code"] == "510113002001001"
    assert "怡湖社区" in where.json()["address"]
    assert client.get("/api/places/reverse", params={"lon": 1, "lat": 1}).status_code == 401


def test_the_pages_answer_in_chinese_by_default_and_in_english_on_request(site: Any) -> None:
    client, tokens, _ = site
    resident = client.get("/report")
    assert resident.status_code == 200 and "群众上报" in resident.text and "手机号仅加密保存" in resident.text
    assert "Report a problem" in client.get("/report?lang=en").text
    grid = client.get("/grid", headers=auth(tokens["grider"]))
    assert grid.status_code == 200 and "我的任务" in grid.text and 'capture="environment"' in grid.text
    assert client.get("/grid", headers=auth(tokens["resi"]), follow_redirects=False).headers["location"] == "/report"
    refused = client.get("/grid", headers=auth(tokens["oper"], Accept="text/html"))
    assert refused.status_code == 403 and "网格员的手机页面" in refused.text
    assert client.get("/grid", headers={"Accept": "text/html"}, follow_redirects=False).status_code == 303


def test_the_phone_case_view_offers_only_what_grid_workers_may_do(site: Any) -> None:
    client, tokens, _ = site
    litter = report(client, GOOD).json()["case_number"]  # 暴露垃圾: 自办自结 allowed
    lamp = report(client, {**GOOD, "description": "路灯不亮", "category_code": "0603"}).json()["case_number"]
    page = client.get(f"/grid/cases/{litter}", headers=auth(tokens["grider"]))
    assert page.status_code == 200 and 'data-testid="act-self_handle"' in page.text
    assert 'data-testid="act-submit_result"' not in page.text and 'data-testid="act-verify_pass"' not in page.text
    assert 'data-testid="act-self_handle"' not in client.get(f"/grid/cases/{lamp}", headers=auth(tokens["grider"])).text
    tasks = client.get("/grid", headers=auth(tokens["grider"])).text
    assert litter in tasks and lamp in tasks


def test_a_case_is_tracked_by_its_number_and_the_last_four_digits_of_the_phone(site: Any) -> None:
    client, _, _c = site
    sent = report(client, GOOD).json()
    no_phone = report(client, {k: v for k, v in GOOD.items() if k != "reporter_phone"}).json()
    number = sent["case_number"]
    assert client.get(f"/api/public/cases/{no_phone['case_number']}", params={"phone4": "5678"}).status_code == 404
    found = client.get(f"/api/public/cases/{number}", params={"phone4": "5678"})
    assert found.status_code == 200 and found.json()["case"]["number"] == number
    assert found.json()["token"] == sent["token"]
    for digits in ("1234",):  # (the burst allows six anonymous requests in this fixture)
        wrong = client.get(f"/api/public/cases/{number}", params={"phone4": digits})
        assert wrong.status_code in (404, 422) and sent["token"] not in wrong.text
    page = client.get("/report/track", params={"number": number, "phone4": "5678"})
    assert page.status_code == 200 and number in page.text
    assert "手机号后四位" in client.get("/report/track").text


def test_possibly_already_reported_nearby_and_following_the_case_instead(site: Any) -> None:
    client, tokens, c = site
    c.warm_up()  # the index is loaded at startup; a case opened afterwards is found on the next look
    c.duplicates.every_s = 0.0  # (normally at most every 2 s)
    number = report(client, GOOD).json()["case_number"]
    near = {"text": "路边有暴露垃圾，一直没人清理", "lon": YIHU[0] + 0.0003, "lat": YIHU[1]}
    found = client.get("/api/public/reports/similar", params=near).json()["items"]
    assert [i["case_number"] for i in found] == [number]
    assert found[0]["title"] == "暴露垃圾" and found[0]["state_label"] and 20 < found[0]["distance_m"] < 40
    staff = client.get("/api/reports/similar", params=near, headers=auth(tokens["grider"])).json()["items"]
    assert staff[0]["title"] == "路边暴露垃圾，没人清理"  # staff see the case's own words
    far = client.get("/api/public/reports/similar", params={**near, "lon": YIHU[0] + 0.02}).json()["items"]
    other = client.get("/api/public/reports/similar", params={**near, "text": "路灯晚上不亮"}).json()["items"]
    assert far == [] and other == []
    half = client.get("/api/public/reports/similar", params={"text": "暴露垃圾", "lon": YIHU[0]})
    assert half.status_code == 422 and half.json()["error"]["code"] == "intake.half_point"
    assert client.get("/api/reports/similar", params=near).status_code == 401
    joined = report(client, {**GOOD, "category_code": None, "follow_case": number}).json()
    assert (joined["state"], joined["case_number"]) == ("joined", number)
    c.cases.act(c.auth.principal("oper"), number, Request(Action.REJECT, note="不属实"))
    after_reject = client.get("/api/public/reports/similar", params=near).json()["items"]
    assert after_reject == []  # a finished case is not offered


def test_the_grid_page_draws_my_tasks_on_an_inline_map_without_any_map_library(site: Any) -> None:
    client, tokens, c = site
    here = report(client, GOOD).json()["case_number"]
    near = report(client, {**GOOD, "lon": YIHU[0] + 0.0003}).json()["case_number"]
    unplaced = report(client, {**GOOD, "description": "垃圾桶满溢"}).json()["case_number"]
    with c.sessions.begin() as session:
        session.execute(update(CaseRow).where(CaseRow.number == unplaced).values(lon=None, lat=None))
    page = client.get("/grid", headers=auth(tokens["grider"])).text
    pins = dict(re.findall(r'data-case="([^"]+)" data-index="(\d+)"', page))
    listed = dict(re.findall(r'<li data-number="([^"]+)" data-index="(\d+)"', page))
    assert set(pins) == {here, near} and set(listed) == {here, near, unplaced}
    assert all(pins[n] == listed[n] for n in pins)  # one number for a task, on the map and in the list
    assert re.search(r'<path class="mm-area" d="M[\d. L]+Z"', page)  # the grid's outline, drawn by the server
    assert 'data-missing="1"' in page and "另有 1 项任务没有坐标" in page
    assert "echarts" not in page and "htmx" not in page
    assert "1 more tasks have no coordinates" in client.get("/grid?lang=en", headers=auth(tokens["grider"])).text
