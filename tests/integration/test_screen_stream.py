"""The screen's live stream over real HTTP (uvicorn) on SQLite and PostgreSQL: a new case and its steps arrive as
server-sent events with resumable ids, a reconnect with Last-Event-ID gets what it missed, scope applies."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2 as httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, insert, select

from chengyun.auth import api as auth_api
from chengyun.auth.model import Principal, Role
from chengyun.bootstrap import Container
from chengyun.cases.model import Action, Request, Source
from chengyun.cases.service import NewCase
from chengyun.cases.tables import CaseRow
from chengyun.devices.tables import DeviceRow
from chengyun.screen import api as screen_api
from chengyun.screen.live import BURST
from chengyun.screen.model import Cursor
from chengyun.screen.sources import TAILS
from chengyun.web.errors import install_error_handlers
from tests.helpers import free_port
from tests.integration.alarm_fixtures import clear, facts_of, fire, path_of

PASSWORD = "correct-horse-battery"
STREET, YIHU, SJN = "510113002000", "510113002001", "510113002002"
YIHU_POINT, SJN_POINT = (104.005, 30.002), (104.015, 30.002)
WAIT_S = 30.0  # generous: the feed polls once a second; this only bounds a broken test


@pytest.fixture
def live(tiny_district: Container) -> Iterator[tuple[Container, str]]:
    """The tiny district with the default catalogue and two operators, served by uvicorn on a free port."""
    c = tiny_district
    c.categories.ensure_default(actor="test")
    c.auth.create_user(username="street_op", display_name="街道值班员", role=Role.OPERATOR, scope_code=STREET,
                       password=PASSWORD)
    c.auth.create_user(username="yihu_op", display_name="怡湖值班员", role=Role.OPERATOR, scope_code=YIHU,
                       password=PASSWORD)
    app = FastAPI()
    app.state.container = c
    install_error_handlers(app)
    for module in (auth_api, screen_api):
        app.include_router(module.router)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield c, f"http://127.0.0.1:{port}"
    c.live.close()
    server.should_exit = True
    thread.join(timeout=10)


@contextmanager
def client_for(base: str, username: str) -> Iterator[httpx.Client]:
    """A signed-in HTTP client (session cookie)."""
    with httpx.Client(base_url=base, timeout=httpx.Timeout(10, read=WAIT_S)) as client:
        assert client.post("/api/auth/login", json={"username": username, "password": PASSWORD}).status_code == 200
        yield client


def item_code(c: Container) -> str:
    return next(cat.code for cat in c.categories.catalogue().items(active_only=True))


def open_case(c: Container, who: Principal, point: tuple[float, float], title: str) -> str:
    new = NewCase(source=Source.CITIZEN, category_code=item_code(c), description=title + "，请处理", lon=point[0],
                  lat=point[1], title=title)
    return c.cases.open(who, new).number


class Stream:
    """Reads a text/event-stream response: the `retry:` advice, then events as (id, data) pairs."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.retry: int | None = None

    def next_event(self) -> tuple[str | None, dict[str, Any]]:
        event_id, data = None, None
        for line in self.lines:
            if line.startswith("retry:"):
                self.retry = int(line[6:])
            elif line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:"):
                data = json.loads(line[5:])
            elif line == "" and data is not None:
                return event_id, data
        raise AssertionError("the stream ended")

    def until(self, number: str, kind: str) -> tuple[str | None, dict[str, Any]]:
        while True:
            event_id, data = self.next_event()
            if data.get("number") == number and data.get("kind") == kind:
                return event_id, data


def test_a_new_case_and_its_step_arrive_as_events_with_resumable_ids(live: tuple[Container, str]) -> None:
    c, base = live
    op = c.auth.principal("street_op")
    with client_for(base, "street_op") as client, client.stream("GET", "/api/screen/stream") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response.iter_lines())
        first = next(stream.lines)
        assert first.startswith("retry:") and int(first[6:]) > 0  # reconnect advice comes first
        number = open_case(c, op, YIHU_POINT, "小区门口垃圾堆放")
        event_id, new = stream.until(number, "case.new")
        assert new["state"] == "reported" and new["cls"] == "triage" and new["action_label"] == "新上报"
        assert new["community"] == "怡湖社区" and new["link"] == f"/cases/{number}"
        assert new["lon"] == pytest.approx(YIHU_POINT[0]) and new["source_label"] == "群众诉求"
        assert event_id is not None and Cursor.parse(event_id, TAILS).get("cases") > 0
        c.cases.act(op, number, Request(Action.REGISTER))
        step_id, step = stream.until(number, "case.step")
        assert (step["action"], step["from_state"], step["state"]) == ("register", "reported", "registered")
        assert step["action_label"] == "立案" and step["state_label"] == "待派遣"
        assert step_id is not None and Cursor.parse(step_id, TAILS).get("steps") > 0

    # a reconnect that says where it stopped (the browser sends Last-Event-ID) gets what came after, at once
    c.cases.act(op, number, Request(Action.SUSPEND, note="等待施工队"))
    with client_for(base, "street_op") as client, client.stream(
            "GET", "/api/screen/stream", headers={"Last-Event-ID": step_id}) as response:
        stream = Stream(response.iter_lines())
        resumed_id, missed = stream.next_event()
        assert (missed["number"], missed["action"], missed["state"]) == (number, "suspend", "suspended")
        assert missed["cls"] == "suspended"
        assert resumed_id is not None and resumed_id != step_id
    deadline = time.monotonic() + WAIT_S
    while c.live.listeners() and time.monotonic() < deadline:  # both streams ended with their connections
        time.sleep(0.05)
    assert c.live.listeners() == 0


