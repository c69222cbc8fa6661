"""Intake over HTTP on SQLite and PostgreSQL: every channel's happy path, retries that do not duplicate, and
malformed input of many kinds answered in each channel's own error format, with nothing stored."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from chengyun.areas.tables import CompoundRow
from chengyun.auth.model import Role
from chengyun.bootstrap import Container
from chengyun.cases.tables import CaseRow
from chengyun.intake.tables import ReportRow
from chengyun.web.app import create_app

YIHU = (104.005, 30.002)


@pytest.fixture
def site(tiny_district: Container) -> tuple[TestClient, dict[str, str], Container]:
    """The whole app on the tiny district, with bearer tokens for a grid worker, a resident, an operator,
    an upstream 12345 system and an AI video platform."""
    c = tiny_district
    c.categories.ensure_default()
    tokens = {}
    for name, role, scope in [("grider", Role.GRID_WORKER, "510113002001"), ("resi", Role.RESIDENT, "510113002000"),
                              ("oper", Role.OPERATOR, "510113002000"), ("sys12345", Role.SYSTEM, "510113002000"),
                              ("aivideo", Role.SYSTEM, "510113002000")]:
        c.auth.create_user(username=name, display_name=name, role=role, scope_code=scope)
        tokens[name] = c.auth.issue_token(name, "tests")
    return TestClient(create_app(c)), tokens, c


def auth(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def count(c: Container, table: Any) -> int:
    with c.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


GOOD = {"description": "路边暴露垃圾", "category_code": "0101", "lon": YIHU[0], "lat": YIHU[1]}


def test_a_grid_worker_retrying_after_a_timeout_gets_the_same_report(site: Any) -> None:
    client, tokens, c = site
    first = client.post("/api/reports", json=GOOD, headers=auth(tokens["grider"], **{"Idempotency-Key": "gw-0001"}))
    again = client.post("/api/reports", json=GOOD, headers=auth(tokens["grider"], **{"Idempotency-Key": "gw-0001"}))
    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert again.json()["outcome"] == "duplicate" and again.json()["token"] == first.json()["token"]
    assert first.json()["state"] == "opened" and first.json()["case_number"].startswith("QY-")
    assert count(c, ReportRow) == 1 and count(c, CaseRow) == 1
    mine = client.get(f"/api/reports/{first.json()['token']}", headers=auth(tokens["grider"]))
    assert mine.status_code == 200 and mine.json()["source"] == "grid"


def test_handle_it_yourself_closes_the_case_at_once_where_the_category_allows(site: Any) -> None:
    client, tokens, _ = site
    done = client.post("/api/reports", json={**GOOD, "handle_self": True}, headers=auth(tokens["grider"]))
    assert done.status_code == 201 and done.json()["case_state"] == "closed"
    refused = client.post("/api/reports", json={**GOOD, "category_code": "0102", "handle_self": True},
                          headers=auth(tokens["grider"]))  # 积存垃圾渣土 is not for 自办自结
    assert refused.status_code == 201 and refused.json()["case_state"] == "reported"
    assert refused.json()["self_handle_problem"]["code"].startswith("cases.")


def test_a_resident_reports_as_a_citizen_and_an_operator_takes_a_phone_call(site: Any) -> None:
    client, tokens, _ = site
    resident = client.post("/api/reports", json=GOOD, headers=auth(tokens["resi"]))
    call = client.post("/api/reports", json={**GOOD, "source": "district"}, headers=auth(tokens["oper"]))
    assert (resident.json()["source"], resident.json()["channel"]) == ("citizen", "resident")
    assert (call.json()["source"], call.json()["channel"]) == ("district", "console")


def test_upstream_webhook_never_duplicates_and_only_machines_may_call_it(site: Any) -> None:
    client, tokens, c = site
    body = {"external_id": "12345-20261123-0001", "source": "citizen", "description": "夜间施工扰民",
            "category_code": "0302", "lon": YIHU[0], "lat": YIHU[1], "reporter_phone": "13900001111"}
    first = client.post("/api/intake/upstream", json=body, headers=auth(tokens["sys12345"]))
    again = client.post("/api/intake/upstream", json=body, headers=auth(tokens["sys12345"]))
    assert (first.status_code, again.status_code, again.json()["outcome"]) == (201, 200, "unchanged")
    assert first.json()["external"] == {"system": "sys12345", "id": "12345-20261123-0001"}
    assert first.json()["reporter_phone"] == "139****1111"
    refused = client.post("/api/intake/upstream", json=body, headers=auth(tokens["grider"]))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "intake.upstream.machines_only"
    assert count(c, CaseRow) == 1


def test_a_batch_is_checked_whole_then_stored_and_resending_it_changes_nothing(site: Any) -> None:
    client, tokens, c = site
    good = "工单编号,诉求内容,类别编码,经度,纬度\nB-1,路灯不亮,0601,104.005,30.002\nB-2,井盖缺失,0602,104.006,30.003\n"
    bad = good + "B-3,坏坐标,0601,east,30.0\nB-4,,0601,104.0,30.0\n"
    refused = client.post("/api/intake/upstream/batch", files={"file": ("x.csv", bad.encode(), "text/csv")},
                          headers=auth(tokens["sys12345"]))
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "intake.batch.invalid" and error["params"]["count"] == 2
    assert [(d["where"], d["code"]) for d in error["details"]] == [
        ("#4", "intake.upstream.bad_number"), ("#5", "intake.required")]
    assert count(c, ReportRow) == 0
    files = {"file": ("x.csv", good.encode(), "text/csv")}
    stored = client.post("/api/intake/upstream/batch", files=files, headers=auth(tokens["sys12345"]))
    assert stored.status_code == 200 and stored.json() == {"records": 2, "outcomes": {"created": 2}}
    resent = client.post("/api/intake/upstream/batch", files=files, headers=auth(tokens["sys12345"]))
    assert resent.json() == {"records": 2, "outcomes": {"unchanged": 2}}
    assert count(c, CaseRow) == 2


def test_ai_alerts_keep_everything_but_open_one_case_per_camera_cool_down(site: Any) -> None:
    client, tokens, c = site
    alert = {"alert_type": "ebike_in_lift", "camera_id": "lift-3-2", "confidence": 0.93,
             "occurred_at": "2026-11-23T20:15:00+08:00", "lon": YIHU[0], "lat": YIHU[1],
             "snapshot": base64.b64encode(png()).decode()}
    first = client.post("/api/intake/ai-alerts", json=alert, headers=auth(tokens["aivideo"]))
    repeat = client.post("/api/intake/ai-alerts", json={**alert, "confidence": 0.97}, headers=auth(tokens["aivideo"]))
    unsure = client.post("/api/intake/ai-alerts", json={**alert, "camera_id": "lift-9", "confidence": 0.5},
                         headers=auth(tokens["aivideo"]))
    assert first.status_code == 201 and first.json()["state"] == "opened"
    assert (repeat.json()["state"], repeat.json()["case_number"]) == ("suppressed", first.json()["case_number"])
    assert (unsure.json()["state"], unsure.json()["problem"]["code"]) == ("suppressed", "intake.ai.below_threshold")
    case, _ = c.cases.get(c.auth.principal("oper"), first.json()["case_number"])
    assert (case.source, case.category_code, case.urgency, len(case.attachments)) == ("sensor", "1003", "urgent", 1)
    assert count(c, ReportRow) == 3 and count(c, CaseRow) == 1


def test_the_review_queue_over_http(site: Any) -> None:
    client, tokens, c = site
    c.triage.min_confidence = 1.0  # no classification is that sure: an operator decides
    held = client.post("/api/reports", json={"description": "这里有问题", "lon": YIHU[0], "lat": YIHU[1]},
                       headers=auth(tokens["resi"])).json()
    queue = client.get("/api/reports/review", headers=auth(tokens["oper"])).json()
    assert [item["token"] for item in queue["items"]] == [held["token"]]
    assert queue["items"][0]["problem"]["message"].startswith("尚未分类（智能分类没有足够把握）")
    assert len(queue["items"][0]["problem"]["params"]["suggestions"]) == 3
    done = client.post(f"/api/reports/{held['token']}/resolve", json={"category_code": "0101"},
                       headers=auth(tokens["oper"]))
    assert done.status_code == 200 and done.json()["state"] == "opened"


# --- malformed input: each channel answers precisely, stores nothing ------------------------------

BAD_REPORTS = [
    ("control characters", {**GOOD, "description": "垃圾\x07\x1b[2J"}, 422, "intake.control_characters"),
    ("bidirectional override", {**GOOD, "description": "垃圾\u202e圾垃"}, 422, "intake.control_characters"),
    ("description too long", {**GOOD, "description": "长" * 4001}, 422, "intake.too_long"),
    ("description absurdly long", {**GOOD, "description": "长" * 9000}, 422, "request.invalid"),
    ("only markup", {**GOOD, "description": "<script>alert(1)</script>"}, 422, "intake.required"),
    ("half a point", {**GOOD, "lat": None}, 422, "intake.half_point"),
    ("no location", {"description": "x", "category_code": "0101"}, 422, "intake.no_location"),
    ("not a number", {**GOOD, "lon": "east"}, 422, "request.invalid"),
    ("unknown datum", {**GOOD, "crs": "tokyo"}, 422, "geo.unknown_coord_system"),
    ("outside the street", {**GOOD, "lon": 116.4, "lat": 39.9}, 404, "areas.point_outside"),
    ("unknown category", {**GOOD, "category_code": "9999"}, 422, "intake.unknown_category"),
    ("unknown photo", {**GOOD, "attachments": ["0" * 64]}, 422, None),
    ("bad key characters", {**GOOD, "category_code": "01 01; DROP"}, 422, "intake.bad_key"),
]


@pytest.mark.parametrize(("what", "body", "status", "code"), BAD_REPORTS, ids=[b[0] for b in BAD_REPORTS])
def test_malformed_reports_are_refused_precisely(site: Any, what: str, body: dict[str, Any], status: int,
                                                 code: str | None) -> None:
    client, tokens, c = site
    response = client.post("/api/reports", json=body, headers=auth(tokens["grider"]))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and "Traceback" not in response.text
    if code is not None:
        assert error["code"] == code
    assert count(c, ReportRow) == 0


def test_malformed_bodies_and_files_on_the_machine_endpoints(site: Any) -> None:
    client, tokens, c = site
    sys_auth = auth(tokens["sys12345"], **{"Content-Type": "application/json"})
    cases = [
        client.post("/api/intake/upstream", content=b"{not json", headers=sys_auth),
        client.post("/api/intake/upstream", content=json.dumps([1, 2]).encode(), headers=sys_auth),
        client.post("/api/intake/upstream", json={"external_id": "x", "colour": "red"},
                    headers=auth(tokens["sys12345"])),
        client.post("/api/intake/upstream", json={"description": "no id"}, headers=auth(tokens["sys12345"])),
        client.post("/api/intake/upstream/batch", files={"file": ("x.csv", b"\xff\xfe\x00bad", "text/csv")},
                    headers=auth(tokens["sys12345"])),
        client.post("/api/intake/upstream/batch", files={"file": ("x.exe", b"MZ", "application/octet-stream")},
                    headers=auth(tokens["sys12345"])),
        client.post("/api/intake/ai-alerts", json={"alert_type": "ufo", "camera_id": "c", "confidence": 0.9},
                    headers=auth(tokens["aivideo"])),
        client.post("/api/intake/ai-alerts", json={"alert_type": "ebike_in_lift", "camera_id": "c", "confidence": 0.9,
                                                   "occurred_at": "2026-11-23T20:15:00+08:00", "lon": YIHU[0],
                                                   "lat": YIHU[1], "snapshot": "bm90IGFuIGltYWdl"},
                    headers=auth(tokens["aivideo"])),
        client.post("/api/intake/ai-alerts", json={"alert_type": "ebike_in_lift", "camera_id": "c", "confidence": 0.9,
                                                   "occurred_at": "2026-11-23T20:15:00+08:00", "snapshot": "%%%"},
                    headers=auth(tokens["aivideo"])),
    ]
    codes = [(r.status_code, r.json()["error"]["code"]) for r in cases]
    assert codes == [(422, "intake.batch.bad_json"), (422, "intake.batch.bad_json"),
                     (422, "intake.upstream.unknown_fields"), (422, "intake.upstream.external_id_required"),
                     (422, "intake.batch.not_utf8"), (422, "intake.batch.bad_type"), (422, "intake.ai.unknown_type"),
                     (422, "attachments.not_an_image"), (422, "intake.ai.bad_snapshot")]
    assert count(c, ReportRow) == 0


def test_the_operators_inbox_page_classifies_and_places_in_one_click(site: Any) -> None:
    client, tokens, c = site
    c.triage.min_confidence = 1.0
    c.auth.set_password("oper", "correct-horse-battery")
    unclassified = client.post("/api/reports", json={"description": "楼道灯坏了", "lon": YIHU[0], "lat": YIHU[1]},
                               headers=auth(tokens["grider"])).json()
    browser = TestClient(client.app)
    login = browser.post("/api/auth/login", json={"username": "oper", "password": "correct-horse-battery"})
    csrf = login.json()["csrf_token"]
    page = browser.get("/reports/review", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "待处理上报" in page.text and unclassified["token"] in page.text
    assert "尚未分类（智能分类没有足够把握）" in page.text and "智能分类建议" in page.text
    assert page.text.count('data-testid="intake-suggestion"') == 3
    refused = browser.post(f"/reports/review/{unclassified['token']}", data={"csrf_token": csrf,
                                                                               "category_code": "9999"})
    assert refused.status_code == 422 and "未知或已停用的事件类别：9999" in refused.text
    done = browser.post(f"/reports/review/{unclassified['token']}", data={"csrf_token": csrf,
                                                                            "category_code": "0603"},
                        follow_redirects=False)
    assert done.status_code == 303
    assert c.intake.get(c.auth.principal("oper"), unclassified["token"]).state == "opened"
    assert "没有等待人工处理的上报" in browser.get("/reports/review", headers={"Accept": "text/html"}).text


def test_open311_address_id_names_a_gazetteer_entry(site: Any) -> None:
    client, _, c = site
    with c.sessions.begin() as session:
        session.add(CompoundRow(code="cmp-1", name="怡湖苑", area_code="510113002001001",
                                address="四川省成都市青白江区青江路123号", lon=104.003, lat=30.003, households=10))
    c.auth.create_user(username="civicapp", display_name="civic", role=Role.RESIDENT, scope_code="510113002000")
    key = c.auth.issue_token("civicapp", "open311")
    placed = client.post("/open311/v2/requests.json", data={"api_key": key, "service_code": "0101",
                                                             "address_id": "cmp-1", "description": "门口垃圾"})
    assert placed.status_code == 201 and placed.json()[0]["service_request_id"].startswith("QY-")
    number = placed.json()[0]["service_request_id"]
    shown = client.get(f"/open311/v2/requests/{number}.json").json()[0]
    assert (shown["lat"], shown["long"], shown["address"]) == (30.003, 104.003, "四川省成都市青白江区青江路123号")
    unknown = client.post("/open311/v2/requests.xml", data={"api_key": key, "service_code": "0101",
                                                            "address_id": "nowhere-9", "description": "x"})
    assert unknown.status_code == 400 and "<code>400</code>" in unknown.text and "nowhere-9" in unknown.text


def test_open311_refuses_bytes_that_are_not_utf8_and_bodies_that_are_not_forms(site: Any) -> None:
    client, _, c = site
    c.auth.create_user(username="civicapp", display_name="civic", role=Role.RESIDENT, scope_code="510113002000")
    key = c.auth.issue_token("civicapp", "open311")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = f"api_key={key}&service_code=0101&lat=30.002&long=104.005&description=%FF%FE%E5%9E".encode()
    broken = client.post("/open311/v2/requests.json", content=body, headers=form)
    assert broken.status_code == 400, broken.text
    assert broken.json()[0]["code"] == 400 and "UTF-8" in broken.json()[0]["description"]
    not_form = client.post("/open311/v2/requests.xml", content=b"\x00\x01binary",
                           headers={"Content-Type": "multipart/form-data; boundary=zzz"})
    assert not_form.status_code == 400 and not_form.text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert count(c, ReportRow) == 0
