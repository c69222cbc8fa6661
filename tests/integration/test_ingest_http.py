"""HTTP ingestion over the test client on SQLite and PostgreSQL: the same pipeline and codes as MQTT, the alarm
stored before the answer; the quarantine store, the migration and the CLI."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from chengyun.alarms.tables import AlarmRow
from chengyun.bootstrap import Container, bootstrap
from chengyun.cli import app as cli_app
from chengyun.config import Settings
from chengyun.db.base import Base
from chengyun.ingest.model import CounterSnapshot, quarantine_record
from chengyun.ingest.repository import QuarantineStore
from chengyun.web.app import create_app
from tests.conftest import SECRET, tiny_district_drafts
from tests.integration.ingest_fixtures import body, register


@pytest.fixture
def street(tiny_district: Container) -> Container:
    tiny_district.categories.ensure_default()
    register(tiny_district, [("GD-1", "gas_detector"), ("SOS-1", "sos_button")])
    return tiny_district


@pytest.fixture
def client(street: Container) -> TestClient:
    return TestClient(create_app(street))


def post(client: TestClient, path: str, payload: bytes, **headers: str) -> Any:
    return client.post(f"/api/ingest/{path}", content=payload,
                       headers={"content-type": "application/json", **headers})


def test_a_device_posts_its_message_and_the_alarm_is_stored_before_the_answer(client: TestClient,
                                                                              street: Container) -> None:
    now = time.time()
    ok = post(client, "gas_detector/GD-1/telemetry", body("h1", now, gas_lel=1.5))
    assert (ok.status_code, ok.json()) == (202, {"status": "accepted", "transitions": 0})
    leak = post(client, "gas_detector/GD-1/telemetry", body("h2", now + 1, gas_lel=40.0))
    assert (leak.status_code, leak.json()["transitions"]) == (202, 1)
    with street.sessions() as session:
        alarms = session.execute(select(AlarmRow.device_id, AlarmRow.alarm_type, AlarmRow.active)).all()
    assert [tuple(a) for a in alarms] == [("GD-1", "gas_leak", True)]
    again = post(client, "gas_detector/GD-1/telemetry", body("h2", now + 1, gas_lel=40.0))
    assert (again.status_code, again.json()["status"]) == (202, "duplicate")


@pytest.mark.parametrize(("path", "payload", "status", "code"), [
    ("gas_detector/GD-1/telemetry", b"{oops", 400, "devices.payload.not_json"),
    ("gas_detector/GD-1/telemetry", body("x1", time.time(), gas_lel=900.0), 400, "devices.payload.out_of_range"),
    ("gas_detector/GD-1/status", body("x2", time.time(), gas_lel=1.0), 400, "ingest.topic.bad_kind"),
    ("smoke_detector/GD-1/telemetry", body("x3", time.time(), smoke=True), 400, "ingest.device.type_mismatch"),
    ("gas_detector/NOBODY/telemetry", body("x4", time.time(), gas_lel=1.0), 404, "ingest.device.unknown"),
    ("gas_detector/GD-1/telemetry", body("x5", time.time(), token="nope", gas_lel=1.0), 401,
     "ingest.credential.invalid"),
])
def test_refusals_answer_precisely_and_are_quarantined(client: TestClient, street: Container, path: str,
                                                       payload: bytes, status: int, code: str) -> None:
    answer = post(client, path, payload, **{"accept-language": "en"})
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["code"] == code and error["message"] and not error["message"].startswith("ingest.")
    [row] = QuarantineStore(street.engine).recent()
    assert (row.reason, row.topic, row.payload, row.worker_id) == (code, f"chengyun/{path}", payload, "http")


def test_a_body_over_the_limit_is_refused_unread(client: TestClient) -> None:
    answer = post(client, "gas_detector/GD-1/telemetry", b"x" * (70 * 1024))
    assert (answer.status_code, answer.json()["error"]["code"]) == (413, "ingest.body_too_large")


def test_the_quarantine_store_counts_lists_keeps_worker_counters_and_prunes(container: Container) -> None:
    store = QuarantineStore(container.engine)
    now = time.time()
    records = [quarantine_record("chengyun/a/b/telemetry", b"\x00\xffbinary", "devices.payload.not_json",
                                 {"msg": "bad", "nested": {"x": 1}}, now - 100, "w1", "b"),
               quarantine_record("chengyun/a/c/telemetry", b"{}", "ingest.device.unknown", {"device_id": "c"}, now,
                                 "w2", "c"),
               quarantine_record("chengyun/a/c/telemetry", b"{}", "ingest.device.unknown", {"device_id": "c"}, now,
                                 "w2", "c")]
    assert store.add(records) == 3
    assert store.counts() == {"ingest.device.unknown": 2, "devices.payload.not_json": 1}
    latest = store.recent(limit=2)
    assert [r.reason for r in latest] == ["ingest.device.unknown"] * 2
    oldest = store.recent(reason="devices.payload.not_json")[0]
    assert (oldest.payload, oldest.params, oldest.device_id) == (b"\x00\xffbinary",
                                                                 {"msg": "bad", "nested": "{'x': 1}"}, "b")
    store.save_counters("w1", now - 60, now, CounterSnapshot(5, 1, {"x": 2}, 0, 1))
    store.save_counters("w1", now - 60, now + 5, CounterSnapshot(7, 1, {"x": 2}, 3, 1))
    [worker] = store.workers()
    assert (worker.worker_id, worker.counters.accepted, worker.counters.shed) == ("w1", 7, 3)
    assert store.prune(before=datetime.fromtimestamp(now - 50, UTC)) == 1
    assert store.counts() == {"ingest.device.unknown": 2}


def test_the_migration_creates_exactly_the_mapped_tables(engine: Any) -> None:
    def ours(name: str | None, type_: str, *_: Any) -> bool:
        return type_ != "table" or (name or "").startswith("ingest_")

    opts = {"compare_type": True, "include_name": ours, "include_object": lambda obj, name, type_, *_: ours(
        name, type_)}
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata) == []


def test_the_cli_lists_quarantined_messages_with_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHENGYUN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHENGYUN_SECRET_KEY", SECRET)
    monkeypatch.setenv("CHENGYUN_LANG", "en")
    container = bootstrap(Settings(env="dev", secret_key=SECRET, data_dir=tmp_path))
    container.migrate()
    container.areas.import_drafts(tiny_district_drafts(), actor="test")
    store = QuarantineStore(container.engine)
    store.add([quarantine_record("chengyun/gas_detector/X9/telemetry", b'{"msg_id": "1"}', "ingest.device.unknown",
                                 {"device_id": "X9"}, time.time(), "w7", "X9")])
    store.save_counters("w7", time.time(), time.time(), CounterSnapshot(10, 2, {"ingest.device.unknown": 1}, 0, 0))
    result = CliRunner().invoke(cli_app, ["ingest", "quarantine"])
    assert result.exit_code == 0, result.output
    assert "ingest.device.unknown" in result.output and "Device X9 is not registered" in result.output
    assert "w7" in result.output and "accepted=10 duplicate=2 quarantined=1" in result.output
    bad = CliRunner().invoke(cli_app, ["ingest", "run", "--partition", "3/2"])
    assert bad.exit_code == 2 and "cli.ingest.bad_partition" in bad.output


def test_the_simulator_cli_runs_in_process_and_its_smoke_scenario_raises_an_alarm(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chengyun.devices.demo import demo_token
    from chengyun.ingest.simulator import synthetic_devices

    for key, value in {"CHENGYUN_DATA_DIR": str(tmp_path), "CHENGYUN_SECRET_KEY": SECRET, "CHENGYUN_LANG": "en",
                       "CHENGYUN_MQTT_URL": ""}.items():
        monkeypatch.setenv(key, value)
    container = bootstrap(Settings(env="dev", secret_key=SECRET, data_dir=tmp_path))
    container.migrate()
    container.areas.import_drafts(tiny_district_drafts(), actor="test")
    sims = synthetic_devices(12, lambda d: demo_token(SECRET, d))
    smoke = next(d for d in sims if d.type_code == "smoke_detector")
    register(container, [(d.device_id, d.type_code) for d in sims], issue=lambda d: demo_token(SECRET, d))
    result = CliRunner().invoke(cli_app, ["simulate", "devices", "--synthetic", "--count", "12", "--rate", "100",
                                          "--duration", "1.5", "--scenario", "smoke", "--device", smoke.device_id])
    assert result.exit_code == 0, result.output
    assert f"device {smoke.device_id} starts the scenario smoke" in result.output and "Sent " in result.output
    with container.sessions() as session:
        alarms = session.execute(select(AlarmRow.device_id, AlarmRow.alarm_type)).all()
    assert (smoke.device_id, "smoke") in [tuple(a) for a in alarms]
    assert QuarantineStore(container.engine).counts() == {}
