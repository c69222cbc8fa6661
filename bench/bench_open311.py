"""Open311 `POST /requests` under load: the demo street served by `chengyun serve`, on SQLite and PostgreSQL.

Run: .venv/bin/python bench/bench_open311.py [--workers 2] [--seconds 15] [--clients 50] [--rates 100,200]
         [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test] [--no-postgres]
For each database: the demo street in a temp dir (PostgreSQL: a throwaway schema), an api_key of a civic-app account,
then `chengyun serve --workers N` (sweep off) and, in the same run:
  1. closed loop with wrk (Debian `wrk`, a C load tool): `GET /healthz` (the baseline: the HTTP stack alone) and
     `POST /open311/v2/requests.json` (form-encoded, a random point of the street's 18 communities, a random
     service among the first ten) with `--clients` connections back to back for `--seconds`;
  2. wrk with fewer connections (10), where the server is busy but not queued;
  3. paced clients (Python asyncio, open loop): a fixed total rate, each request timed from its due moment.
Every POST stores a report and opens a case (one commit each): the whole intake path, not a stub.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import _free_port, wrk  # the same wrk runner and port helper

SECRET = "bench-secret-bench-secret-bench-secret-0123"
SERVICES = ["0101", "0103", "0104", "0105", "0106", "0201", "0601", "0602", "0801", "1203"]  # no required attributes
WRK_SCRIPT = """
local points = {}
for line in io.lines(os.getenv("BENCH_POINTS")) do points[#points + 1] = line end
local services = {"0101", "0103", "0104", "0105", "0106", "0201", "0601", "0602", "0801", "1203"}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  local p = points[math.random(#points)]
  local s = services[math.random(#services)]
  local body = "api_key=" .. os.getenv("BENCH_KEY") .. "&service_code=" .. s .. "&" .. p ..
               "&description=%E8%B7%AF%E8%BE%B9%E6%9C%89%E5%9E%83%E5%9C%BE%E9%9C%80%E8%A6%81%E6%B8%85%E7%90%86"
  return wrk.format(nil, "/open311/v2/requests.json", nil, body)
end
"""


def prepare(data_dir: Path, database_url: str | None) -> tuple[str, list[str]]:
    """Demo street, a civic-app account with an api_key, and points (lat=…&long=…) inside its communities."""
    from chengyun.auth.model import Role
    from chengyun.bootstrap import bootstrap
    from chengyun.config import Settings
    from chengyun.demo.load import DEMO_STREET, ensure_demo

    settings = Settings(env="dev", secret_key=SECRET, data_dir=data_dir, database_url=database_url or "")
    container = bootstrap(settings)
    container.migrate()
    ensure_demo(container, echo=lambda _: None)
    container.auth.create_user(username="civicapp", display_name="Civic app", role=Role.RESIDENT,
                               scope_code=DEMO_STREET)
    key = container.auth.issue_token("civicapp", "bench")
    app = container.auth.principal("civicapp")
    points = []
    for community in container.areas.children(app, DEMO_STREET):
        for grid in container.areas.children(app, community.code):
            if grid.center_lat is not None and grid.center_lon is not None:
                points.append(f"lat={grid.center_lat:.6f}&long={grid.center_lon:.6f}")
    container.engine.dispose()
    return key, points


def serve(data_dir: Path, port: int, workers: int, database_url: str | None) -> object:
    import subprocess

    env = {**os.environ, "CHENGYUN_DATA_DIR": str(data_dir), "CHENGYUN_SECRET_KEY": SECRET,
           "CHENGYUN_SWEEP_INTERVAL_S": "0"}
    if database_url:
        env["CHENGYUN_DATABASE_URL"] = database_url
    return subprocess.Popen([sys.executable, "-m", "chengyun.cli", "serve", "--port", str(port), "--workers",
                             str(workers)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def paced(base: str, key: str, points: list[str], clients: int, rate: float,
                seconds: float) -> tuple[list[float], Counter[int]]:
    """`clients` clients posting `rate` requests/s in total; latency from each request's due time."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    interval = clients / rate
    async with httpx.AsyncClient(base_url=base, limits=httpx.Limits(max_connections=clients), timeout=30) as client:
        start = time.perf_counter()

        async def one(k: int) -> None:
            rnd = random.Random(k)
            due = start + rnd.uniform(0, interval)
            while due < start + seconds:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                lat, lon = (part.split("=")[1] for part in points[rnd.randrange(len(points))].split("&"))
                response = await client.post("/open311/v2/requests.json", data={
                    "api_key": key, "service_code": rnd.choice(SERVICES), "lat": lat, "long": lon,
                    "description": "路边有垃圾需要清理"})
                latencies.append(time.perf_counter() - due)
                statuses[response.status_code] += 1
                due += interval

        await asyncio.gather(*(one(k) for k in range(clients)))
    return latencies, statuses


def run(label: str, args: argparse.Namespace, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        key, points = prepare(data_dir, database_url)
        port = _free_port()
        server = serve(data_dir, port, args.workers, database_url)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"{label}: {args.workers} server process(es), {args.seconds:.0f} s per run, cpus={os.cpu_count()}",
              flush=True)
        if shutil.which("wrk"):
            points_file, script = data_dir / "points.txt", data_dir / "post.lua"
            points_file.write_text("\n".join(points) + "\n")
            script.write_text(WRK_SCRIPT)
            env = {"BENCH_POINTS": str(points_file), "BENCH_KEY": key}
            print(f"  wrk {args.clients} conns, GET /healthz        " +
                  wrk(base, "/healthz", args.clients, args.seconds, env, None), flush=True)
            for clients in (args.clients, 10):
                print(f"  wrk {clients:2d} conns, POST requests.json " +
                      wrk(base, "/", clients, args.seconds, env, script), flush=True)
        else:
            print("  wrk not installed (apt-get install wrk): closed-loop runs skipped")
        for rate in (float(r) for r in args.rates.split(",") if r):
            latencies, statuses = asyncio.run(paced(base, key, points, args.clients, rate, args.seconds))
            q = statistics.quantiles(latencies, n=100)
            print(f"  paced {rate:4.0f}/s, POST requests.json  {len(latencies) / args.seconds:7.1f} req/s   "
                  f"p50 {q[49] * 1000:6.1f}ms   p90 {q[89] * 1000:6.1f}ms   p99 {q[98] * 1000:6.1f}ms   "
                  f"statuses {dict(statuses)}", flush=True)
        server.terminate()  # type: ignore[attr-defined]
        server.wait(20)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rates", default="100,200", help="total rates of the paced runs (below saturation)")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.no_sqlite:
        run("SQLite", args, None)
    if args.no_postgres:
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in args.postgres else "?"
        run("PostgreSQL", args, f"{args.postgres}{sep}options=-csearch_path%3D{schema}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
