"""The issue's "done when": a gas leak in the demo street, end to end through the real wiring on SQLite and
PostgreSQL — device messages → rule → alarm → case opened → every party of the plan notified → escalation when
nobody acknowledges → acknowledgement stops it and reaches the case timeline; traceable by the alarm id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from chengyun.alarms.tables import AlarmRow
from chengyun.bootstrap import Container, bootstrap
from chengyun.config import Settings
from chengyun.demo.devices_live import LiveDevices
from chengyun.demo.load import ensure_demo
from chengyun.ingest.service import demo_sim_devices
from chengyun.ingest.simulator import Scenario, Simulator
from chengyun.intake.tables import ReportRow
from chengyun.linkage.tables import LinkageRunRow, NotificationRow
from chengyun.shared.clock import FixedClock
from chengyun.web.app import create_app

TIER0 = {"family", "grid_worker", "community", "center", "liaison"}


@pytest.fixture
def street(settings: Settings, engine: Engine) -> tuple[Container, FixedClock]:
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    container = bootstrap(settings, clock=clock, engine=engine)
    container.passwords = {a.username: a.password  # type: ignore[attr-defined]
                           for a in ensure_demo(container, echo=lambda _: None)}
    return container, clock


def _leak(container: Container, clock: FixedClock) -> str:
    """A gas detector in an elderly resident's home (it has family contacts) leaks for two minutes."""
    directory = container.devices.directory()
    devices = demo_sim_devices(container)
    home = next(d for d in devices if d.type_code == "gas_detector"
                and (f := directory.facts(d.device_id)) is not None and f.resident_id is not None)
    sim = Simulator(devices)
    sim.inject(Scenario.GAS_LEAK, clock.now().timestamp(), home.device_id)
    gateway = container.ingest_gateway()
    for _ in range(24):
        now = clock.now().timestamp()
        message = sim.message(home, now)
        assert message is not None
        outcome = gateway.submit(*message, now)
        assert outcome.status.value in {"accepted", "duplicate"}, outcome
        clock.advance(timedelta(seconds=5))
    return home.device_id


def test_a_gas_leak_opens_a_case_notifies_every_party_escalates_and_is_traceable(
        street: tuple[Container, FixedClock]) -> None:
    container, clock = street
    device_id = _leak(container, clock)
    with container.engine.connect() as conn:
        alarm = conn.execute(select(AlarmRow).where(AlarmRow.device_id == device_id,
                                                    AlarmRow.alarm_type == "gas_leak")).one()
        run = conn.execute(select(LinkageRunRow).where(LinkageRunRow.alarm_id == alarm.id)).one()
        notices = conn.execute(select(NotificationRow).where(NotificationRow.run_id == run.id)).all()
    assert alarm.active and alarm.severity == "critical" and not alarm.acknowledged
    assert alarm.case_state == "opened" and alarm.case_number
    # every party of tier 0 at once, the in-app ones delivered by the commit
    assert {n.recipient_kind for n in notices if n.tier == 0} >= TIER0
    assert {n.recipient_name for n in notices if n.recipient_kind == "liaison"} >= {"fire", "gas"}
    assert run.first_notified_at is not None and run.place_label
    # the grid and microgrid workers on the roster get an SMS (masked on screens), the center in-app
    roster = {(n.recipient_kind, n.recipient_label.split("（")[-1].split("）")[0]) for n in notices
              if n.channel == "sms" and "****" in n.recipient_label}
    assert {("grid_worker", "微网格员"), ("grid_worker", "网格员")} <= roster
    assert any(n.recipient_kind == "community" and n.channel == "sms" for n in notices)
    assert any(n.recipient_kind == "center" and n.channel == "in_app" and n.status == "sent" for n in notices)
    family = [n for n in notices if n.recipient_kind == "family"]
    assert family and all("****" in n.recipient_label for n in family)  # phones masked on screens
    # the case came in through intake as a sensor report that names the alarm
    with container.engine.connect() as conn:
        report = conn.execute(select(ReportRow).where(ReportRow.external_system == "alarms",
                                                      ReportRow.external_id == str(alarm.id))).one()
    assert report.source == "sensor" and report.channel == "iot" and report.case_number == alarm.case_number
    # nobody acknowledges: after 5 minutes the street and the police follow
    clock.advance(timedelta(minutes=6))
    container.run_iot_jobs()
    with container.engine.connect() as conn:
        later = conn.execute(select(NotificationRow).where(NotificationRow.run_id == run.id)).all()
        tier = conn.execute(select(LinkageRunRow.current_tier).where(LinkageRunRow.id == run.id)).scalar_one()
    assert tier >= 1 and {(n.recipient_kind, n.recipient_name) for n in later if n.tier == 1} >= {
        ("street", ""), ("liaison", "police")}
    # the operator acknowledges on the console: escalation stops, the case timeline says so
    operator = container.auth.principal("operator")
    container.alarms.acknowledge(operator, alarm.id, "已通知燃气公司关阀")
    clock.advance(timedelta(minutes=10))
    container.run_iot_jobs()
    with container.engine.connect() as conn:
        state, final_tier = conn.execute(select(LinkageRunRow.state, LinkageRunRow.current_tier)
                                         .where(LinkageRunRow.id == run.id)).one()
    assert state == "acknowledged" and final_tier == tier
    _, timeline = container.cases.get(operator, alarm.case_number)
    notes = [entry.note for entry in timeline if entry.action == "note"]
    assert any("已通知燃气公司关阀" in (note or "") for note in notes)


