"""Device hot path, in one process on one core: payload checks per second, credential checks, directory memory.

Run: .venv/bin/python bench/bench_devices.py [--messages 300000] [--devices 100000]
  1. `read_message` over a realistic mix of telemetry (ISO and epoch times), events and heartbeats of the eight
     default types, and over malformed messages (refused with `Invalid`);
  2. `DeviceDirectory.verify`: the first check of a device's token (one HMAC-SHA256) and the next ones (cached);
  3. the directory's memory per device (tracemalloc) for `--devices` devices of the demo's shape.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chengyun.devices.catalogue import DeviceType, load_device_types
from chengyun.devices.directory import DeviceDirectory, credential_key, new_token, token_hash
from chengyun.devices.model import DeviceFacts, MessageKind
from chengyun.devices.payload import read_message
from chengyun.errors import Invalid

WARM = 20_000  # tokens verified while memory is traced
TOKEN = "Zr3bN0Q8v9mHk2LxYp4sWc7tJd1eFg6A"


def _messages(types: dict[str, DeviceType], n: int, rng: random.Random) -> list[tuple[DeviceType, MessageKind, bytes]]:
    """Telemetry 80 % (half ISO, half epoch times), heartbeats 15 %, events 5 %."""
    samples = {"gas_detector": {"gas_lel": 1.5, "battery": 88}, "smoke_detector": {"smoke": False},
               "water_meter": {"water_total": 1234.567, "flow": 0.12}, "hydrant_pressure": {"pressure": 0.32},
               "water_immersion": {"water_leak": False}, "thermal_camera": {"temp_max": 31.5}}
    out = []
    for i in range(n):
        roll = rng.random()
        ts: object = "2026-12-04T08:00:00.123+08:00" if i % 2 else 1796342400.123
        if roll < 0.80:
            code = rng.choice(list(samples))
            kind, values = MessageKind.TELEMETRY, samples[code]
        elif roll < 0.95:
            code, kind, values = rng.choice(list(types)), MessageKind.HEARTBEAT, {"battery": 77, "rssi": -71}
        else:
            code, kind, values = "door_sensor", MessageKind.EVENT, {"event": "door_opened"}
        body = {"msg_id": f"{i:012d}", "ts": ts, "token": TOKEN, "values": values}
        out.append((types[code], kind, json.dumps(body, separators=(",", ":")).encode()))
    return out


def _bad(types: dict[str, DeviceType], n: int) -> list[tuple[DeviceType, MessageKind, bytes]]:
    gas = types["gas_detector"]
    shapes = [b'{"msg_id":"1","ts":1796342400,"values":{"gas_lel":120}}', b'{"msg_id":"1","values":{"gas_lel":1}}',
              b'{"msg_id":"1","ts":1796342400,"values":{"smoke":true}}', b"\xff\xfe not json", b"[1,2,3]"]
    return [(gas, MessageKind.TELEMETRY, shapes[i % len(shapes)]) for i in range(n)]


def bench_payloads(types: dict[str, DeviceType], n: int) -> None:
    good = _messages(types, n, random.Random(7))
    start = time.perf_counter()
    for kind_type, kind, payload in good:
        read_message(kind_type, "GAS-000001", kind, payload)
    elapsed = time.perf_counter() - start
    print(f"read_message, valid mix:    {n / elapsed:>10,.0f} messages/s  ({elapsed / n * 1e6:.2f} µs each; "
          f"mean payload {sum(len(p) for *_, p in good) / n:.0f} bytes)")
    bad = _bad(types, n // 3)
    start = time.perf_counter()
    for kind_type, kind, payload in bad:
        with contextlib.suppress(Invalid):
            read_message(kind_type, "GAS-000001", kind, payload)
    elapsed = time.perf_counter() - start
    print(f"read_message, refused:      {len(bad) / elapsed:>10,.0f} messages/s  "
          f"({elapsed / len(bad) * 1e6:.2f} µs each)")


def _facts(n: int) -> DeviceFacts:
    building = f"cmp-{n // 400:03d}-{n // 40 % 10:02d}"
    return DeviceFacts(f"GAS-{n:07d}", "gas_detector", f"510113002{n // 20000:03d}001",
                       f"/510100000000/510113000000/510113002000/510113002{n // 20000:03d}/"
                       f"510113002{n // 20000:03d}001/", (building, building[:7]), f"{building}/1/{n % 40}", None)


def bench_directory(types: dict[str, DeviceType], devices: int) -> None:
    key = credential_key("bench-secret-bench-secret-bench-secret-0123")
    tokens = [new_token() for _ in range(devices)]
    hashes = [token_hash(key, t) for t in tokens]
    facts = [_facts(n) for n in range(devices)]
    ids, warm_ids, warm_tokens = [f.device_id for f in facts], [f.device_id for f in facts[:WARM]], tokens[:WARM]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    directory = DeviceDirectory(key, types)
    for f, h in zip(facts, hashes, strict=True):
        directory.put(f, h)
    loaded = tracemalloc.get_traced_memory()[0]
    for device_id, token in zip(warm_ids, warm_tokens, strict=True):
        directory.verify(device_id, token)
    per_token = (tracemalloc.get_traced_memory()[0] - loaded) / WARM
    tracemalloc.stop()
    start = time.perf_counter()
    for device_id, token in zip(ids[WARM:], tokens[WARM:], strict=True):
        directory.verify(device_id, token)
    first = (time.perf_counter() - start) / (devices - WARM)
    start = time.perf_counter()
    for device_id, token in zip(ids, tokens, strict=True):
        directory.verify(device_id, token)
    again = (time.perf_counter() - start) / devices
    print(f"verify, first (HMAC):       {1 / first:>10,.0f} checks/s  ({first * 1e6:.2f} µs each)")
    print(f"verify, cached:             {1 / again:>10,.0f} checks/s  ({again * 1e6:.2f} µs each)")
    print(f"directory memory:           {(loaded - before) / devices:>10.0f} bytes/device loaded, "
          f"+{per_token:.0f} once its token is verified ({devices:,} devices; device ids included, strings shared "
          f"between devices counted once)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300_000)
    parser.add_argument("--devices", type=int, default=100_000)
    args = parser.parse_args()
    types = load_device_types()
    print(f"Python {sys.version.split()[0]}, one thread")
    bench_payloads(types, args.messages)
    bench_directory(types, args.devices)


if __name__ == "__main__":
    main()
