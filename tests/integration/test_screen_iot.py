"""The screen's IoT layers on SQLite and PostgreSQL: active alarms at their device's point pulsing by severity, devices
by status, alarm history in the feed and the stream's tail — each equal to a SQL count, within the focus and scope."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from chengyun.alarms.signals import Severity
from chengyun.auth import api as auth_api
from chengyun.bootstrap import Container
from chengyun.config import Settings
from chengyun.devices.tables import DeviceRow
from chengyun.places import PlaceDraft
from chengyun.screen import api as screen_api
from chengyun.screen.iot import rank
from chengyun.screen.model import Cursor
from chengyun.screen.sources import TAILS
from chengyun.shared.clock import FixedClock
from chengyun.web.app import create_app
from chengyun.web.errors import install_error_handlers
from tests.integration.alarm_fixtures import (
    NOW,
    PASSWORD,
    SJN,
    SJN_GRID,
    STREET,
    T0,
    YIHU,
    YIHU_GRID,
    clear,
    facts_of,
    fire,
    make_app,
    path_of,
)

DEVICES = [("gas-1", "gas_detector", YIHU_GRID, 104.0031, 30.0031, "online", True),
           ("smoke-2", "smoke_detector", SJN_GRID, 104.0151, 30.0021, "online", True),
           ("meter-4", "water_meter", YIHU_GRID, 104.0035, 30.0032, "offline", True),
           ("old-9", "water_meter", YIHU_GRID, 104.0041, 30.0012, "offline", False)]


@pytest.fixture
def iot(settings: Settings, engine: Any) -> Container:
    """The alarm tests' district with four devices (one retired), a gas alarm in 怡湖 and a smoke alarm in 石家碾."""
    c = make_app(settings, engine, FixedClock(NOW))
    with c.sessions.begin() as session:
        session.add_all(DeviceRow(device_id=d, type_code=t, area_code=a, area_path=path_of(c, a), lon=x, lat=y,
                                  credential_hash="0" * 64, status=s, active=on, created_at=NOW, updated_at=NOW)
                        for d, t, a, x, y, s, on in DEVICES)
    c.alarms.apply([fire(), fire("smoke-2", "smoke", "smoke", T0 + 5, Severity.MAJOR, smoke=True)], facts_of(c).get)
    return c


def signed_in(c: Container) -> TestClient:
    """The screen's API over HTTP, signed in as the street operator."""
    app = FastAPI()
    app.state.container = c
    install_error_handlers(app)
    for module in (auth_api, screen_api):
        app.include_router(module.router)
    client = TestClient(app)
    assert client.post("/api/auth/login", json={"username": "op1", "password": PASSWORD}).status_code == 200
    return client


def count(c: Container, sql: str, **params: Any) -> int:
    with c.engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


@pytest.mark.parametrize("code", [STREET, YIHU, SJN])
def test_the_alarm_layer_shows_each_active_alarm_at_its_device_by_severity(iot: Container, code: str) -> None:
    op = iot.auth.principal("op1")
    points = iot.screen.layer(op, iot.screen.focus(op, code), "alarms")
    want = count(iot, "SELECT COUNT(*) FROM alarms a JOIN devices d ON d.device_id = a.device_id "
                      "WHERE a.active = :yes AND a.area_path LIKE :p", yes=True, p=path_of(iot, code) + "%")
    assert len(points) == want > 0
    by_type = {p.label: p for p in points}
    if code in (STREET, YIHU):
        gas = by_type["gas_leak"]
        assert (gas.cls, gas.rank, gas.lon, gas.lat) == ("critical", 4, 104.0031, 30.0031)
    if code in (STREET, SJN):
        assert (by_type["smoke"].cls, by_type["smoke"].rank) == ("major", 3)
    assert [p.rank for p in points] == sorted(p.rank for p in points)  # the most severe drawn on top