def test_a_cleared_leak_closes_its_plan_and_a_restarted_engine_still_clears_it(
        street: tuple[Container, FixedClock], settings: Settings, engine: Engine) -> None:
    container, clock = street
    device_id = _leak(container, clock)
    # a new process (the old engine's memory is gone) takes the active alarm over from the database
    restarted = bootstrap(settings, clock=clock, engine=engine)
    gateway = restarted.ingest_gateway()
    token = next(d.token for d in demo_sim_devices(restarted) if d.device_id == device_id)
    now = clock.now().timestamp()
    body = f'{{"msg_id": "calm-1", "ts": {now}, "token": "{token}", "values": {{"gas_lel": 0.5}}}}'.encode()
    assert gateway.submit(f"chengyun/gas_detector/{device_id}/telemetry", body, now).status.value == "accepted"
    with restarted.engine.connect() as conn:
        alarm = conn.execute(select(AlarmRow).where(AlarmRow.device_id == device_id,
                                                    AlarmRow.alarm_type == "gas_leak")).one()
        run_state = conn.execute(select(LinkageRunRow.state).where(LinkageRunRow.alarm_id == alarm.id)).scalar_one()
    assert not alarm.active and alarm.cleared_at is not None
    assert run_state == "closed"


def test_an_operator_starts_a_gas_leak_drill_from_the_alarm_page_of_the_served_demo(
        street: tuple[Container, FixedClock]) -> None:
    container, clock = street
    app = create_app(container)
    client = TestClient(app)
    passwords = container.passwords  # type: ignore[attr-defined]
    login = client.post("/api/auth/login", json={"username": "operator", "password": passwords["operator"]})
    csrf = login.json()["csrf_token"]
    assert 'data-testid="drill"' not in client.get("/alarms").text  # not a demo server: no drill offered
    refused = client.post("/demo/drill", data={"scenario": "gas_leak", "csrf_token": csrf}, follow_redirects=False)
    assert refused.status_code == 409
    moments = iter(clock.now().timestamp() + 5 * i for i in range(100))
    app.state.demo_devices = live = LiveDevices(container, rate=5, scenarios_per_hour=0, clock=lambda: next(moments))
    page = client.get("/alarms").text
    assert 'data-testid="drill"' in page and "燃气泄漏" in page
    bad = client.post("/demo/drill", data={"scenario": "meteor", "csrf_token": csrf}, follow_redirects=False)
    assert bad.status_code == 422 and "meteor" in bad.text
    started = client.post("/demo/drill", data={"scenario": "gas_leak", "csrf_token": csrf}, follow_redirects=False)
    assert started.status_code == 303 and started.headers["location"] == "/alarms"
    device_id = live.scenarios[-1][2]
    for _ in range(30):
        live.tick()
    with container.engine.connect() as conn:
        alarm = conn.execute(select(AlarmRow).where(AlarmRow.device_id == device_id,
                                                    AlarmRow.alarm_type == "gas_leak")).one()
    assert alarm.active and alarm.case_number
    assert device_id in client.get("/alarms").text
    with container.engine.connect() as conn:  # the drill picks a cared-for home: the family is notified too
        kinds = set(conn.scalars(select(NotificationRow.recipient_kind).join(
            LinkageRunRow, LinkageRunRow.id == NotificationRow.run_id).where(LinkageRunRow.alarm_id == alarm.id)
            .where(NotificationRow.channel != "none")))
    assert kinds >= TIER0


def test_a_plan_that_failed_to_start_or_to_close_is_redone_by_the_iot_jobs(
        street: tuple[Container, FixedClock], monkeypatch: pytest.MonkeyPatch) -> None:
    container, clock = street
    real_start, real_close = container.linkage.start, container.linkage.close

    def broken(*_: object, **__: object) -> None:
        raise ConnectionError("linkage store unreachable")

    monkeypatch.setattr(container.linkage, "start", broken)
    device_id = _leak(container, clock)
    with container.engine.connect() as conn:
        alarm_id = conn.execute(select(AlarmRow.id).where(AlarmRow.device_id == device_id,
                                                          AlarmRow.active)).scalar_one()
        assert conn.execute(select(LinkageRunRow).where(LinkageRunRow.alarm_id == alarm_id)).first() is None
    monkeypatch.setattr(container.linkage, "start", real_start)
    assert container.responder.catch_up() == 1  # the alarm is kept; its plan starts on the next IoT tick
    monkeypatch.setattr(container.linkage, "close", broken)
    container.alarms.clear(container.auth.principal("operator"), alarm_id, "误报，已核实")
    with container.engine.connect() as conn:  # the manual clear's listener failed: the plan is still open
        assert conn.execute(select(LinkageRunRow.state).where(LinkageRunRow.alarm_id == alarm_id)).scalar_one() \
            != "closed"
    monkeypatch.setattr(container.linkage, "close", real_close)
    container.run_iot_jobs()
    with container.engine.connect() as conn:
        state = conn.execute(select(LinkageRunRow.state).where(LinkageRunRow.alarm_id == alarm_id)).scalar_one()
    assert state == "closed"
