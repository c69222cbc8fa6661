"""The ingest pipeline with fakes: accepted, duplicate, quarantined with precise reasons, shed; batches out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chengyun.alarms.signals import Change, Severity, Transition
from chengyun.devices.catalogue import DeviceType, load_device_types
from chengyun.devices.model import DeviceFacts, Reading
from chengyun.devices.payload import read_message
from chengyun.ingest.model import QuarantineRecord, Status
from chengyun.ingest.pipeline import Pipeline

NOW = 1_767_225_600.0
TYPES = load_device_types()


class FakeDirectory:
    """Devices by id with their plain tokens."""

    def __init__(self, devices: dict[str, tuple[str, str]]) -> None:
        self.devices = {d: (DeviceFacts(d, t), token) for d, (t, token) in devices.items()}

    def facts(self, device_id: str) -> DeviceFacts | None:
        entry = self.devices.get(device_id)
        return entry[0] if entry else None

    def type_of(self, device_id: str) -> DeviceType | None:
        entry = self.devices.get(device_id)
        return TYPES[entry[0].type_code] if entry else None

    def verify(self, device_id: str, token: str | None) -> bool:
        entry = self.devices.get(device_id)
        return entry is not None and token == entry[1]


class FakeEngine:
    """Fires `gas_leak` when gas_lel reaches 20; remembers what it was fed."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.fed: list[Reading] = []
        self.due: list[Transition] = []
        self.fail_on = fail_on

    def feed(self, reading: Reading, device: DeviceFacts) -> list[Transition]:
        if reading.msg_id == self.fail_on:
            raise RuntimeError("engine defect")
        self.fed.append(reading)
        gas = reading.values.get("gas_lel")
        if isinstance(gas, int | float) and gas >= 20:
            return [Transition("gas_leak", "gas_leak", Severity.CRITICAL, Change.FIRE, device.device_id, reading.ts)]
        return []

    def tick(self, now: float) -> list[Transition]:
        due, self.due = self.due, []
        return due


def payload(msg_id: str, token: str = "t1", **values: Any) -> bytes:
    return json.dumps({"msg_id": msg_id, "ts": NOW - 5, "token": token, "values": values or {"gas_lel": 1.0}}).encode()


@pytest.fixture
def sinks() -> dict[str, list[Any]]:
    return {"transitions": [], "seen": [], "records": []}


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def pipeline(engine: FakeEngine, sinks: dict[str, list[Any]]) -> Pipeline:
    directory = FakeDirectory({"GD1": ("gas_detector", "t1"), "GD2": ("gas_detector", "t2"),
                               "SOS1": ("sos_button", "t3")})
    return Pipeline(directory, read_message, engine, sinks["transitions"].append, mark_seen=sinks["seen"].append,
                    quarantine=sinks["records"].append, worker_id="w9")


GAS = "chengyun/gas_detector/GD1/telemetry"


def test_a_good_message_feeds_the_engine_and_its_transition_goes_to_the_sink(
        pipeline: Pipeline, engine: FakeEngine, sinks: dict[str, list[Any]]) -> None:
    assert pipeline.handle(GAS, payload("m1"), NOW).status is Status.ACCEPTED
    outcome = pipeline.handle(GAS, payload("m2", gas_lel=25.0), NOW)
    assert outcome.status is Status.ACCEPTED
    assert [t.rule_id for t in outcome.transitions] == ["gas_leak"]
    assert [r.msg_id for r in engine.fed] == ["m1", "m2"]
    assert pipeline.pending == 1
    flushed = pipeline.flush()
    assert (flushed.transitions, flushed.records) == (1, 0)
    assert [[t.device_id for t in batch] for batch in sinks["transitions"]] == [["GD1"]]
    assert pipeline.flush_seen() == 1 and sinks["seen"] == [{"GD1": NOW}]
    snap = pipeline.counters()
    assert (snap.accepted, snap.transitions, snap.total_quarantined) == (2, 1, 0)


