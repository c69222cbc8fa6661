"""MQTT ingestion through a real broker: throughput against the broker's raw delivery, alarm latency, memory.

Run: .venv/bin/python bench/bench_mqtt.py [--messages 200000] [--devices 100000] [--workers 1] [--latency-rate 5000]
     [--latency-seconds 20] [--broker mqtt://127.0.0.1:1883]

Without --broker it starts a private Mosquitto on a free port (the development defaults plus
`max_queued_messages 1000000`, so a subscriber that falls behind is queued for instead of losing messages, and
nothing else's traffic mixes in). Every role is its own process, all on this machine's cores:
  (a) raw: our publisher → broker → `mosquitto_sub -q 1` (a no-op subscriber in C): messages/s for N messages;
  (b) ours: the same publisher and stream → broker → `MqttConsumer` + `IngestWorker` + the real pipeline (device
      directory, payload checks, credentials, idempotency window) + the real rule engine with the default rules over
      the simulated devices (each device has sent once before timing: admitted, credential verified); the ratio
      (b)/(a) is the figure of merit;
  (c) latency at a steady rate: publish → transition in the sink → stored by the real alarm service (SQLite) →
      its linkage plan started (run and tier-0 notifications committed), p50/p99 (1% of the messages toggle a gas
      leak);
  (d) memory per device of the ingest state (idempotency window), and of the whole IoT path (device directory +
      rule engine + window) at the same device count (tracemalloc).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chengyun.devices.catalogue import load_device_types  # noqa: E402
from chengyun.devices.directory import DeviceDirectory, credential_key, token_hash  # noqa: E402
from chengyun.devices.model import DeviceFacts  # noqa: E402
from chengyun.ingest.simulator import SimDevice, Simulator, synthetic_devices  # noqa: E402

APPLY_S: list[float] = []  # (c): how long each batch took the alarm service to store
KEY = credential_key("bench-secret-0123456789-0123456789-abcdef")


def token_of(device_id: str) -> str:
    return f"tok-{device_id}"


def devices(n: int) -> list[SimDevice]:
    return synthetic_devices(n, token_of)


def directory_of(sims: list[SimDevice]) -> DeviceDirectory:
    directory = DeviceDirectory(KEY, load_device_types())
    for d in sims:
        directory.put(DeviceFacts(d.device_id, d.type_code, "510113002001001", "/510113/510113002/"),
                      token_hash(KEY, d.token))
    return directory


def stream(sims: list[SimDevice], n: int, start: float, seed: int = 11) -> list[tuple[str, bytes]]:
    """`n` realistic messages over the devices in turn, timestamps rising from `start`."""
    simulator = Simulator(sims, random.Random(seed), boot=f"b{seed}")
    out: list[tuple[str, bytes]] = []
    while len(out) < n:
        out.extend(simulator.next_messages(start + len(out) * 1e-5, min(10_000, n - len(out))))
    return out


def leak(device: SimDevice, k: int, now: float, high: bool) -> tuple[str, bytes]:
    body = {"msg_id": f"leak-{k}", "ts": now, "token": device.token, "values": {"gas_lel": 30.0 if high else 1.0}}
    return f"chengyun/gas_detector/{device.device_id}/telemetry", json.dumps(body).encode()


# --- roles (each its own process) ------------------------------------------------------------------------------


def role_publisher(args: argparse.Namespace) -> None:
    """Pre-build the stream, publish the warm-up, then the timed stream on 'go' (as fast as possible or paced)."""
    from chengyun.adapters.mqtt_publish import MqttPublisher

    sims = devices(args.devices)
    publisher = MqttPublisher(args.broker, client_id=f"bench-pub-{os.getpid()}", window=args.window).connect()
    now = time.time()
    if args.warm:
        for topic, payload in stream(sims, args.warm, now - 60, seed=1):
            publisher.publish(topic, payload)
        publisher.wait(120)
    timed = stream(sims, args.count, now - 30) if not args.rate else []
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    if args.rate:
        publish_paced(publisher, sims, args)
    else:
        for topic, payload in timed:
            publisher.publish(topic, payload)
    publisher.wait(300)
    print(f"published {publisher.sent - args.warm} {time.perf_counter() - started:.3f}", flush=True)
    publisher.close()


def publish_paced(publisher: Any, sims: list[SimDevice], args: argparse.Namespace) -> None:
    """`args.rate` messages/s for `args.seconds`, with ts = now; every 100th message toggles a gas leak."""
    gas = [d for d in sims if d.type_code == "gas_detector"][:500]
    simulator = Simulator(sims, random.Random(3), boot="paced")
    start, sent, k = time.time(), 0, 0
    while (now := time.time()) - start < args.seconds:
        due = int((now - start) * args.rate) - sent
        for topic, payload in simulator.next_messages(now, max(0, due)):
            sent += 1
            if sent % 100 == 0:
                k += 1
                topic, payload = leak(gas[k % len(gas)], k, now, high=(k // len(gas)) % 2 == 0)
            publisher.publish(topic, payload)
        publisher.flush()
        time.sleep(0.002)


def role_consumer(args: argparse.Namespace) -> None:
    """One ingest worker: prints 'progress <received>' as it goes; on 'stop' prints its latencies and counters."""
    from chengyun.adapters.mqtt import Broker, MqttConsumer
    from chengyun.alarms.engine import RuleEngine
    from chengyun.alarms.rules import default_rules
    from chengyun.devices.payload import read_message
    from chengyun.ingest.model import subscription
    from chengyun.ingest.pipeline import Pipeline
    from chengyun.workers.mqtt_ingest import BatchPolicy, IngestWorker

    sims = devices(args.devices)
    directory = directory_of(sims)
    latencies: list[float] = []
    sink = store_sink(directory, latencies) if args.store else (
        lambda ts: latencies.extend(time.time() - t.at for t in ts if t.rule_id == "gas_leak"))
    pipeline = Pipeline(directory, read_message, RuleEngine(default_rules()), sink, worker_id=args.worker_id)
    consumer = MqttConsumer(Broker.parse(args.broker), client_id=f"bench-{args.worker_id}-{os.getpid()}",
                            topic_filter=subscription(args.group),
                            on_shed=lambda shed, at: pipeline.shed([(t, p) for t, p, _ in shed], at),
                            queue_size=args.queue)
    worker = IngestWorker(consumer, pipeline, BatchPolicy())
    consumer.start()
    gc.collect()
    gc.freeze()  # the directory and engine are long-lived: keep them out of the collector's scans
    gc.callbacks.append(_gc_timer)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    profiler = cProfile.Profile()
    if args.profile:
        profiler.enable()
    last = -1
    while not stop.is_set():
        worker.step()
        received = pipeline.counters().received
        if received != last:
            print(f"progress {received} {time.time():.6f}", flush=True)
            last = received
    consumer.stop()
    print("latency " + json.dumps(latencies), flush=True)
    applies = sorted(APPLY_S)
    store_ms = {"store_p50_ms": round(applies[len(applies) // 2] * 1000, 1),
                "store_p99_ms": round(applies[int(len(applies) * 0.99)] * 1000, 1)} if applies else {}
    pauses = {f"gc{g}": [len(v), round(max(v, default=0) * 1000, 1)] for g, v in GC_PAUSES.items()}
    print("counters " + json.dumps({**pipeline.counters().as_dict(), "cpu_s": round(time.process_time(), 2),
                                    **store_ms, **pauses}), flush=True)
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)


GC_PAUSES: dict[int, list[float]] = {0: [], 1: [], 2: []}
_gc_started = [0.0]


def _gc_timer(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        GC_PAUSES[info["generation"]].append(time.perf_counter() - _gc_started[0])


def store_sink(directory: DeviceDirectory, latencies: list[float]) -> Any:
    """The real alarm service on a fresh SQLite database; latency measured once the batch is stored and the raised
    alarms' linkage plans are started (the bench database has no people, so the notices resolve to nobody: the
    transaction and its rows are the same, only no live push follows)."""
    from chengyun.bootstrap import bootstrap
    from chengyun.config import Settings
    from chengyun.db.engine import make_engine

    data = Path(tempfile.mkdtemp(prefix="bench-mqtt-"))
    engine = make_engine(f"sqlite:///{data / 'chengyun.db'}")
    container = bootstrap(Settings(env="dev", secret_key="bench-secret-0123456789-0123456789-abcdef",
                                   data_dir=data), engine=engine)
    container.migrate()

    def sink(transitions: list[Any]) -> None:
        began = time.time()
        changes = container.alarms.apply(transitions, directory.facts)
        container.responder.start_plans(changes)  # the linkage run and its tier-0 notifications, committed
        done = time.time()
        APPLY_S.append(done - began)
        latencies.extend(done - t.at for t in transitions if t.rule_id == "gas_leak")

    return sink


# --- orchestration ---------------------------------------------------------------------------------------------


class Proc:
    """A child process of this script whose stdout lines are read by a thread."""

    def __init__(self, *argv: str) -> None:
        self.p = subprocess.Popen([sys.executable, __file__, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, cwd=ROOT)
        self.lines: list[str] = []
        self.progress = 0
        self.progress_at = 0.0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            if line.startswith("progress "):
                _, n, at = line.split()
                self.progress, self.progress_at = int(n), float(at)
            else:
                self.lines.append(line.strip())

    def wait_line(self, prefix: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if line.startswith(prefix):
                    return line
            if self.p.poll() is not None and not any(x.startswith(prefix) for x in self.lines):
                raise RuntimeError(f"child exited without '{prefix}': {self.lines[-5:]}")
            time.sleep(0.01)
        raise TimeoutError(prefix)

    def send(self, text: str) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()


def private_broker() -> tuple[str, subprocess.Popen[bytes], Path]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="bench-mosquitto-"))
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 1000000\n", encoding="utf-8")
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return f"mqtt://127.0.0.1:{port}", proc, folder


def host_port(url: str) -> tuple[str, str]:
    rest = url.split("://", 1)[1]
    host, _, port = rest.partition(":")
    return host, port or "1883"


def bench_raw(args: argparse.Namespace) -> float:
    """(a) The stream to mosquitto_sub (QoS 1, output discarded): messages/s from 'go' to its exit."""
    host, port = host_port(args.broker)
    sub = subprocess.Popen(["mosquitto_sub", "-h", host, "-p", port, "-V", "mqttv5", "-q", "1", "-t",
                            "chengyun/+/+/+", "-C", str(args.messages)], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    pub = Proc("--role", "publisher", "--broker", args.broker, "--devices", str(args.devices), "--count",
               str(args.messages), "--warm", "0", "--window", str(args.window))
    pub.wait_line("ready")
    started = time.perf_counter()
    pub.send("go")
    try:
        sub.wait(timeout=600)
    except subprocess.TimeoutExpired:
        sub.kill()
        raise
    elapsed = time.perf_counter() - started
    published = pub.wait_line("published").split()
    rate = args.messages / elapsed
    print(f"  (a) broker → mosquitto_sub : {rate:10,.0f} msg/s ({args.messages:,} messages in {elapsed:.2f} s; "
          f"the publisher alone took {float(published[2]):.2f} s)")
    return rate


def start_consumers(args: argparse.Namespace, group: str, store: bool = False) -> list[Proc]:
    consumers = [Proc("--role", "consumer", "--broker", args.broker, "--devices", str(args.devices), "--group",
                      group, "--worker-id", f"w{k + 1}", *(["--store"] if store else []),
                      *(["--profile"] if args.profile else []))
                 for k in range(args.workers)]
    for c in consumers:
        c.wait_line("ready")
    return consumers


def stop_consumers(consumers: list[Proc]) -> tuple[list[float], dict[str, Any]]:
    latencies: list[float] = []
    totals: dict[str, Any] = {}
    for c in consumers:
        c.send("stop")
        latencies += json.loads(c.wait_line("latency ").split(" ", 1)[1])
        counters = json.loads(c.wait_line("counters ").split(" ", 1)[1])
        for key, value in counters.items():
            if isinstance(value, int | float):
                totals[key] = totals.get(key, 0) + value
            elif isinstance(value, dict):
                totals[key] = {**totals.get(key, {}), **value}
            else:
                totals[key] = value
        c.p.wait(30)
    return latencies, totals


def bench_ours(args: argparse.Namespace, raw: float) -> None:
    """(b) The same stream through our consumer(s) into the rule engine."""
    consumers = start_consumers(args, f"bench{os.getpid()}")
    warm = args.devices
    pub = Proc("--role", "publisher", "--broker", args.broker, "--devices", str(args.devices), "--count",
               str(args.messages), "--warm", str(warm), "--window", str(args.window))
    pub.wait_line("ready", timeout=600)
    while sum(c.progress for c in consumers) < warm:
        time.sleep(0.01)
    started_wall = time.time()
    started = time.perf_counter()
    pub.send("go")
    target = warm + args.messages
    deadline = time.monotonic() + 600
    while sum(c.progress for c in consumers) < target and time.monotonic() < deadline:
        time.sleep(0.005)
    done_at = max(c.progress_at for c in consumers)
    elapsed = done_at - started_wall if done_at > started_wall else time.perf_counter() - started
    published = pub.wait_line("published").split()
    _, totals = stop_consumers(consumers)
    got = sum(c.progress for c in consumers) - warm
    rate = got / elapsed
    print(f"  (b) broker → {args.workers} ingest worker(s) → rule engine: {rate:10,.0f} msg/s ({got:,} of "
          f"{args.messages:,} in {elapsed:.2f} s; publisher alone {float(published[2]):.2f} s); "
          f"ratio to (a): {rate / raw:.2f}")
    print(f"      counters (warm-up included): {json.dumps(totals, ensure_ascii=False)}")


def bench_latency(args: argparse.Namespace) -> None:
    """(c) Publish → stored alarm at a steady rate."""
    consumers = start_consumers(args, f"lat{os.getpid()}", store=not args.no_store)
    pub = Proc("--role", "publisher", "--broker", args.broker, "--devices", str(args.devices), "--rate",
               str(args.latency_rate), "--seconds", str(args.latency_seconds), "--warm", str(args.devices),
               "--window", str(args.window))
    pub.wait_line("ready", timeout=600)
    while sum(c.progress for c in consumers) < args.devices:  # the warm-up is processed before timing
        time.sleep(0.01)
    pub.send("go")
    published = pub.wait_line("published", timeout=args.latency_seconds + 300).split()
    time.sleep(1.0)
    latencies, totals = stop_consumers(consumers)
    latencies.sort()
    if not latencies:
        print("  (c) no alarm transitions measured")
        return

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    sent = int(published[1])
    what = "alarm stored + plan started" if not args.no_store else "transition in the sink"
    print(f"  (c) publish → {what} at {sent / float(published[2]):,.0f} msg/s for {float(published[2]):.0f} s: "
          f"p50 {pct(0.5):.1f} ms, p90 {pct(0.9):.1f} ms, p99 {pct(0.99):.1f} ms, max {latencies[-1] * 1000:.1f} ms "
          f"({len(latencies):,} gas-leak transitions; shed {totals.get('shed', 0)}; one batch stored in "
          f"p50 {totals.get('store_p50_ms', '-')} ms, p99 {totals.get('store_p99_ms', '-')} ms; "
          f"GC runs [count, longest ms] by generation: {totals.get('gc0')} {totals.get('gc1')} {totals.get('gc2')})")


def bench_memory(n: int) -> None:
    """(d) Bytes per device: the idempotency window alone, then directory + engine + window together."""
    from chengyun.alarms.engine import RuleEngine
    from chengyun.alarms.rules import default_rules
    from chengyun.devices.payload import read_message
    from chengyun.ingest.model import WINDOW_SIZE, IdempotencyWindow, parse_topic

    sims = devices(n)
    msgs = stream(sims, n * 2, time.time() - 600)
    ids = [(d.device_id, f"m{k}") for d in sims for k in range(WINDOW_SIZE + 2)]
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    window = IdempotencyWindow()
    for device_id, msg_id in ids:
        window.add(device_id, msg_id)
    gc.collect()
    per_window = (tracemalloc.get_traced_memory()[0] - base) / n
    del window
    gc.collect()
    base = tracemalloc.get_traced_memory()[0]
    directory = directory_of(sims)
    mid = tracemalloc.get_traced_memory()[0]
    engine, window = RuleEngine(default_rules()), IdempotencyWindow()
    types = directory.types()
    for topic, payload in msgs:
        t = parse_topic(topic)
        facts = directory.facts(t.device_id)
        assert facts is not None
        reading, token = read_message(types[t.device_type], t.device_id, t.kind, payload)
        directory.verify(t.device_id, token)
        engine.feed(reading, facts)
        window.add(t.device_id, reading.msg_id)
    del msgs, reading, token
    gc.collect()
    total = (tracemalloc.get_traced_memory()[0] - base) / n
    tracemalloc.stop()
    print(f"  (d) memory at {n:,} devices: idempotency window {per_window:,.0f} B/device ({WINDOW_SIZE} ids); "
          f"IoT path in all (directory {(mid - base) / n:,.0f} + engine + window after 2 readings each) "
          f"{total:,.0f} B/device → {total * 1e6 / 2**30:,.2f} GiB per million devices")


class _FakeSocket:
    """A socket that hands out a prepared byte stream, then reports 'nothing more' (no network involved)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def recv(self, n: int) -> bytes:
        if self.pos >= len(self.data):
            raise BlockingIOError
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out

    def pending(self) -> int:
        return 0

    def close(self) -> None:
        pass


