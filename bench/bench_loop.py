"""Full loop through the service layer on the demo street: open → … → follow-up (9 steps per case).

Run: .venv/bin/python bench/bench_loop.py [--cases 300] [--postgres postgresql+psycopg://postgres@127.0.0.1/test]
Prints cases per second and steps per second for SQLite (a file in a temp dir) and, when reachable, PostgreSQL
(a throwaway schema), in three set-ups measured in the same run:
  - 1 process × 1 client: one request at a time (the baseline);
  - 1 process × 8 clients: threads sharing one container, as one `chengyun serve` process serves requests;
  - 2 processes × 8 clients: as two server processes on the machine's two cores.
Every client drives its own cases through the real catalogue, duty list, working calendar and audit log, and each
step commits on its own.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from chengyun.bootstrap import Container, bootstrap
from chengyun.cases.model import Action, Request, Source
from chengyun.cases.service import NewCase
from chengyun.config import Settings
from chengyun.db.engine import make_engine
from chengyun.demo.load import ensure_demo

SECRET = "bench-secret-bench-secret-bench-secret-0123"
STEPS = [("operator", Action.REGISTER, {}), ("operator", Action.DISPATCH, {}), ("handler", Action.CLAIM, {}),
         ("handler", Action.HANDLE, {}), ("handler", Action.SUBMIT_RESULT, {}),
         ("operator", Action.VERIFY_PASS, {}), ("operator", Action.CLOSE, {}),
         ("operator", Action.FOLLOW_UP, {"rating": "satisfied"})]
SETUPS = [(1, 1), (2, 1), (1, 8), (2, 8)]


def container_for(data_dir: str, postgres: str | None, schema: str | None) -> Container:
    """A container on the benchmark's database (SQLite in `data_dir`, or the PostgreSQL schema)."""
    settings = Settings(env="dev", secret_key=SECRET, data_dir=Path(data_dir))
    if postgres is None:
        return bootstrap(settings)
    return bootstrap(settings, engine=make_engine(postgres, search_path=schema))


def loops(container: Container, cases: int) -> None:
    """`cases` full loops, one step after another."""
    who = {name: container.auth.principal(name) for name in ("operator", "handler")}
    area = container.areas.get(who["operator"], "510113002001001001")
    assert area.center_lon is not None and area.center_lat is not None
    for i in range(cases):
        row = container.cases.open(who["operator"], NewCase(Source.GRID, "0101", f"暴露垃圾 {i}", area.center_lon,
                                                            area.center_lat, reporter_phone="13800138000"))
        for name, action, data in STEPS:
            container.cases.act(who[name], row.number, Request(action, note="已处理", data=data))


def process_main(data_dir: str, postgres: str | None, schema: str | None, clients: int, cases: int,
                 ready: mp.Barrier, finished: mp.Queue) -> None:  # type: ignore[valid-type]
    """One server-like process: `clients` threads over one container, started together with the others; reports
    when its last loop ended (the clock is the machine's monotonic one, shared by all processes)."""
    container = container_for(data_dir, postgres, schema)
    loops(container, 2)  # warm the caches (catalogue, duty list, area index, compiled statements)
    failures: list[BaseException] = []

    def client() -> None:
        try:
            loops(container, cases)
        except BaseException as exc:  # a client that died would make the run look faster: the process fails
            failures.append(exc)
            raise

    threads = [threading.Thread(target=client) for _ in range(clients)]
    ready.wait(timeout=300)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    finished.put(time.monotonic())
    container.engine.dispose()
    if failures:
        raise SystemExit(f"{len(failures)} client(s) failed: {failures[0]!r}")


def measure(data_dir: str, postgres: str | None, schema: str | None, processes: int, clients: int,
            cases: int) -> tuple[float, float]:
    """Cases per second over all processes and clients, from the common start to the last loop's end (not
    counting the processes' exit), and the machine's CPU time per case meanwhile (database server included)."""
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(processes + 1)
    finished = ctx.Queue()
    per_client = max(1, cases // (processes * clients))
    procs = [ctx.Process(target=process_main, args=(data_dir, postgres, schema, clients, per_client, ready,
                                                    finished))
             for _ in range(processes)]
    for p in procs:
        p.start()
    ready.wait(timeout=300)  # a process that died before the start breaks the barrier instead of hanging the run
    start, busy_at_start = time.monotonic(), machine_busy_s()
    ends = [finished.get(timeout=600) for _ in procs]
    busy = machine_busy_s() - busy_at_start
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a benchmark process failed (exit {p.exitcode})")
    cases_done = per_client * processes * clients
    return cases_done / (max(ends) - start), busy * 1000 / cases_done


def machine_busy_s() -> float:
    """CPU seconds all cores spent busy (user, system, interrupts) since boot: client and database server alike."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle and I/O wait


def run_all(label: str, data_dir: str, postgres: str | None, schema: str | None, cases: int,
            setups: list[tuple[int, int]]) -> None:
    setup = container_for(data_dir, postgres, schema)
    setup.migrate()
    ensure_demo(setup, echo=lambda _: None)
    setup.engine.dispose()
    for processes, clients in setups:
        cps, cpu_ms = measure(data_dir, postgres, schema, processes, clients, cases)
        print(f"  {label:<10} {processes} process × {clients} clients: {cps:8.1f} cases/s "
              f"({cps * (len(STEPS) + 1):8.1f} steps/s), machine CPU {cpu_ms:5.2f} ms per case", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=400, help="cases per set-up")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--databases", default="sqlite,postgresql", help="which of sqlite,postgresql to run")
    parser.add_argument("--setups", default=",".join(f"{p}x{c}" for p, c in SETUPS),
                        help="processes×clients set-ups, e.g. 1x1,2x8")
    args = parser.parse_args()
    setups = [(int(p), int(c)) for p, c in (item.split("x") for item in args.setups.split(","))]
    databases = set(args.databases.split(","))
    print(f"machine: {platform.machine()}, python {platform.python_version()}; {args.cases} cases × 9 steps "
          "per set-up")
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in databases:
            run_all("SQLite", tmp, None, None, args.cases, setups)
        if "postgresql" not in databases:
            return
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:  # no PostgreSQL here: say so, do not fail the SQLite figures
            print(f"  PostgreSQL : not reachable ({type(exc).__name__})")
            return
        try:
            run_all("PostgreSQL", tmp, args.postgres, schema, args.cases, setups)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
