"""Ingestion against the real broker (Mosquitto at 127.0.0.1:1883): publish → consumer → pipeline → sink;
redeliveries, quarantine and shedding; two worker processes sharing one subscription."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from chengyun.adapters.mqtt import Broker, MqttConsumer
from chengyun.adapters.mqtt_publish import MqttPublisher
from chengyun.alarms.engine import RuleEngine
from chengyun.alarms.rules import default_rules
from chengyun.alarms.signals import Transition
from chengyun.bootstrap import Container, bootstrap
from chengyun.config import Settings
from chengyun.db.engine import make_engine
from chengyun.db.migrate import upgrade
from chengyun.devices.model import DeviceFacts, Reading
from chengyun.devices.payload import read_message
from chengyun.devices.tables import DeviceRow
from chengyun.ingest.model import subscription
from chengyun.ingest.pipeline import Pipeline
from chengyun.ingest.repository import QuarantineStore
from chengyun.ingest.service import make_pipeline
from chengyun.workers.mqtt_ingest import BatchPolicy, IngestWorker
from tests.conftest import SECRET, tiny_district_drafts
from tests.integration.ingest_fixtures import BROKER, TOKEN, body, need_broker, register, unique
from tests.unit.test_ingest_pipeline import FakeDirectory

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _broker() -> None:
    need_broker()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll until `condition` holds; fail with `what` when it never does (a hang guard, not a speed check)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class Running:
    """A consumer and a worker thread around a pipeline, on a fresh shared-subscription group."""

    def __init__(self, pipeline: Pipeline, *, queue_size: int = 20_000) -> None:
        self.pipeline = pipeline
        self.group = unique("g")
        self.consumer = MqttConsumer(
            Broker.parse(BROKER), client_id=unique("c-"), topic_filter=subscription(self.group),
            on_shed=lambda shed, at: pipeline.shed([(t, p) for t, p, _ in shed], at, reason={"queue": queue_size}),
            queue_size=queue_size)
        self.worker = IngestWorker(self.consumer, pipeline, BatchPolicy(max_wait_s=0.01))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.worker.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> Running:
        self.consumer.start()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.consumer.stop()


@pytest.fixture
def publisher() -> Iterator[MqttPublisher]:
    pub = MqttPublisher(BROKER, client_id=unique("p-")).connect()
    yield pub
    pub.close()


def gas(device: str) -> str:
    return f"chengyun/gas_detector/{device}/telemetry"


def memory_pipeline(sink: Callable[[list[Transition]], object], **kwargs: Any) -> Pipeline:
    directory = FakeDirectory({f"GD{k}": ("gas_detector", TOKEN) for k in range(20)})
    return Pipeline(directory, read_message, kwargs.pop("engine", None) or RuleEngine(default_rules()), sink,
                    **kwargs)


def test_a_gas_leak_goes_from_the_broker_to_the_sink_and_a_redelivery_changes_nothing(
        publisher: MqttPublisher) -> None:
    stored: list[Transition] = []
    pipeline = memory_pipeline(stored.extend)
    run = unique("m")
    now = time.time()
    with Running(pipeline):
        for k in range(200):
            publisher.publish(gas(f"GD{k % 20}"), body(f"{run}-{k}", now, gas_lel=1.0))
        leak = body(f"{run}-leak", now + 1, gas_lel=32.5)
        publisher.publish(gas("GD7"), leak)
        publisher.publish(gas("GD7"), leak)  # the device re-sent it (its PUBACK was lost): same msg_id
        assert publisher.wait(10)
        wait_for(lambda: pipeline.counters().received >= 202, "202 messages")
        wait_for(lambda: bool(stored), "the gas-leak transition")
    counters = pipeline.counters()
    assert (counters.accepted, counters.duplicate, counters.total_quarantined) == (201, 1, 0)
    assert [(t.device_id, t.alarm_type, t.change.value) for t in stored] == [("GD7", "gas_leak", "fire")]


def test_bad_messages_are_quarantined_in_the_table_while_good_ones_pass(container: Container,
                                                                         publisher: MqttPublisher) -> None:
    container.areas.import_drafts(tiny_district_drafts(), actor="test")
    register(container, [("GD-1", "gas_detector"), ("SOS-1", "sos_button")])
    stored: list[Transition] = []
    pipeline = make_pipeline(container, worker_id="t1", sink=stored.extend)
    run, now = unique("m"), time.time()
    bad = [(gas("GD-1"), b"{not json"), (gas("NOBODY"), body(f"{run}-2", now, gas_lel=1.0)),
           (gas("GD-1"), body(f"{run}-3", now, token="wrong", gas_lel=1.0)),
           ("chengyun/smoke_detector/GD-1/telemetry", body(f"{run}-4", now, smoke=True))]
    with Running(pipeline):
        publisher.publish(gas("GD-1"), body(f"{run}-1", now, gas_lel=1.0))
        for topic, payload in bad:
            publisher.publish(topic, payload)
        publisher.publish(gas("GD-1"), body(f"{run}-5", now, gas_lel=25.0))
        publisher.publish("chengyun/sos_button/SOS-1/event", body(f"{run}-6", now, event="sos_pressed"))
        assert publisher.wait(10)
        wait_for(lambda: pipeline.counters().received >= 7 and not pipeline.pending, "7 messages stored")
    counters = pipeline.counters()
    assert counters.accepted == 3
    assert counters.quarantined == {"devices.payload.not_json": 1, "ingest.device.unknown": 1,
                                    "ingest.credential.invalid": 1, "ingest.device.type_mismatch": 1}
    assert sorted((t.device_id, t.alarm_type) for t in stored) == [("GD-1", "gas_leak"), ("SOS-1", "sos")]
    rows = QuarantineStore(container.engine).recent(limit=10)
    assert sorted((r.reason, r.topic, r.payload, r.worker_id) for r in rows) == sorted(
        (code, topic, payload, "t1") for code, (topic, payload) in zip(
            ["devices.payload.not_json", "ingest.device.unknown", "ingest.credential.invalid",
             "ingest.device.type_mismatch"], bad, strict=True))
    with container.sessions() as session:  # last-seen times reached the device service (after the final flush)
        seen = dict(session.execute(select(DeviceRow.device_id, DeviceRow.last_seen_at)).all())
    assert seen["GD-1"] is not None and seen["SOS-1"] is not None


class SlowEngine(RuleEngine):
    """The default rules, 5 ms a reading: the consumer's queue fills during a burst."""

    def feed(self, reading: Reading, device: DeviceFacts) -> list[Transition]:
        time.sleep(0.005)
        return super().feed(reading, device)


