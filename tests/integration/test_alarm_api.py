"""Alarms over HTTP on SQLite and PostgreSQL: the JSON API with CSRF, scope and precise errors; the console pages."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chengyun.bootstrap import Container
from chengyun.config import Settings
from chengyun.shared.clock import FixedClock
from chengyun.web.app import create_app
from tests.integration.alarm_fixtures import NOW, PASSWORD, SJN, YIHU, clear, facts_of, fire, make_app

HTML = {"Accept": "text/html"}


@pytest.fixture
def app(settings: Settings, engine: Any) -> Container:
    c = make_app(settings, engine, FixedClock(NOW))
    changes = c.alarms.apply([fire(), fire("smoke-2", "smoke_on", "smoke", severity="major", smoke=True),  # type: ignore[arg-type]
                              fire("meter-4", "battery", "low_battery", severity="warning", battery=8.0)],  # type: ignore[arg-type]
                             facts_of(c).get)
    c.alarms.apply([clear("meter-4", "battery", "low_battery")], facts_of(c).get)
    assert [ch.alarm_id for ch in changes] == [1, 2, 3]
    return c


def client_for(app: Container, username: str | None) -> tuple[TestClient, dict[str, str]]:
    client = TestClient(create_app(app))
    if username is None:
        return client, {}
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client, {"X-CSRF-Token": response.json()["csrf_token"]}


def test_the_list_filters_propagates_and_is_scoped(app: Container) -> None:
    client, _ = client_for(app, "op1")
    listed = client.get("/api/alarms").json()
    assert listed["total"] == 3 and [a["id"] for a in listed["items"]] == [1, 2, 3]  # active, most severe first
    gas = listed["items"][0]
    assert (gas["type_name"], gas["severity"], gas["status"], gas["place_codes"]) == (
        "燃气泄漏", "critical", "active_unacknowledged", ["cmp-1-03", "cmp-1"])
    assert gas["case"] == {"state": "pending", "number": None, "error": None}
    assert client.get("/api/alarms", params={"lang": "en"}).json()["items"][0]["type_name"] == "Gas leak"
    assert [a["id"] for a in client.get("/api/alarms", params={"active": "true"}).json()["items"]] == [1, 2]
    assert [a["id"] for a in client.get("/api/alarms", params={"place": YIHU}).json()["items"]] == [1, 3]
    assert [a["id"] for a in client.get("/api/alarms", params={"place": "cmp-1"}).json()["items"]] == [1, 3]
    assert [a["id"] for a in client.get("/api/alarms", params={"place": SJN}).json()["items"]] == [2]
    assert [a["id"] for a in client.get("/api/alarms", params=[("severity", "major"), ("severity", "warning")])
            .json()["items"]] == [2, 3]
    assert [a["id"] for a in client.get("/api/alarms", params={"type": "smoke"}).json()["items"]] == [2]
    bad = client.get("/api/alarms", params={"severity": "fatal"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "alarms.bad_severity"
    counts = client.get("/api/alarms/counts").json()["by_severity"]
    assert counts["critical"]["active_unacknowledged"] == 1 and counts["warning"]["cleared_unacknowledged"] == 1
    yihu, _ = client_for(app, "yihu")
    assert [a["id"] for a in yihu.get("/api/alarms").json()["items"]] == [1, 3]
    hidden = yihu.get("/api/alarms/2")
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "alarms.not_found"
    resident, _ = client_for(app, "res")
    assert resident.get("/api/alarms").json()["error"]["code"] == "alarms.read_not_allowed"
    assert client_for(app, None)[0].get("/api/alarms").status_code == 401


def test_operations_need_csrf_refuse_precisely_and_show_in_the_history(app: Container) -> None:
    client, csrf = client_for(app, "op1")
    no_token = client.post("/api/alarms/1/acknowledge", json={"note": "收到"})
    assert no_token.status_code == 403 and no_token.json()["error"]["code"] == "auth.csrf_failed"
    acked = client.post("/api/alarms/1/acknowledge", json={"note": "收到", "version": 1}, headers=csrf)
    assert acked.status_code == 200 and acked.json()["status"] == "active_acknowledged"
    twice = client.post("/api/alarms/1/acknowledge", json={}, headers=csrf)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "alarms.already_acknowledged"
    assert "op1" in twice.json()["error"]["message"]
    stale = client.post("/api/alarms/1/clear", json={"version": 1}, headers=csrf)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "alarms.changed"
    empty = client.post("/api/alarms/1/comment", json={"note": " "}, headers=csrf)
    assert empty.status_code == 422 and empty.json()["error"]["code"] == "alarms.note_required"
    grid_id = app.auth.principal("grid").user_id
    assert client.post("/api/alarms/1/assign", json={"user_id": grid_id}, headers=csrf).json()[
        "assignee_user_id"] == grid_id
    assert client.post("/api/alarms/1/comment", json={"note": "燃气公司已出发"}, headers=csrf).status_code == 200
    cleared = client.post("/api/alarms/1/clear", json={"note": "已关阀"}, headers=csrf).json()
    assert (cleared["active"], cleared["clearer"], cleared["status"]) == (False, "person", "cleared_acknowledged")
    detail = client.get("/api/alarms/1").json()
    assert [h["kind"] for h in detail["history"]] == ["raised", "acknowledged", "assigned", "commented", "cleared"]
    assert detail["history"][1]["note"] == "收到" and detail["operations"] == ["comment"]
    auditor, audit_csrf = client_for(app, "aud")
    assert auditor.get("/api/alarms/2").json()["operations"] == []
    refused = auditor.post("/api/alarms/2/acknowledge", json={}, headers=audit_csrf)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "alarms.role_not_allowed"
    assert client.post("/api/alarms/999/acknowledge", json={}, headers=csrf).status_code == 404


def test_the_list_page_shows_severities_pulses_and_acknowledges_from_a_form(app: Container) -> None:
    client, csrf = client_for(app, "op1")
    page = client.get("/alarms", headers=HTML)
    assert page.status_code == 200 and "物联告警" in page.text and 'data-testid="nav-alarms"' in page.text
    rows = dict(re.findall(r'<tr class="([^"]*)" data-alarm="(\d+)"', page.text)[i][::-1] for i in range(2))
    assert rows == {"1": "pulse", "2": ""}  # active + unacknowledged + critical pulses; the cleared one is not listed
    assert 'class="sev sev-critical pulse"' in page.text and "告警中·未确认" in page.text and "紧急" in page.text
    assert 'data-testid="acknowledge-1"' in page.text and 'data-testid="clear-2"' in page.text
    assert 'data-alarm="3"' in client.get("/alarms?view=all", headers=HTML).text
    assert 'data-alarm="3"' not in client.get("/alarms?view=all&severity=critical", headers=HTML).text
    english = client.get("/alarms?lang=en", headers=HTML).text
    assert "IoT alarms" in english and "Active, unacknowledged" in english
    done = client.post("/alarms/1/act", data={"csrf_token": csrf["X-CSRF-Token"], "op": "acknowledge",
                                              "version": "1", "back": "list"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/alarms"
    after = client.get("/alarms", headers=HTML).text
    assert re.search(r'<tr class="" data-alarm="1"', after) and 'data-testid="acknowledge-1"' not in after
    forged = client.post("/alarms/1/act", data={"op": "clear", "version": "2"}, headers=HTML)
    assert forged.status_code == 403


def test_the_detail_page_shows_the_history_the_case_and_the_forms(app: Container) -> None:
    app.alarms.open_cases_due()
    client, csrf = client_for(app, "op1")
    page = client.get("/alarms/1", headers=HTML)
    assert page.status_code == 200
    number = re.search(r'data-testid="case"><a href="/cases/([^"]+)"', page.text)
    assert number is not None and number.group(1).startswith("QY-")
    assert set(re.findall(r'data-op="([a-z]+)"', page.text)) == {"acknowledge", "clear", "comment", "assign"}
    assert "grid-姓名" in page.text and "产生告警" in page.text and "生成工单" in page.text
    sent = client.post("/alarms/1/act", data={"csrf_token": csrf["X-CSRF-Token"], "op": "comment",
                                              "version": "1", "note": "物业已到场"}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/alarms/1"
    case_page = client.get(f"/cases/{number.group(1)}", headers=HTML).text
    assert "op1-姓名 对物联告警的说明：物业已到场" in case_page
    cleared = client.get("/alarms/3", headers=HTML).text
    assert "已解除·未确认" in cleared and "规则自动解除" in cleared
    unknown = client.post("/alarms/1/act", data={"csrf_token": csrf["X-CSRF-Token"], "op": "explode",
                                                 "version": "1"}, headers=HTML)
    assert unknown.status_code == 422 and "未知的告警操作" in unknown.text
    grid, _ = client_for(app, "grid")
    assert 'data-testid="nav-alarms"' not in grid.get("/alarms", headers=HTML).text  # the link is the centre's
    assert grid.get("/alarms/1", headers=HTML).status_code == 200