def test_a_redelivered_message_changes_nothing_twice(pipeline: Pipeline, engine: FakeEngine) -> None:
    first = pipeline.handle(GAS, payload("m1", gas_lel=30.0), NOW)
    again = pipeline.handle(GAS, payload("m1", gas_lel=30.0), NOW + 1)
    assert (first.status, again.status) == (Status.ACCEPTED, Status.DUPLICATE)
    assert len(engine.fed) == 1 and again.transitions == ()
    assert pipeline.handle("chengyun/gas_detector/GD2/telemetry", payload("m1", "t2"), NOW).status \
        is Status.ACCEPTED  # ids are per device
    assert pipeline.counters().duplicate == 1


@pytest.mark.parametrize(("topic", "body", "code"), [
    ("chengyun/gas_detector/GD1", payload("m1"), "ingest.topic.levels"),
    ("chengyun/gas_detector/NOPE/telemetry", payload("m1"), "ingest.device.unknown"),
    ("chengyun/smoke_detector/GD1/telemetry", payload("m1"), "ingest.device.type_mismatch"),
    (GAS, b"{not json", "devices.payload.not_json"),
    (GAS, payload("m1", gas_lel=500.0), "devices.payload.out_of_range"),
    (GAS, payload("m1", token="wrong"), "ingest.credential.invalid"),
    (GAS, json.dumps({"msg_id": "m1", "ts": NOW, "values": {"gas_lel": 1}}).encode(), "ingest.credential.missing"),
    ("chengyun/sos_button/SOS1/event", payload("m1", "t3", event="fire"), "devices.payload.unknown_event"),
])
def test_bad_messages_are_counted_and_quarantined_with_their_reason(
        pipeline: Pipeline, engine: FakeEngine, sinks: dict[str, list[Any]], topic: str, body: bytes,
        code: str) -> None:
    outcome = pipeline.handle(topic, body, NOW)
    assert (outcome.status, outcome.code) == (Status.QUARANTINED, code)
    assert engine.fed == []
    assert pipeline.counters().quarantined == {code: 1}
    pipeline.flush()
    [[record]] = sinks["records"]
    assert isinstance(record, QuarantineRecord)
    assert (record.topic, record.payload, record.code, record.worker_id, record.received_at) == \
        (topic, body, code, "w9", NOW)


def test_one_bad_message_among_good_ones_lets_the_good_ones_through(pipeline: Pipeline, engine: FakeEngine) -> None:
    batch = [(GAS, payload("m1")), (GAS, b"\x00garbage"), (GAS, payload("m2")), ("x/y", b""), (GAS, payload("m3"))]
    assert pipeline.handle_many(batch, NOW) == 3
    assert [r.msg_id for r in engine.fed] == ["m1", "m2", "m3"]
    assert pipeline.counters().total_quarantined == 2


def test_an_engine_defect_quarantines_the_message_and_the_next_one_flows(sinks: dict[str, list[Any]]) -> None:
    engine = FakeEngine(fail_on="bad")
    directory = FakeDirectory({"GD1": ("gas_detector", "t1")})
    pipeline = Pipeline(directory, read_message, engine, sinks["transitions"].append)
    assert pipeline.handle(GAS, payload("bad"), NOW).code == "ingest.engine_failed"
    assert pipeline.handle(GAS, payload("good"), NOW).status is Status.ACCEPTED
    assert pipeline.handle(GAS, payload("bad"), NOW).code == "ingest.engine_failed"  # not remembered as seen


def test_a_checker_defect_is_quarantined_as_internal(sinks: dict[str, list[Any]]) -> None:
    def broken_reader(*args: Any, **kwargs: Any) -> tuple[Reading, str | None]:
        raise KeyError("bug")

    pipeline = Pipeline(FakeDirectory({"GD1": ("gas_detector", "t1")}), broken_reader, FakeEngine(),
                        sinks["transitions"].append)
    outcome = pipeline.handle(GAS, payload("m1"), NOW)
    assert (outcome.code, outcome.params) == ("ingest.internal", {"error": "KeyError"})