def test_a_cleared_alarm_leaves_the_layer_and_the_tail_says_so(iot: Container) -> None:
    op = iot.auth.principal("op1")
    focus = iot.screen.focus(op)
    with iot.sessions() as session:
        raised = TAILS["alarms"](session, 0, (), NOW, 100)
    assert [(e.kind, e.cls, e.layer, e.point_id != "") for e in raised] == [
        ("alarm.raised", "critical", "alarms", True), ("alarm.raised", "major", "alarms", True)]
    iot.alarms.apply([clear(at=T0 + 300)], facts_of(iot).get)
    assert {p.label for p in iot.screen.layer(op, focus, "alarms")} == {"smoke"}
    with iot.sessions() as session:
        later = TAILS["alarms"](session, raised[-1].seq, (), NOW, 100)
    assert [(e.kind, e.cls, e.point_id) for e in later] == [("alarm.cleared", None, raised[0].point_id)]
    feed = iot.screen.panels(op, focus, ["feed"])["feed"]
    assert [e.kind for e in feed if e.tail == "alarms"] == ["alarm.cleared", "alarm.raised", "alarm.raised"]
    assert Cursor({"alarms": later[0].seq}).covers(Cursor({"alarms": raised[-1].seq}))


def test_the_device_layer_classes_devices_by_status_and_alarm(iot: Container) -> None:
    op = iot.auth.principal("op1")
    street = {p.id: p.cls for p in iot.screen.layer(op, iot.screen.focus(op), "devices")}
    assert street == {"gas-1": "alarm", "smoke-2": "alarm", "meter-4": "offline"}  # old-9 is retired
    assert len(street) == count(iot, "SELECT COUNT(*) FROM devices WHERE active = :yes", yes=True)
    yihu = {p.id for p in iot.screen.layer(op, iot.screen.focus(op, YIHU), "devices")}
    assert yihu == {"gas-1", "meter-4"}


def test_a_community_operator_sees_its_communitys_alarms_only(iot: Container) -> None:
    yihu = iot.auth.principal("yihu")
    focus = iot.screen.focus(yihu)
    assert {p.label for p in iot.screen.layer(yihu, focus, "alarms")} == {"gas_leak"}
    assert all(e.area_path.startswith(focus.path) for e in iot.screen.panels(yihu, focus, ["feed"])["feed"])


def test_severity_ranks_grow_with_severity() -> None:
    assert [rank(s.value) for s in Severity] == [4, 3, 2, 1, 0]
    assert rank("no-such-severity") == 0


def test_http_layers_and_feed_name_alarm_and_device_types(iot: Container) -> None:
    client = signed_in(iot)
    alarms = client.get("/api/screen/layers/alarms").json()["points"]
    assert {(row[3], row[4], row[5]) for row in alarms} == {("燃气泄漏", "critical", 4), ("烟雾报警", "major", 3)}
    devices = client.get("/api/screen/layers/devices", params={"lang": "en"}).json()["points"]
    assert {row[2] for row in devices} == {"gas-1", "smoke-2", "meter-4"} and all(row[3] for row in devices)
    events = client.get("/api/screen/panels", params={"ids": "feed"}).json()["panels"]["feed"]["events"]
    gas = next(e for e in events if e["kind"] == "alarm.raised" and e["severity"] == "critical")
    assert (gas["title"], gas["action_label"], gas["state_label"]) == ("燃气泄漏", "产生告警", "紧急")
    assert gas["link"] == f"/alarms/{gas['point_id']}" and gas["layer"] == "alarms" and gas["cls"] == "critical"
    assert gas["lon"] == pytest.approx(104.0031) and gas["community"] == "怡湖社区"