def test_a_community_stream_gets_only_its_communitys_events(live: tuple[Container, str]) -> None:
    c, base = live
    op = c.auth.principal("street_op")
    with client_for(base, "yihu_op") as client, client.stream("GET", "/api/screen/stream") as response:
        stream = Stream(response.iter_lines())
        assert next(stream.lines).startswith("retry:")
        outside = open_case(c, op, SJN_POINT, "石家碾路灯不亮")
        inside = open_case(c, op, YIHU_POINT, "怡湖噪音扰民")
        _, event = stream.next_event()
        assert event["number"] == inside and event["number"] != outside
        assert "/" + YIHU + "/" in event["area_path"]


def test_a_bad_cursor_and_a_handler_are_refused(live: tuple[Container, str]) -> None:
    c, base = live
    with client_for(base, "street_op") as client:
        answer = client.get("/api/screen/stream", params={"after": "cases:x"})
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "screen.bad_cursor"
    c.auth.create_user(username="handler", display_name="h", role=Role.HANDLER, scope_code=STREET,
                       password=PASSWORD)
    with client_for(base, "handler") as client:
        answer = client.get("/api/screen/stream")
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "screen.not_allowed"
    assert c.live.listeners() == 0


def test_an_alarm_raised_arrives_with_its_pulsing_point(live: tuple[Container, str]) -> None:
    c, base = live
    with c.sessions.begin() as session:
        session.add(DeviceRow(device_id="gas-1", type_code="gas_detector", area_code=YIHU + "001",
                              area_path=path_of(c, YIHU + "001"), lon=104.0031, lat=30.0031, credential_hash="0" * 64,
                              status="online", active=True, created_at=c.clock.now(), updated_at=c.clock.now()))
    with client_for(base, "yihu_op") as client, client.stream("GET", "/api/screen/stream") as response:
        stream = Stream(response.iter_lines())
        assert next(stream.lines).startswith("retry:")
        at = c.clock.now().timestamp()
        c.alarms.apply([fire(at=at)], facts_of(c).get)
        event_id, event = stream.next_event()
        assert (event["kind"], event["layer"], event["cls"], event["rank"]) == ("alarm.raised", "alarms", "critical", 4)
        assert event["title"] == "燃气泄漏" and event["lon"] == pytest.approx(104.0031)
        assert event_id is not None and Cursor.parse(event_id, TAILS).get("alarms") > 0
        c.alarms.apply([clear(at=at + 60)], facts_of(c).get)
        _, cleared = stream.next_event()
        assert (cleared["kind"], cleared["cls"], cleared["point_id"]) == ("alarm.cleared", None, event["point_id"])


def test_a_bulk_import_sends_one_reset_that_moves_the_cursor_past_it(live: tuple[Container, str]) -> None:
    c, base = live
    op = c.auth.principal("street_op")
    first = open_case(c, op, YIHU_POINT, "导入前的事件")
    with client_for(base, "street_op") as client, client.stream("GET", "/api/screen/stream") as response:
        stream = Stream(response.iter_lines())
        assert next(stream.lines).startswith("retry:")
        with c.sessions.begin() as session:  # a batch of 12345 records lands at once
            row = session.scalars(select(CaseRow).where(CaseRow.number == first)).one()
            values = {col.key: getattr(row, col.key) for col in CaseRow.__table__.columns if col.key != "id"}
            session.execute(insert(CaseRow), [{**values, "number": f"BULK-{i:04d}"}
                                              for i in range(BURST + 50)])
        reset_id, reset = stream.next_event()
        assert reset == {"kind": "reset"}
        with c.sessions() as session:
            newest = session.scalar(select(func.max(CaseRow.id)))
        assert reset_id is not None and Cursor.parse(reset_id, TAILS).get("cases") == newest
        after = open_case(c, op, SJN_POINT, "导入后的事件")
        _, event = stream.next_event()
        assert (event["kind"], event["number"]) == ("case.new", after)  # streaming goes on one by one
