"""Linkage over HTTP on both databases: runs, acks and the checklist as JSON, the inbox, the public ack page, and the
live stream (server-sent events) served by a real uvicorn."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from chengyun.bootstrap import Container
from chengyun.linkage.service import LinkageService
from chengyun.web.app import create_app
from tests.helpers import free_port
from tests.linkage_world import PASSWORD, World, make_world

LOGINS = ("u-op", "u-gw", "u-gwx", "u-audit")
WAIT_S = 30.0  # a hang guard only: events arrive within a second


@pytest.fixture
def world(tiny_district: Container) -> World:
    return make_world(tiny_district, logins=LOGINS)


@pytest.fixture
def client(world: World) -> TestClient:
    app = create_app(world.container)
    return TestClient(app)


def login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": str(response.json()["csrf_token"])}


def test_runs_notifications_and_the_checklist_as_json(client: TestClient, world: World) -> None:
    assert client.get("/api/linkage/runs").status_code == 401
    run_id = world.service.start(world.alarm(7))
    login(client, "u-op")
    [run] = client.get("/api/linkage/runs", params={"alarm_id": 7}).json()
    assert (run["id"], run["alarm_label"], run["state"], run["tiers"]) == (run_id, "燃气泄漏", "active", 3)
    assert client.get("/api/linkage/runs", params={"alarm_id": 8}).json() == []
    detail = client.get(f"/api/linkage/runs/{run_id}").json()
    assert [(n["recipient_kind"], n["channel"], n["status"]) for n in detail["notifications"]][:3] == [
        ("family", "sms", "pending"), ("grid_worker", "in_app", "sent"), ("community", "in_app", "sent")]
    assert detail["checklist"][0] == {"code": "close_valve", "text": "关闭燃气总阀", "done": False, "by": None,
                                      "at": None}
    assert client.get("/api/linkage/runs/999").status_code == 404
    headers = login(client, "u-gw")
    ticked = client.post(f"/api/linkage/runs/{run_id}/checklist", json={"step": "close_valve"}, headers=headers)
    assert ticked.status_code == 200 and ticked.json()["checklist"][0]["done"] is True
    assert client.post(f"/api/linkage/runs/{run_id}/checklist", json={"step": "close_valve"}).status_code == 403
    bad = client.post(f"/api/linkage/runs/{run_id}/checklist", json={"step": "dance"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "linkage.unknown_step"
    world.service.deliver_due()
    attempts = client.get(f"/api/linkage/runs/{run_id}/deliveries").json()
    assert {a["sink"] for a in attempts} == {True, False} and all(a["ok"] for a in attempts)


def test_my_inbox_and_acknowledging_from_it(client: TestClient, world: World) -> None:
    run_id = world.service.start(world.alarm(7))
    headers = login(client, "u-gw")
    [item] = client.get("/api/notifications").json()
    assert (item["run_id"], item["must_confirm"], item["status"]) == (run_id, "已到场", "sent")
    assert item["message"].startswith("【城运联动】燃气泄漏（紧急）")
    acked = client.post(f"/api/linkage/notifications/{item['id']}/ack", json={"note": "已到场，已关阀"},
                        headers=headers)
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    login(client, "u-op")
    assert client.get(f"/api/linkage/runs/{run_id}").json()["state"] == "acknowledged"
    headers = login(client, "u-gwx")
    refused = client.post(f"/api/linkage/notifications/{item['id']}/ack", json={}, headers=headers)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "linkage.notification_not_found"
    assert client.get("/api/notifications").json() == []


def test_the_public_ack_page_is_phone_sized_chinese_and_confirms_once(client: TestClient, world: World) -> None:
    run_id = world.service.start(world.alarm(7))
    world.service.deliver_due()
    link = next(m.link for m, r in world.notifier.sent if r.channel == "sms")
    assert link is not None
    path = "/ack/" + link.rsplit("/ack/", 1)[1]
    page = client.get(path)
    assert page.status_code == 200 and 'name="viewport"' in page.text and '<html lang="zh-CN">' in page.text
    assert "燃气泄漏" in page.text and "需要您确认：已联系住户" in page.text and "关闭燃气总阀" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert 'data-status="logged"' in page.text  # the SMS sink: recorded, not sent
    done = client.post(path, data={"note": "老人已安全"})
    assert done.status_code == 200 and "谢谢，已记录您的确认。" in done.text and "老人已安全" in done.text
    assert 'data-status="acknowledged"' in client.get(path).text
    login(client, "u-op")
    assert client.get(f"/api/linkage/runs/{run_id}").json()["acknowledged_by"] == "李女士（女儿） 138****5678"
    assert client.get(path + "x").status_code == 404
    assert "确认链接无效或已过期" in client.get("/ack/1.2.3").text
    assert "Confirm" in client.get(path, params={"lang": "en"}).text


# --- the live stream over a real server ---------------------------------------------------------------------------


@pytest.fixture
def served(world: World) -> Iterator[str]:
    app = create_app(world.container)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def listen(base: str, username: str, events: queue.Queue[dict[str, Any]], ready: threading.Event,
           stop: threading.Event, headers: dict[str, str] | None = None) -> None:
    """Sign in and read the stream, putting each notification event on the queue, until `stop`."""
    with httpx.Client(base_url=base, timeout=httpx.Timeout(WAIT_S)) as http:
        assert http.post("/api/auth/login", json={"username": username, "password": PASSWORD}).status_code == 200
        with http.stream("GET", "/api/notifications/stream", headers=headers or {}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            event: dict[str, str] = {}
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                elif line.startswith(("id:", "event:", "data:")):
                    key, _, value = line.partition(":")
                    event[key] = value.strip()
                elif not line and "data" in event:
                    events.put({"id": int(event["id"]), "event": event["event"], **json.loads(event["data"])})
                    event = {}
                if stop.is_set():
                    return


def stream_of(base: str, username: str, headers: dict[str, str] | None = None) -> tuple[
        queue.Queue[dict[str, Any]], threading.Event, threading.Thread]:
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=listen, args=(base, username, events, ready, stop, headers), daemon=True)
    thread.start()
    assert ready.wait(WAIT_S), "the stream did not open"
    return events, stop, thread


def test_a_new_in_app_notification_reaches_the_open_stream(served: str, world: World) -> None:
    events, stop, thread = stream_of(served, "u-gw")
    run_id = world.service.start(world.alarm(7))
    event = events.get(timeout=WAIT_S)
    assert (event["event"], event["run_id"], event["alarm_label"], event["must_confirm"]) == (
        "notification", run_id, "燃气泄漏", "已到场")
    world.service.start(world.alarm(8, "smoke", area="510113002002001"))  # not this grid worker's area
    world.later(6)
    world.service.escalate_due()  # tier 1 of the gas leak: street and police, not the grid worker
    world.service.start(world.alarm(9))
    assert events.get(timeout=WAIT_S)["alarm_id"] == 9  # nothing of the two in between reached this worker
    stop.set()
    world.service.start(world.alarm(10))  # one more event so the reader notices `stop`
    thread.join(timeout=WAIT_S)


def test_a_notification_stored_by_another_process_arrives_by_polling_and_a_stream_resumes(
        served: str, world: World) -> None:
    events, stop, thread = stream_of(served, "u-op")
    other = LinkageService(world.container.sessions, world.clock, world.container.vault, world.service.plans,
                           world.service.channels, world.service.directory, world.notifier, type(world.hub)(),
                           world.service.ack_key)  # its own hub: nothing wakes our stream but the database
    run_id = other.start(world.alarm(7))
    assert events.get(timeout=WAIT_S)["run_id"] == run_id
    stop.set()
    other.start(world.alarm(8))
    thread.join(timeout=WAIT_S)
    resumed, stop2, thread2 = stream_of(served, "u-op", headers={"Last-Event-ID": "0"})
    assert [resumed.get(timeout=WAIT_S)["alarm_id"] for _ in range(2)] == [7, 8]
    stop2.set()
    world.service.start(world.alarm(10))
    thread2.join(timeout=WAIT_S)