def test_above_the_detail_limit_devices_are_drawn_as_one_bucket_per_grid(iot: Container,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chengyun.screen.iot.MAX_DEVICES", 2)  # the demo limit is 5,000; three devices exceed 2
    op = iot.auth.principal("op1")
    buckets = {p.id: p for p in iot.screen.layer(op, iot.screen.focus(op), "devices")}
    assert set(buckets) == {YIHU_GRID, SJN_GRID}  # the street's grandchildren that hold devices
    for code, bucket in buckets.items():
        inside = count(iot, "SELECT COUNT(*) FROM devices WHERE active = :yes AND area_path LIKE :p", yes=True,
                       p=path_of(iot, code) + "%")
        centre = iot.areas.get(op, code)
        assert bucket.count == inside and (bucket.lon, bucket.lat) == (centre.center_lon, centre.center_lat)
    assert dict(buckets[YIHU_GRID].tally) == {"alarm": 1, "offline": 1} and buckets[YIHU_GRID].cls == "alarm"
    assert sum(b.count for b in buckets.values()) == count(iot, "SELECT COUNT(*) FROM devices WHERE active = :yes",
                                                           yes=True)
    client = signed_in(iot)
    body = client.get("/api/screen/layers/devices").json()
    assert body["aggregated"] is True and body["total"] == 3
    yihu = next(row for row in body["points"] if row[2] == YIHU_GRID)
    assert yihu[7] == 2 and yihu[3].endswith("2 台（告警 1 · 离线 1）") and yihu[4] == "alarm"


RESOURCES = [PlaceDraft(1, "res-hydrant-1", "poi", "消防栓DW-001", "fire_hydrant", 104.0033, 30.0033, "", (), ()),
             PlaceDraft(2, "res-shelter-1", "poi", "应急避难场所", "shelter", 104.0152, 30.0022, "", (), ()),
             PlaceDraft(3, "poi-school", "poi", "大弯小学", "school", 104.0034, 30.0034, "", (), ())]


def test_the_resource_layer_shows_the_emergency_resources_in_the_focus(iot: Container) -> None:
    iot.places.import_drafts(RESOURCES, source="test", actor="test")
    op = iot.auth.principal("op1")
    street = {p.id: p for p in iot.screen.layer(op, iot.screen.focus(op), "resources")}
    assert set(street) == {"res-hydrant-1", "res-shelter-1"}  # a school is no emergency resource
    assert len(street) == count(iot, "SELECT COUNT(*) FROM places WHERE category IN ('fire_hydrant', 'shelter', "
                                     "'fire', 'micro_fire_station', 'aed', 'supplies', 'outfall')")
    hydrant = street["res-hydrant-1"]
    area = count(iot, "SELECT COUNT(*) FROM places WHERE code = 'res-hydrant-1' AND area_code = :a", a=YIHU_GRID)
    assert (hydrant.cls, hydrant.label, hydrant.link, area) == ("fire_hydrant", "消防栓DW-001",
                                                               f"/cases?area={YIHU_GRID}", 1)
    assert {p.id for p in iot.screen.layer(op, iot.screen.focus(op, YIHU), "resources")} == {"res-hydrant-1"}


def test_a_device_point_opens_the_device_page_with_its_alarms_within_scope(iot: Container) -> None:
    client = TestClient(create_app(iot))
    assert client.post("/api/auth/login", json={"username": "op1", "password": PASSWORD}).status_code == 200
    page = client.get("/devices/gas-1", headers={"Accept": "text/html"})
    assert page.status_code == 200
    alarm_id = next(a.id for a in iot.alarms.search(iot.auth.principal("op1"))[1] if a.device_id == "gas-1")
    assert f'href="/alarms/{alarm_id}"' in page.text and "燃气泄漏" in page.text and "在线" in page.text
    assert "怡湖社区" in page.text and "告警（共 1 条）" in page.text
    assert client.get("/devices/meter-4", headers={"Accept": "text/html"}).text.count('data-alarm="') == 0
    yihu = TestClient(create_app(iot))
    assert yihu.post("/api/auth/login", json={"username": "yihu", "password": PASSWORD}).status_code == 200
    assert yihu.get("/devices/smoke-2", headers={"Accept": "text/html"}).status_code == 404  # 石家碾's device


def test_the_case_queue_narrows_to_an_area_of_the_scope(iot: Container) -> None:
    iot.alarms.open_cases_due()  # the gas alarm's case in 怡湖, the smoke alarm's in 石家碾
    client = TestClient(create_app(iot))
    assert client.post("/api/auth/login", json={"username": "op1", "password": PASSWORD}).status_code == 200
    html = {"Accept": "text/html"}
    everywhere = set(re.findall(r'href="/cases/(QY-[0-9-]+)"', client.get("/cases", headers=html).text))
    in_yihu = set(re.findall(r'href="/cases/(QY-[0-9-]+)"', client.get(f"/cases?area={YIHU}", headers=html).text))
    want = count(iot, "SELECT COUNT(*) FROM cases WHERE area_path LIKE :p", p=path_of(iot, YIHU) + "%")
    assert len(everywhere) == 2 and len(in_yihu) == want == 1 and in_yihu < everywhere
    yihu = TestClient(create_app(iot))
    assert yihu.post("/api/auth/login", json={"username": "yihu", "password": PASSWORD}).status_code == 200
    assert yihu.get(f"/cases?area={SJN}", headers=html).status_code == 404  # not its scope
