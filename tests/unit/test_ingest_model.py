"""Device topics, the idempotency window and the counters of ingestion (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chengyun.devices.model import MessageKind
from chengyun.errors import Invalid
from chengyun.ingest.model import (
    Counters,
    CounterSnapshot,
    IdempotencyWindow,
    Topic,
    device_topic,
    parse_topic,
    partition_of,
    quarantine_record,
    subscription,
)


def test_a_device_topic_reads_back_as_its_parts() -> None:
    assert parse_topic("chengyun/gas_detector/GD-0001/telemetry") == Topic("gas_detector", "GD-0001",
                                                                           MessageKind.TELEMETRY)
    assert parse_topic(b"chengyun/sos_button/a.b:c_d-1/event").kind is MessageKind.EVENT
    assert device_topic("door_sensor", "D1", "heartbeat") == "chengyun/door_sensor/D1/heartbeat"


@pytest.mark.parametrize(("topic", "code", "params"), [
    ("other/gas_detector/GD1/telemetry", "ingest.topic.not_ours", {"root": "chengyun"}),
    ("chengyun/gas_detector/GD1", "ingest.topic.levels", {"levels": 3}),
    ("chengyun/gas_detector/GD1/telemetry/x", "ingest.topic.levels", {"levels": 5}),
    ("chengyun/gas_detector/GD1/status", "ingest.topic.bad_kind", {"value": "status"}),
    ("chengyun/Gas-Detector/GD1/telemetry", "ingest.topic.bad_type", {"value": "Gas-Detector"}),
    ("chengyun/gas_detector/-GD1/telemetry", "ingest.topic.bad_device_id", {"value": "-GD1"}),
    ("chengyun/gas_detector/GD1\n/telemetry", "ingest.topic.bad_device_id", {}),
    ("chengyun/gas_detector//telemetry", "ingest.topic.bad_device_id", {"value": ""}),
    ("chengyun/gas_detector/" + "x" * 300 + "/telemetry", "ingest.topic.too_long", {"limit": 256}),
    (b"chengyun/gas_detector/\xff/telemetry", "ingest.topic.not_utf8", {}),
])
def test_a_bad_topic_is_refused_precisely(topic: str | bytes, code: str, params: dict[str, object]) -> None:
    with pytest.raises(Invalid) as caught:
        parse_topic(topic)
    assert caught.value.code == code
    assert params.items() <= caught.value.params.items()


@settings(max_examples=300)
@given(st.text(max_size=80) | st.binary(max_size=80))
def test_any_topic_parses_or_is_refused_with_an_ingest_code(topic: str | bytes) -> None:
    try:
        parsed = parse_topic(topic)
    except Invalid as exc:
        assert exc.code.startswith("ingest.topic.")
    else:
        assert device_topic(*parsed) == (topic if isinstance(topic, str) else topic.decode())


def test_subscriptions_are_shared_per_group() -> None:
    assert subscription("chengyun") == "$share/chengyun/chengyun/+/+/+"
    assert subscription(None) == "chengyun/+/+/+"


def test_partitions_are_stable_and_spread_devices() -> None:
    assert partition_of("GD-0001", 4) == partition_of("GD-0001", 4)
    counts = [0, 0]
    for k in range(1000):
        counts[partition_of(f"sim-{k:06d}", 2)] += 1
    assert min(counts) > 400


def test_the_window_remembers_the_last_ids_of_each_device() -> None:
    window = IdempotencyWindow(size=3)
    for msg in ("a", "b", "c"):
        window.add("d1", msg)
    assert all(window.seen("d1", m) for m in "abc")
    assert not window.seen("d2", "a")  # per device
    window.add("d1", "d")  # the oldest (a) goes
    assert not window.seen("d1", "a")
    assert window.seen("d1", "d") and window.seen("d1", "b")
    assert len(window) == 1


def test_a_forgotten_device_starts_empty_and_its_row_is_reused() -> None:
    window = IdempotencyWindow(size=2)
    window.add("d1", "a")
    window.forget("d1")
    assert not window.seen("d1", "a")
    window.add("d2", "x")
    assert window.seen("d2", "x") and not window.seen("d2", "a")
    assert len(window) == 1
    with pytest.raises(ValueError):
        IdempotencyWindow(size=0)


@given(st.lists(st.tuples(st.sampled_from(["d1", "d2", "d3"]), st.text(min_size=1, max_size=6)), max_size=60),
       st.integers(1, 8))
def test_the_window_agrees_with_a_list_of_the_last_ids(messages: list[tuple[str, str]], size: int) -> None:
    window = IdempotencyWindow(size=size)
    model: dict[str, list[str]] = {}
    for device, msg in messages:
        assert window.seen(device, msg) == (msg in model.get(device, []))
        window.add(device, msg)
        model[device] = ([*model.get(device, []), msg])[-size:]


def test_counters_snapshot_and_add_up() -> None:
    counters = Counters()
    counters.accepted += 3
    counters.duplicate += 1
    counters.refuse("ingest.device.unknown")
    counters.refuse("ingest.device.unknown")
    counters.refuse("devices.payload.not_json")
    counters.shed += 2
    snap = counters.snapshot()
    assert snap.quarantined == {"ingest.device.unknown": 2, "devices.payload.not_json": 1}
    assert (snap.total_quarantined, snap.received) == (3, 9)
    counters.refuse("ingest.device.unknown")
    assert snap.quarantined["ingest.device.unknown"] == 2  # a snapshot does not move
    both = snap + CounterSnapshot.from_dict(snap.as_dict())
    assert both.as_dict() == {"accepted": 6, "duplicate": 2, "shed": 4, "transitions": 0,
                              "quarantined": {"ingest.device.unknown": 4, "devices.payload.not_json": 2}}


def test_a_quarantine_record_keeps_the_head_of_the_payload_and_its_size() -> None:
    record = quarantine_record(b"chengyun/\xff", b"x" * 5000, "ingest.topic.not_utf8", {}, 1.0, "w1")
    assert (len(record.payload), record.size, record.topic) == (4096, 5000, "chengyun/\\xff")


def test_every_ingest_code_in_the_source_has_both_translations_with_the_same_placeholders() -> None:
    import json
    import re
    from pathlib import Path

    from chengyun.i18n import catalogue

    root = Path(__file__).resolve().parents[2]
    files = [*(root / "chengyun/ingest").glob("*.py"), root / "chengyun/adapters/mqtt.py",
             root / "chengyun/workers/mqtt_ingest.py"]
    source = "\n".join(p.read_text(encoding="utf-8") for p in files)
    used = set(re.findall(r'"((?:ingest|mqtt|simulate|cli\.ingest|cli\.simulate)\.[a-z_.]*[a-z_])"', source))
    assert len(used) > 25, sorted(used)
    for locale in ("zh-CN", "en"):
        assert not sorted(used - set(catalogue(locale))), locale
    zh = json.loads((root / "chengyun/i18n/zh_CN.ingest.json").read_text(encoding="utf-8"))
    en = json.loads((root / "chengyun/i18n/en.ingest.json").read_text(encoding="utf-8"))
    assert set(zh) == set(en)
    for code in zh:
        assert set(re.findall(r"\{(\w+)\}", zh[code])) == set(re.findall(r"\{(\w+)\}", en[code])), code
