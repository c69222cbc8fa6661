"""Latency of one loop transition over HTTP under 50 concurrent clients (the demo street on SQLite).

Run: .venv/bin/python bench/bench_api.py [--clients 50] [--seconds 15] [--rates 100,200,300,400]
Starts `chengyun serve [--workers N]` (sweep off) on a free port with the demo street in a temp
dir, a bearer token for the operator and a pool of dispatched cases, then measures in the same run:
  1. closed loop with wrk (Debian `wrk`, a C load tool, so the load generator takes little CPU): 50 connections
     sending back to back for the given time — `GET /healthz` (baseline) and `POST …/actions/urge` spread over the
     pool; this is saturation, where latency is the queue in front of the server;
  2. paced clients (open loop, Python asyncio): 50 clients together sending a fixed total rate, each request
     timed from the moment it was due (no coordinated omission) — the latency an operator sees at that load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx2 as httpx

SECRET = "bench-secret-bench-secret-bench-secret-0123"
POOL = 2000
WRK_SCRIPT = """
local numbers = {}
for line in io.lines(os.getenv("BENCH_CASES")) do numbers[#numbers + 1] = line end
wrk.method = "POST"
wrk.body = '{"note": "bench urge"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  local n = numbers[math.random(#numbers)]
  return wrk.format(nil, "/api/cases/" .. n .. "/actions/urge")
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(data_dir: Path, cases: int) -> tuple[str, list[str]]:
    """Demo street, a token for the operator, and a pool of dispatched cases."""
    from chengyun.bootstrap import bootstrap
    from chengyun.cases.model import Action, Request, Source
    from chengyun.cases.service import NewCase
    from chengyun.config import Settings
    from chengyun.demo.load import ensure_demo

    container = bootstrap(Settings(env="dev", secret_key=SECRET, data_dir=data_dir))
    container.migrate()
    ensure_demo(container, echo=lambda _: None)
    operator = container.auth.principal("operator")
    area = container.areas.get(operator, "510113002001001001")
    assert area.center_lon is not None and area.center_lat is not None
    numbers = []
    for i in range(cases):
        row = container.cases.open(operator, NewCase(Source.GRID, "0101", f"压测事件 {i}", area.center_lon,
                                                     area.center_lat))
        for action in (Action.REGISTER, Action.DISPATCH):
            container.cases.act(operator, row.number, Request(action))
        numbers.append(row.number)
    token = container.auth.issue_token("operator", "bench")
    container.engine.dispose()
    return token, numbers


def serve(data_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    """`chengyun serve --workers N` on the prepared data directory (sweep off), as an operator starts it."""
    env = {**os.environ, "CHENGYUN_DATA_DIR": str(data_dir), "CHENGYUN_SECRET_KEY": SECRET,
           "CHENGYUN_SWEEP_INTERVAL_S": "0"}
    return subprocess.Popen([sys.executable, "-m", "chengyun.cli", "serve", "--port", str(port), "--workers",
                             str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wrk(base: str, path: str, clients: int, seconds: float, env: dict[str, str], script: Path | None) -> str:
    """One wrk run; returns a summary line (req/s, percentiles, errors)."""
    cmd = ["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{int(seconds)}s", "--latency", "--timeout", "10s"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, base + path], capture_output=True, text=True, env={**os.environ, **env},
                         check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    pcts = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    timeouts = re.search(r"timeout (\d+)", out)
    return (f"{float(rate.group(1)) if rate else 0:8.1f} req/s   p50 {pcts.get('50', '?'):>8}   "
            f"p90 {pcts.get('90', '?'):>8}   p99 {pcts.get('99', '?'):>8}   "
            f"non-2xx {errors.group(1) if errors else 0}   timeouts {timeouts.group(1) if timeouts else 0}")


async def paced(base: str, token: str, numbers: list[str], clients: int, rate: float,
                seconds: float) -> tuple[list[float], Counter[int]]:
    """`clients` clients sending `rate` requests/s in total; latencies from each request's due time, statuses."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    interval = clients / rate
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=httpx.Limits(max_connections=clients),
                                 timeout=30) as client:
        start = time.perf_counter()

        async def one(k: int) -> None:
            rnd = random.Random(k)
            due = start + rnd.uniform(0, interval)
            while due < start + seconds:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                number = numbers[rnd.randrange(len(numbers))]
                response = await client.post(f"/api/cases/{number}/actions/urge", json={"note": "bench urge"})
                latencies.append(time.perf_counter() - due)
                statuses[response.status_code] += 1
                due += interval

        await asyncio.gather(*(one(k) for k in range(clients)))
    return latencies, statuses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rates", default="100,200,300,400", help="total request rates for the paced runs")
    parser.add_argument("--workers", type=int, default=1, help="server processes (chengyun serve --workers)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        token, numbers = prepare(data_dir, POOL)
        port = _free_port()
        server = serve(data_dir, port, args.workers)
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"{args.clients} concurrent clients, {args.seconds:.0f} s per run, SQLite, "
              f"{args.workers} server process(es), {POOL} dispatched cases; cpus={os.cpu_count()}")
        if shutil.which("wrk"):
            cases_file, script = data_dir / "cases.txt", data_dir / "urge.lua"
            cases_file.write_text("\n".join(numbers) + "\n")
            script.write_text(WRK_SCRIPT)
            env = {"BENCH_CASES": str(cases_file), "BENCH_TOKEN": token}
            print("  closed loop (wrk), GET /healthz      " + wrk(base, "/healthz", args.clients, args.seconds, env,
                                                                  None))
            print("  closed loop (wrk), POST …/urge       " + wrk(base, "/", args.clients, args.seconds, env, script))
        else:
            print("  closed loop: wrk not installed (apt-get install wrk), skipped")
        for rate in (float(r) for r in args.rates.split(",")):
            latencies, statuses = asyncio.run(paced(base, token, numbers, args.clients, rate, args.seconds))
            q = statistics.quantiles(latencies, n=100)
            print(f"  paced {rate:5.0f} req/s, POST …/urge   {len(latencies) / args.seconds:8.1f} req/s   "
                  f"p50 {q[49] * 1000:7.1f}ms   p90 {q[89] * 1000:7.1f}ms   p99 {q[98] * 1000:7.1f}ms   "
                  f"max {max(latencies) * 1000:7.1f}ms   not 200: {dict(statuses - Counter({200: statuses[200]}))}",
                  flush=True)
        server.terminate()
        server.wait(20)


if __name__ == "__main__":
    main()