def test_shed_messages_are_counted_and_recorded(pipeline: Pipeline, sinks: dict[str, list[Any]]) -> None:
    assert pipeline.shed([(GAS.encode(), payload("m1")), (GAS.encode(), payload("m2"))], NOW,
                         reason={"queue": 10}) == 2
    assert pipeline.counters().shed == 2
    pipeline.flush()
    assert [(r.code, r.params) for r in sinks["records"][0]] == [("ingest.shed", {"queue": 10})] * 2


def test_records_beyond_the_pending_limit_are_only_counted(engine: FakeEngine) -> None:
    pipeline = Pipeline(FakeDirectory({}), read_message, engine, lambda ts: None, max_pending_records=2)
    pipeline.handle_many([(GAS, b"")] * 5, NOW)
    assert (pipeline.pending, pipeline.unrecorded, pipeline.counters().total_quarantined) == (2, 3, 5)


def test_a_failing_sink_keeps_its_batch_for_the_next_flush(pipeline: Pipeline, engine: FakeEngine) -> None:
    stored: list[list[Transition]] = []
    failures = [RuntimeError("database down")]

    def sink(transitions: list[Transition]) -> None:
        if failures:
            raise failures.pop()
        stored.append(transitions)

    pipeline.sink = sink
    pipeline.handle(GAS, payload("m1", gas_lel=25.0), NOW)
    with pytest.raises(RuntimeError):
        pipeline.flush()
    pipeline.handle("chengyun/gas_detector/GD2/telemetry", payload("m2", "t2", gas_lel=21.0), NOW)
    assert pipeline.flush().transitions == 2
    assert [[t.device_id for t in batch] for batch in stored] == [["GD1", "GD2"]]


def test_a_failing_mark_seen_keeps_the_latest_times(pipeline: Pipeline) -> None:
    calls: list[dict[str, float]] = []

    def mark_seen(seen: Any) -> None:
        calls.append(dict(seen))
        if len(calls) == 1:
            raise RuntimeError("database down")

    pipeline.mark_seen = mark_seen
    pipeline.handle(GAS, payload("m1"), NOW)
    with pytest.raises(RuntimeError):
        pipeline.flush_seen()
    pipeline.handle(GAS, payload("m2"), NOW + 3)
    assert pipeline.flush_seen() == 1
    assert calls[-1] == {"GD1": NOW + 3}


def test_tick_passes_due_transitions_on(pipeline: Pipeline, engine: FakeEngine,
                                        sinks: dict[str, list[Any]]) -> None:
    engine.due = [Transition("device_offline", "device_offline", Severity.MINOR, Change.FIRE, "GD2", NOW)]
    assert pipeline.tick(NOW + 60) == 1
    pipeline.flush()
    assert sinks["transitions"][0][0].rule_id == "device_offline"
    assert pipeline.counters().transitions == 1


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(topic=st.one_of(st.text(max_size=60), st.binary(max_size=60),
                       st.sampled_from([GAS, "chengyun/sos_button/SOS1/event", "chengyun/gas_detector/GD2/heartbeat"])),
       body=st.one_of(st.binary(max_size=200), st.builds(lambda d: json.dumps(d).encode(), st.recursive(
           st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
               st.sampled_from(["msg_id", "ts", "token", "values", "gas_lel", "event", "x"]), inner, max_size=5),
           max_leaves=12))))
def test_nothing_a_message_contains_raises_out_of_handle(pipeline: Pipeline, topic: str | bytes,
                                                         body: bytes) -> None:
    before = pipeline.counters().received
    outcome = pipeline.handle(topic, body, NOW)
    assert outcome.status in {Status.ACCEPTED, Status.DUPLICATE, Status.QUARANTINED}
    assert outcome.code != "ingest.internal"
    assert pipeline.counters().received == before + 1
