"""Full loop through the service layer on the demo street: open → … → follow-up (9 steps per case).

Run: .venv/bin/python bench/bench_loop.py [--cases 300] [--postgres postgresql+psycopg://postgres@127.0.0.1/test]
Prints cases per second and steps per second for SQLite (a file in a temp dir) and, when reachable, PostgreSQL
(a throwaway schema). Single process, one request at a time, with the real catalogue, duty list and calendar.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
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


def run(container: Container, cases: int) -> tuple[float, float]:
    """Cases per second and steps per second for `cases` full loops."""
    container.migrate()
    ensure_demo(container, echo=lambda _: None)
    who = {name: container.auth.principal(name) for name in ("operator", "handler")}
    area = container.areas.get(who["operator"], "510113002001001001")
    assert area.center_lon is not None and area.center_lat is not None
    start = time.perf_counter()
    for i in range(cases):
        row = container.cases.open(who["operator"], NewCase(Source.GRID, "0101", f"暴露垃圾 {i}", area.center_lon,
                                                            area.center_lat, reporter_phone="13800138000"))
        for name, action, data in STEPS:
            container.cases.act(who[name], row.number, Request(action, note="已处理", data=data))
    elapsed = time.perf_counter() - start
    return cases / elapsed, cases * (len(STEPS) + 1) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, python {platform.python_version()}; {args.cases} cases × 9 steps")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="dev", secret_key=SECRET, data_dir=Path(tmp))
        cps, sps = run(bootstrap(settings), args.cases)
        print(f"  SQLite     : {cps:8.1f} cases/s  ({sps:8.1f} steps/s)")
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:  # no PostgreSQL here: say so, do not fail the SQLite figure
            print(f"  PostgreSQL : not reachable ({type(exc).__name__})")
            return
        try:
            engine = make_engine(args.postgres, search_path=schema)
            cps, sps = run(bootstrap(settings, engine=engine), args.cases)
            print(f"  PostgreSQL : {cps:8.1f} cases/s  ({sps:8.1f} steps/s)")
            engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
