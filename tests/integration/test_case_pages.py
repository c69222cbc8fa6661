"""The loop's pages over HTTP on the demo street: queue, case page with its forms, overdue board, scope."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from chengyun.bootstrap import Container, bootstrap
from chengyun.cases import pages as cases_pages
from chengyun.config import Settings
from chengyun.demo.load import ensure_demo
from chengyun.shared.clock import FixedClock
from chengyun.web.app import create_app

FRIDAY = datetime(2026, 2, 13, 7, 0, tzinfo=UTC)
PHONE = "13912345678"
HTML = {"Accept": "text/html"}
Demo = tuple[TestClient, dict[str, str], Container]


def _app(container: Container) -> FastAPI:
    app = create_app(container)
    if not any(getattr(r, "path", None) == "/cases/{number}" for r in app.routes):  # until app.py includes it
        app.include_router(cases_pages.router)
    return app


@pytest.fixture
def demo(settings: Settings, engine: object) -> Demo:
    container = bootstrap(settings, engine=engine, clock=FixedClock(FRIDAY))  # type: ignore[arg-type]
    passwords = {a.username: a.password for a in ensure_demo(container, echo=lambda _: None)}
    return TestClient(_app(container)), passwords, container


def _sign_in(client: TestClient, passwords: dict[str, str], username: str) -> str:
    response = client.post("/api/auth/login", json={"username": username, "password": passwords[username]})
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def _open(client: TestClient, csrf: str, community: str = "510113002001", *, category: str = "1101",
          actions: tuple[str, ...] = ("accept", "register", "dispatch")) -> dict[str, object]:
    lon, lat = client.get(f"/api/areas/{community}001001").json()["center"]
    opened = client.post("/api/cases", headers={"X-CSRF-Token": csrf}, json={
        "source": "citizen", "category_code": category, "title": "楼上深夜噪音扰民",
        "description": "楼上住户深夜噪音，多次沟通无果", "lon": lon, "lat": lat, "reporter_name": "王女士",
        "reporter_phone": PHONE})
    assert opened.status_code == 201, opened.text
    number = opened.json()["number"]
    for action in actions:
        response = client.post(f"/api/cases/{number}/actions/{action}", headers={"X-CSRF-Token": csrf}, json={})
        assert response.status_code == 200, response.text
    return dict(client.get(f"/api/cases/{number}").json())


def _forms(html: str) -> set[str]:
    return set(re.findall(r'<form method="post" action="/cases/[^"]+/act" class="act-form stack" '
                          r'data-action="([a-z_]+)"', html))


def test_queue_and_case_page_show_labels_masked_phone_and_the_operators_forms(demo: Demo) -> None:
    client, passwords, _ = demo
    csrf = _sign_in(client, passwords, "operator")
    case = _open(client, csrf)
    number = str(case["number"])
    queue = client.get("/cases", headers=HTML)
    assert queue.status_code == 200
    row = re.search(rf'<tr class="[^"]*" data-number="{number}">(.*?)</tr>', queue.text, re.S)
    assert row is not None
    assert "待签收" in row.group(1) and "怡湖社区" in row.group(1) and "1101" in row.group(1)
    assert "2026-02-27" in row.group(1)  # the due date, shown in Asia/Shanghai
    assert number in client.get("/cases?tab=active").text
    assert number not in client.get("/cases?tab=triage").text
    assert number not in client.get("/cases?tab=done").text

    page = client.get(f"/cases/{number}", headers=HTML)
    assert page.status_code == 200
    assert "139****5678" in page.text and PHONE not in page.text
    assert "已上报 → 核实中" in page.text and "核实中 → 待派遣" in page.text and "待派遣 → 待签收" in page.text
    assert page.text.count('<li data-action="') == 3
    assert "怡湖社区" in page.text and str(case["area_code"]) in page.text
    forms = _forms(page.text)
    assert {"redispatch", "urge", "suspend", "claim"} <= forms
    assert not {"return", "submit_result", "close"} & forms  # the table gives these to units / later states
    assert not {"approve_extension", "deny_extension"} & forms  # no extension is pending
    advice = page.text.split('data-testid="unit-suggestions">')[1].split("</div>")[0]  # redispatch is offered
    assert "建议主办单位" in advice and '<li data-unit="cc-510113002001">' in advice and "权责清单" in advice
    assert 'list="suggested-units"' in page.text.split('data-action="redispatch"')[1].split("</form>")[0]
    suspend = page.text.split('data-action="suspend"')[1].split("</form>")[0]
    assert "required" in suspend and 'name="version" value="3"' in suspend
    english = client.get(f"/cases/{number}?lang=en", headers=HTML).text
    assert "Timeline" in english and "139****5678" in english


def test_a_handler_claims_through_the_page_form_and_a_stale_form_gets_the_conflict_message(demo: Demo) -> None:
    client, passwords, _ = demo
    _open(client, _sign_in(client, passwords, "operator"), category="0101")
    handler = TestClient(client.app)
    csrf = _sign_in(handler, passwords, "handler")
    queue = handler.get("/cases", headers=HTML).text
    number = re.findall(r'data-number="([^"]+)"', queue)
    assert len(number) == 1  # the handler's unit sees its own case only
    page = handler.get(f"/cases/{number[0]}", headers=HTML).text
    assert {"claim", "return"} <= _forms(page) and "redispatch" not in _forms(page)
    claim = handler.post(f"/cases/{number[0]}/act", data={"csrf_token": csrf, "action": "claim", "version": "3"},
                         follow_redirects=False)
    assert claim.status_code == 303 and claim.headers["location"] == f"/cases/{number[0]}"
    after = handler.get(f"/cases/{number[0]}", headers=HTML).text
    assert 'data-state="claimed">已签收' in after and "待签收 → 已签收" in after
    stale = handler.post(f"/cases/{number[0]}/act", data={
        "csrf_token": csrf, "action": "return", "version": "3", "note": "不属于本单位"})
    assert stale.status_code == 409
    assert "已被他人更新" in stale.text and 'data-testid="case-error"' in stale.text
    no_reason = handler.post(f"/cases/{number[0]}/act", data={"csrf_token": csrf, "action": "return",
                                                              "version": "4", "note": " "})
    assert no_reason.status_code == 422 and "执行“退单”必须填写原因" in no_reason.text
    no_csrf = handler.post(f"/cases/{number[0]}/act", data={"action": "handle", "version": "4"})
    assert no_csrf.status_code == 403
    assert handler.get(f"/api/cases/{number[0]}").json()["state"] == "claimed"


def test_a_community_operator_gets_404_for_another_communitys_case(demo: Demo) -> None:
    client, passwords, _ = demo
    csrf = _sign_in(client, passwords, "operator")
    theirs = str(_open(client, csrf, "510113002002", actions=())["number"])
    yihu = TestClient(client.app)
    ycsrf = _sign_in(yihu, passwords, "yihu")
    assert yihu.get(f"/cases/{theirs}", headers=HTML).status_code == 404
    assert yihu.post(f"/cases/{theirs}/act", data={"csrf_token": ycsrf, "action": "accept",
                                                   "version": "0"}).status_code == 404
    assert theirs not in yihu.get("/cases", headers=HTML).text
    assert client.get(f"/api/cases/{theirs}").json()["state"] == "reported"


def test_overdue_board_groups_open_cases_past_due_by_lead_unit(demo: Demo) -> None:
    client, passwords, container = demo
    csrf = _sign_in(client, passwords, "operator")
    late = str(_open(client, csrf, category="0101")["number"])
    closed_early = str(_open(client, csrf, actions=("accept",))["number"])
    board = client.get("/cases/overdue", headers=HTML).text
    assert 'data-testid="overdue-none"' in board
    assert isinstance(container.clock, FixedClock)
    container.clock.advance(timedelta(days=30))
    _sign_in(client, passwords, "operator")  # the session of 30 days ago has expired
    board = client.get("/cases/overdue", headers=HTML).text
    groups = re.findall(r'data-testid="overdue-group" data-unit="([^"]+)"', board)
    assert groups == ["dept-chengguan"]
    assert 'data-testid="overdue-count">1<' in board and late in board and closed_early not in board
    tab = client.get("/cases?tab=overdue", headers=HTML).text
    assert late in tab and closed_early not in tab and "已超期" in tab
    assert client.get("/cases?tab=nope", headers=HTML).status_code == 422


def test_the_whole_loop_through_the_page_forms_ends_with_a_rating(demo: Demo) -> None:
    client, passwords, _ = demo
    csrf = _sign_in(client, passwords, "operator")
    number = str(_open(client, csrf, category="0101")["number"])
    handler = TestClient(client.app)
    hcsrf = _sign_in(handler, passwords, "handler")

    def act(who: TestClient, token: str, action: str, **fields: str) -> None:
        version = who.get(f"/api/cases/{number}").json()["version"]
        response = who.post(f"/cases/{number}/act", data={"csrf_token": token, "action": action,
                                                          "version": str(version), **fields},
                            follow_redirects=False)
        assert response.status_code == 303, response.text

    act(handler, hcsrf, "claim")
    act(handler, hcsrf, "submit_result", note="已清运，现场恢复整洁")
    act(client, csrf, "verify_pass")
    act(client, csrf, "close")
    page = client.get(f"/cases/{number}", headers=HTML).text
    follow_up = page.split('data-action="follow_up"')[1].split("</form>")[0]
    assert '<select name="rating" required>' in follow_up and "基本满意" in follow_up
    act(client, csrf, "follow_up", rating="unsatisfied", note="仍有异味")
    page = client.get(f"/cases/{number}", headers=HTML).text
    assert 'data-state="followed_up">已回访' in page
    assert "回访评价：不满意" in page and "已清运，现场恢复整洁" in page
    assert "reopen" in _forms(page)  # unsatisfied: the operator may reopen, with a reason
    assert number in client.get("/cases?tab=done", headers=HTML).text


def test_case_page_shows_the_map_place_photos_and_the_cases_merged_into_it(demo: Demo) -> None:
    import io

    from PIL import Image

    client, passwords, _ = demo
    csrf = _sign_in(client, passwords, "operator")
    main = str(_open(client, csrf)["number"])
    dup = str(_open(client, csrf, actions=("accept",))["number"])
    merged = client.post(f"/api/cases/{dup}/actions/merge", headers={"X-CSRF-Token": csrf},
                         json={"note": "同一噪音问题", "data": {"main_case": main}})
    assert merged.status_code == 200, merged.text
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(png, format="PNG")
    photo = client.post("/api/attachments", headers={"X-CSRF-Token": csrf},
                        files={"file": ("p.png", png.getvalue(), "image/png")}).json()["id"]
    urged = client.post(f"/api/cases/{main}/actions/urge", headers={"X-CSRF-Token": csrf},
                        json={"note": "附现场照片", "attachments": [photo]})
    assert urged.status_code == 200, urged.text

    page = client.get(f"/cases/{main}", headers=HTML).text
    merged_here = page.split('data-testid="case-merged">')[1].split("</dd>")[0]
    assert f'href="/cases/{dup}"' in merged_here and "楼上深夜噪音扰民" in merged_here
    assert f'<img src="/api/attachments/{photo}"' in page
    assert 'data-area="510113002001"' in page and 'data-highlight="510113002001001"' in page
    assert f'href="/cases/{main}"' in client.get(f"/cases/{dup}", headers=HTML).text  # and back to the main case


def test_a_possible_duplicate_is_proposed_with_its_evidence_and_merged_in_one_click(demo: Demo) -> None:
    client, passwords, _ = demo
    csrf = _sign_in(client, passwords, "operator")
    main = str(_open(client, csrf, actions=("accept",))["number"])
    dup = str(_open(client, csrf, actions=("accept",))["number"])
    elsewhere = str(_open(client, csrf, "510113002002", actions=("accept",))["number"])  # another community
    page = client.get(f"/cases/{dup}", headers=HTML).text
    proposals = page.split('data-testid="merge-proposals">')[1].split("</div>")[0]
    assert f'data-case="{main}"' in proposals and "文本相似度 100%" in proposals and elsewhere not in proposals
    version = re.search(r'name="version" value="(\d+)"', proposals)
    assert version is not None
    merged = client.post(f"/cases/{dup}/act", data={"csrf_token": csrf, "action": "merge", "version": version.group(1),
                                                     "main_case": main, "note": "疑似重复"}, follow_redirects=False)
    assert merged.status_code == 303
    assert client.get(f"/api/cases/{dup}").json()["state"] == "merged"
    undone = client.post(f"/api/cases/{dup}/actions/unmerge", headers={"X-CSRF-Token": csrf}, json={})
    assert undone.status_code == 200 and undone.json()["state"] != "merged"  # undoable while the main case is open