def test_a_burst_beyond_the_queue_is_shed_visibly_and_nothing_is_lost_silently(publisher: MqttPublisher) -> None:
    shed_records: list[Any] = []
    pipeline = memory_pipeline(lambda ts: None, engine=SlowEngine(default_rules()),
                               quarantine=shed_records.extend)
    run, now = unique("m"), time.time()
    with Running(pipeline, queue_size=20):
        for k in range(400):
            publisher.publish(gas(f"GD{k % 20}"), body(f"{run}-{k}", now, gas_lel=1.0))
        assert publisher.wait(10)
        wait_for(lambda: pipeline.counters().received >= 400, "every message accounted for", timeout=60)
    counters = pipeline.counters()
    assert counters.shed > 0 and counters.accepted > 0
    assert counters.accepted + counters.shed == 400
    recorded = [r for r in shed_records if r.code == "ingest.shed"]
    assert len(recorded) == counters.shed and recorded[0].params == {"queue": 20}


# --- two worker processes sharing the load ----------------------------------------------------------------


@pytest.fixture
def sqlite_street(tmp_path: Path) -> Container:
    """A migrated SQLite file with the tiny district and 20 registered gas detectors (the workers' database)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'chengyun.db'}")
    upgrade(engine)
    container = bootstrap(Settings(env="dev", secret_key=SECRET, data_dir=tmp_path / "var"), engine=engine)
    container.areas.import_drafts(tiny_district_drafts(), actor="test")
    register(container, [(f"GD{k}", "gas_detector") for k in range(20)])
    return container


def start_worker(tmp_path: Path, group: str, worker_id: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CHENGYUN_DATABASE_URL": f"sqlite:///{tmp_path / 'chengyun.db'}",
           "CHENGYUN_SECRET_KEY": SECRET, "CHENGYUN_DATA_DIR": str(tmp_path / "var"), "CHENGYUN_LANG": "en"}
    return subprocess.Popen(
        [sys.executable, "-c", "from chengyun.cli import app; app()", "ingest", "run", "--broker", BROKER,
         "--group", group, "--worker-id", worker_id], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_two_worker_processes_share_a_subscription_each_message_once(sqlite_street: Container, tmp_path: Path,
                                                                    publisher: MqttPublisher) -> None:
    group = unique("g")
    workers = [start_worker(tmp_path, group, f"{group}-{w}") for w in ("a", "b")]
    store = QuarantineStore(sqlite_street.engine)
    try:
        wait_for(lambda: len(store.workers()) == 2, "both workers running", timeout=60)
        run, now = unique("m"), time.time()
        for k in range(1000):
            publisher.publish(gas(f"GD{k % 20}"), body(f"{run}-{k}", now, gas_lel=1.0))
        for k in range(200):  # refused, so each is recorded with the worker that received it
            publisher.publish(gas(f"UNKNOWN{k}"), body(f"{run}-u{k}", now, gas_lel=1.0))
        assert publisher.wait(10)
        wait_for(lambda: len(store.recent(limit=1000, reason="ingest.device.unknown")) >= 200,
                 "200 quarantined messages", timeout=30)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=30) for proc in workers]
    assert [proc.returncode for proc in workers] == [0, 0], outputs
    stats = {w.worker_id: w.counters for w in store.workers()}
    accepted = [stats[f"{group}-{w}"].accepted for w in ("a", "b")]
    assert sum(accepted) == 1000 and min(accepted) > 0, accepted  # each got some, together all
    refused = [r for r in store.recent(limit=1000, reason="ingest.device.unknown") if run in r.payload.decode()]
    ids = [json.loads(r.payload)["msg_id"] for r in refused]
    assert sorted(ids) == sorted(f"{run}-u{k}" for k in range(200))  # every one exactly once
    by_worker = {r.worker_id for r in refused}
    assert by_worker == {f"{group}-a", f"{group}-b"}


def test_the_consumer_reconnects_and_resubscribes_after_the_connection_drops(publisher: MqttPublisher) -> None:
    pipeline = memory_pipeline(lambda ts: None)
    run, now = unique("m"), time.time()
    with Running(pipeline) as running:
        publisher.publish(gas("GD1"), body(f"{run}-1", now, gas_lel=1.0))
        assert publisher.wait(10)
        wait_for(lambda: pipeline.counters().accepted == 1, "the first message")
        generation = running.consumer.generation
        sock = running.consumer.client.socket()
        assert sock is not None
        sock.shutdown(2)  # the network drops the connection under the client
        wait_for(lambda: running.consumer.generation > generation and running.consumer.connected, "reconnected")
        publisher.publish(gas("GD1"), body(f"{run}-2", now + 1, gas_lel=1.0))
        assert publisher.wait(10)
        wait_for(lambda: pipeline.counters().accepted == 2, "a message after the reconnect")


def test_a_partitioned_consumer_keeps_only_its_devices_and_acknowledges_the_rest(publisher: MqttPublisher) -> None:
    from chengyun.ingest.model import partition_of

    received: list[bytes] = []
    consumer = MqttConsumer(Broker.parse(BROKER), client_id=unique("c-"), topic_filter=subscription(None),
                            on_shed=lambda shed, at: None,
                            accept=lambda topic: partition_of(topic.split(b"/")[2].decode(), 2) == 0)
    run, now = unique("P"), time.time()
    mine = [f"{run}-{k}" for k in range(40) if partition_of(f"{run}-{k}", 2) == 0]
    consumer.start()
    try:
        for k in range(40):
            publisher.publish(gas(f"{run}-{k}"), body(f"{run}-{k}", now, gas_lel=1.0))
        assert publisher.wait(10)

        def drain() -> bool:
            for _, generation, items in consumer.take(100, 0.05):
                received.extend(t for t, _, _ in items if run.encode() in t)
                consumer.ack(generation, [m for _, _, m in items])
            return len(received) >= len(mine)

        wait_for(drain, "this partition's messages")
    finally:
        consumer.stop()
    assert sorted(t.decode().split("/")[2] for t in received) == sorted(mine)
    assert consumer.skipped >= 40 - len(mine)


def test_http_ingest_with_a_broker_checks_here_and_forwards_to_the_workers(container: Container,
                                                                          publisher: MqttPublisher) -> None:
    from chengyun.ingest.api import build_gateway

    container.areas.import_drafts(tiny_district_drafts(), actor="test")
    register(container, [("GD-1", "gas_detector")])
    container.settings = container.settings.model_copy(update={"mqtt_url": BROKER})
    stored: list[Transition] = []
    worker_side = make_pipeline(container, worker_id="w", sink=stored.extend)
    gateway = build_gateway(container)
    run, now = unique("h"), time.time()
    with Running(worker_side):
        refused = gateway.submit(gas("GD-1"), body(f"{run}-1", now, token="wrong", gas_lel=1.0), now)
        assert refused.code == "ingest.credential.invalid"
        accepted = gateway.submit(gas("GD-1"), body(f"{run}-2", now, gas_lel=33.0), now)
        assert accepted.status.value == "accepted" and accepted.transitions == ()  # evaluated by the workers
        wait_for(lambda: bool(stored), "the worker's transition")
    assert [(t.device_id, t.alarm_type) for t in stored] == [("GD-1", "gas_leak")]
    assert worker_side.counters().accepted == 1  # the refused message never left the gateway
