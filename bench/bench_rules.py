"""Rule engine throughput, tick cost and memory per device with the default rules.

Run: .venv/bin/python bench/bench_rules.py [--devices 100000] [--readings 1000000] [--memory 100000,1000000]
Prints readings/s through `RuleEngine.feed` (one Python call per reading, as the ingest path uses it) for a mix of
the default device types sending normal telemetry, events and heartbeats (a few alarms fire and clear on the way);
the cost of `tick` with nothing due and with 1% of the devices going offline at once; and the bytes the engine
holds per device (tracemalloc; device facts and ids belong to the device directory and are allocated outside).
One core: the process pins itself to CPU 0 where the OS allows it; rates are per CPU second of this process (the
wall-clock rate is printed beside it, and is lower whenever other work shares the core).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import time
import tracemalloc
from collections.abc import Iterator

from chengyun.alarms.engine import RuleEngine
from chengyun.alarms.rules import default_rules
from chengyun.devices.model import DeviceFacts, MessageKind, Reading

T0 = 1_767_225_600.0  # 2026-01-01 08:00 Asia/Shanghai
MIX = [("gas_detector", 20), ("smoke_detector", 20), ("water_meter", 20), ("sos_button", 8), ("door_sensor", 12),
       ("hydrant_pressure", 5), ("water_immersion", 10), ("thermal_camera", 5)]


def make_devices(n: int, seed: int = 7) -> list[DeviceFacts]:
    """`n` devices of the default types; households of a gas detector, a water meter and a door sensor."""
    rng = random.Random(seed)
    types = [code for code, weight in MIX for _ in range(weight)]
    devices = []
    for k in range(n):
        code = rng.choice(types)
        household = f"510113002001/{k // 40}/{(k // 4) % 10}" if code in {"water_meter", "door_sensor"} else None
        resident = k if code == "water_meter" and k % 5 == 0 else None
        devices.append(DeviceFacts(f"dev-{k:07d}", code, "510113002001", "/510113/510113002/510113002001/",
                                   ("B-1",), household, resident))
    return devices


def _values(code: str, rng: random.Random, k: int) -> tuple[MessageKind, dict[str, object]]:
    if rng.random() < 0.15:
        return MessageKind.HEARTBEAT, {"battery": 80 + rng.random() * 20}
    if code == "gas_detector":
        return MessageKind.TELEMETRY, {"gas_lel": 25.0 if rng.random() < 0.001 else rng.random() * 3,
                                       "battery": 90.0}
    if code == "smoke_detector":
        return MessageKind.TELEMETRY, {"smoke": rng.random() < 0.001, "battery": 90.0}
    if code == "water_meter":
        return MessageKind.TELEMETRY, {"water_total": 10.0 + k * 0.01, "flow": 0.2}
    if code == "sos_button":
        return MessageKind.EVENT if rng.random() < 0.001 else MessageKind.HEARTBEAT, \
            {"event": "sos_pressed"} if rng.random() < 0.001 else {"battery": 88.0}
    if code == "door_sensor":
        return MessageKind.EVENT, {"event": "door_opened" if rng.random() < 0.5 else "door_closed"}
    if code == "hydrant_pressure":
        return MessageKind.TELEMETRY, {"pressure": 0.3 + rng.random() * 0.05}
    if code == "water_immersion":
        return MessageKind.TELEMETRY, {"water_leak": rng.random() < 0.001}
    return MessageKind.TELEMETRY, {"temp_max": 25.0 + rng.random() * 5}


def readings(devices: list[DeviceFacts], total: int, period: float = 60.0, seed: int = 11) \
        -> Iterator[tuple[Reading, DeviceFacts]]:
    """`total` readings, the devices taking turns so each reports every `period` seconds."""
    rng = random.Random(seed)
    n = len(devices)
    for k in range(total):
        device = devices[k % n]
        kind, values = _values(device.type_code, rng, k // n)
        yield Reading(device.device_id, device.type_code, kind, T0 + k * period / n, values, str(k)), device


def bench_feed(devices: list[DeviceFacts], total: int) -> RuleEngine:
    """Readings per second through feed, on pre-built readings."""
    engine = RuleEngine(default_rules())
    warm = list(readings(devices, len(devices), seed=1))
    for reading, device in warm:  # every device admitted and its states created before timing
        engine.feed(reading, device)
    items = [(Reading(r.device_id, r.type_code, r.kind, r.ts + 120, r.values, r.msg_id), d)
             for r, d in readings(devices, total)]
    feed = engine.feed
    fired = 0
    gc.collect()
    started, wall = time.process_time(), time.perf_counter()
    for reading, device in items:
        if feed(reading, device):
            fired += 1
    elapsed, wall = time.process_time() - started, time.perf_counter() - wall
    print(f"  feed  : {total / elapsed:12,.0f} readings per CPU second ({total / wall:,.0f}/s wall clock; {total:,} "
          f"readings over {len(devices):,} devices, {fired:,} with transitions)")
    return engine


def bench_tick(engine: RuleEngine, devices: list[DeviceFacts], total: int) -> None:
    """tick with nothing due; then one tick over the hour in which 1% of the devices went quiet, the rest sending
    a heartbeat: it pops the quiet devices' deadlines and requeues the others' (a deadline moved by newer readings
    is requeued once when its old instant comes, so that work is spread over time, one per device per timeout)."""
    now = T0 + 125
    calls = 10_000
    started = time.process_time()
    for k in range(calls):
        engine.tick(now + k * 1e-4)
    idle = (time.process_time() - started) / calls
    print(f"  tick  : {idle * 1e6:8.2f} µs per call with nothing due ({engine.device_count:,} devices, "
          f"{engine.queued:,} heap entries)")
    end_of_feed = T0 + 120 + total * 60.0 / len(devices)
    offline_at = end_of_feed + 3600 + 1  # past every default offline timeout for the devices that went quiet
    quiet = devices[: len(devices) // 100]
    for device in devices[len(devices) // 100:]:
        engine.feed(Reading(device.device_id, device.type_code, MessageKind.HEARTBEAT, offline_at - 60, {}, "hb"),
                    device)
    before = engine.queued
    started = time.process_time()
    fired = engine.tick(offline_at)
    busy = time.process_time() - started
    offline = sum(1 for t in fired if t.rule_id == "device_offline")
    print(f"  tick  : {busy * 1e3:8.1f} ms for one tick over an hour: {len(fired):,} transitions "
          f"({offline:,} offline of {len(quiet):,} quiet devices), heap {before:,} -> {engine.queued:,} entries "
          f"(CPU time)")


def bench_memory(n: int) -> float:
    """Bytes the engine holds per device after each device sent two readings (tracemalloc)."""
    devices = make_devices(n)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    engine = RuleEngine(default_rules())
    for reading, device in readings(devices, 2 * n):
        engine.feed(reading, device)
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    per = held / n
    print(f"  memory: {per:8.0f} bytes per device at {n:>9,} devices ({held / 2**20:,.1f} MiB held, "
          f"{engine.queued:,} heap entries)")
    return per


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--memory", default="100000,1000000", help="device counts for the memory figure")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python "
          f"{platform.python_version()}; default rules: {len(default_rules().rules)}")
    devices = make_devices(args.devices)
    engine = bench_feed(devices, args.readings)
    bench_tick(engine, devices, args.readings)
    del engine
    for n in (int(x) for x in args.memory.split(",") if x.strip()):
        bench_memory(n)


if __name__ == "__main__":
    main()
