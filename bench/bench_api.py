"""Latency of one loop transition over HTTP under concurrent clients (the demo street on SQLite).

Run: .venv/bin/python bench/bench_api.py [--clients 50] [--seconds 20]
Starts `chengyun serve`-equivalent uvicorn (one worker process) on a free port with the demo street in a temp dir,
gives every client its own dispatched case (so no client waits on another's version lock), and has each client
send `urge` on its case back to back for the given time through a bearer token. Prints requests/s and the
p50/p95/p99/max latency. A baseline in the same run: the same clients on `GET /healthz` (one trivial query).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import statistics
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

SECRET = "bench-secret-bench-secret-bench-secret-0123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(data_dir: Path, clients: int) -> tuple[str, list[str]]:
    """Demo street, a token for the operator, and one dispatched case per client."""
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
    for i in range(clients):
        row = container.cases.open(operator, NewCase(Source.GRID, "0101", f"压测事件 {i}", area.center_lon,
                                                     area.center_lat))
        for action in (Action.REGISTER, Action.DISPATCH):
            container.cases.act(operator, row.number, Request(action))
        numbers.append(row.number)
    token = container.auth.issue_token("operator", "bench")
    container.engine.dispose()
    return token, numbers


def serve(data_dir: Path, port: int) -> None:
    """The web server in its own process, as `chengyun serve` runs it (sweep off)."""
    import uvicorn

    from chengyun.bootstrap import bootstrap
    from chengyun.config import Settings
    from chengyun.web.app import create_app

    container = bootstrap(Settings(env="dev", secret_key=SECRET, data_dir=data_dir, port=port, sweep_interval_s=0))
    uvicorn.run(create_app(container), host="127.0.0.1", port=port, log_level="warning")


async def hammer(base: str, token: str, paths: list[tuple[str, str]], seconds: float) -> list[float]:
    """Each (method, path) is one client sending requests back to back; returns all latencies (s)."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=len(paths))
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + seconds

        async def one(method: str, path: str) -> None:
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.request(method, path, json={"note": "压测督办"} if method == "POST" else None)
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

        await asyncio.gather(*(one(m, p) for m, p in paths))
    return latencies


def report(name: str, latencies: list[float], seconds: float) -> None:
    """Print throughput and latency percentiles."""
    q = statistics.quantiles(latencies, n=100)
    print(f"  {name:28} {len(latencies) / seconds:8.1f} req/s   p50 {q[49] * 1000:7.1f} ms   "
          f"p95 {q[94] * 1000:7.1f} ms   p99 {q[98] * 1000:7.1f} ms   max {max(latencies) * 1000:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        token, numbers = prepare(data_dir, args.clients)
        port = _free_port()
        server = multiprocessing.get_context("spawn").Process(target=serve, args=(data_dir, port), daemon=True)
        server.start()
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"{args.clients} concurrent clients, {args.seconds:.0f} s each run, SQLite, one uvicorn process")
        health = asyncio.run(hammer(base, token, [("GET", "/healthz")] * args.clients, args.seconds))
        report("GET /healthz (baseline)", health, args.seconds)
        urge = asyncio.run(hammer(base, token, [("POST", f"/api/cases/{n}/actions/urge") for n in numbers],
                                  args.seconds))
        report("POST …/actions/urge", urge, args.seconds)
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