def _receive_cost(client: Any, data: bytes, n: int) -> float:
    """µs per message for a client's receive path over `data` (n PUBLISH packets, QoS 1, MQTT 5)."""
    client._sock = _FakeSocket(data)
    client._state = 1  # connected, for paho's checks
    started = time.process_time()
    while client._sock.pos < len(data):
        client.loop_read()
    return (time.process_time() - started) / n * 1e6


def bench_stages(n_devices: int, n: int = 100_000) -> None:
    """(e) Where the time goes: CPU µs per message of each stage, in this process, on the benchmark's stream."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from chengyun.adapters.mqtt import FastClient, encode_publish
    from chengyun.alarms.engine import RuleEngine
    from chengyun.alarms.rules import default_rules
    from chengyun.devices.payload import read_message
    from chengyun.ingest.model import IdempotencyWindow, parse_topic

    sims = devices(n_devices)
    directory = directory_of(sims)
    engine, window, types = RuleEngine(default_rules()), IdempotencyWindow(), directory.types()
    warm = stream(sims, n_devices, time.time() - 600, seed=1)
    msgs = stream(sims, n, time.time() - 300)
    for topic, payload in warm:  # admitted and verified, as in (b)
        t = parse_topic(topic)
        reading, token = read_message(types[t.device_type], t.device_id, t.kind, payload)
        directory.verify(t.device_id, token)
        engine.feed(reading, directory.facts(t.device_id))  # type: ignore[arg-type]
    costs: dict[str, float] = {}

    def timed(name: str, fn: Any, items: list[Any]) -> list[Any]:
        gc.collect()
        started = time.process_time()
        out = [fn(x) for x in items]
        costs[name] = (time.process_time() - started) / len(items) * 1e6
        return out

    packets = timed("encode PUBLISH (publisher)", lambda m: encode_publish(m[0].encode(), m[1], 7, v5=True), msgs)
    data = b"".join(packets)
    stock = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    stock.on_message = lambda c, u, m: None
    stock._manual_ack = True
    costs["paho receive path, stock (MQTTMessage + Properties each)"] = _receive_cost(stock, data, n)
    fast = FastClient("x")
    fast.on_deliveries = lambda batch: None
    costs["paho receive path, FastClient (buffered, batched)"] = _receive_cost(fast, data, n)
    topics = timed("topic parse", lambda m: parse_topic(m[0]), msgs)
    pairs = list(zip(topics, msgs, strict=True))
    read = timed("payload: JSON + checks against the type",
                 lambda tm: read_message(types[tm[0].device_type], tm[0].device_id, tm[0].kind, tm[1][1]), pairs)
    timed("credential (verified token cached)", lambda r: directory.verify(r[0].device_id, r[1]), read)
    timed("idempotency window (seen + add)",
          lambda r: window.seen(r[0].device_id, r[0].msg_id) or window.add(r[0].device_id, r[0].msg_id), read)
    timed("rule engine feed", lambda r: engine.feed(r[0], directory.facts(r[0].device_id)), read)
    print(f"  (e) CPU per message by stage ({n:,} messages over {n_devices:,} devices, one core, no network):")
    for name, us in costs.items():
        print(f"        {us:7.2f} µs  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", default="main", choices=["main", "publisher", "consumer"])
    parser.add_argument("--broker", default="")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--window", type=int, default=2_000, help="publisher: unacknowledged messages at most")
    parser.add_argument("--latency-rate", type=float, default=5_000)
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--no-store", action="store_true", help="(c): latency to the sink, without the alarm service")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: a,b,c,d,e")
    # roles
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--warm", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0)
    parser.add_argument("--seconds", type=float, default=0)
    parser.add_argument("--group", default="bench")
    parser.add_argument("--worker-id", default="w1")
    parser.add_argument("--store", action="store_true")
    parser.add_argument("--queue", type=int, default=1_000_000, help="consumer queue: a burst is absorbed")
    parser.add_argument("--profile", action="store_true", help="consumer: print a cProfile of the worker thread")
    args = parser.parse_args()
    if args.role == "publisher":
        return role_publisher(args)
    if args.role == "consumer":
        return role_consumer(args)
    run_all(args)
    return None


def run_all(args: argparse.Namespace) -> None:
    skip = set(args.skip.split(","))
    broker_proc = None
    if not args.broker:
        if not shutil.which("mosquitto"):
            sys.exit("mosquitto is not installed: pass --broker mqtt://host:port")
        args.broker, broker_proc, folder = private_broker()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; broker "
          f"{args.broker}{' (private Mosquitto, max_queued_messages 1000000)' if broker_proc else ''}; "
          f"{args.devices:,} simulated devices, default rules")
    try:
        raw = bench_raw(args) if "a" not in skip else float("nan")
        if "b" not in skip:
            bench_ours(args, raw)
        if "c" not in skip:
            bench_latency(args)
        if "d" not in skip:
            bench_memory(args.devices)
        if "e" not in skip:
            bench_stages(args.devices)
    finally:
        if broker_proc is not None:
            broker_proc.terminate()
            broker_proc.wait(10)
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
