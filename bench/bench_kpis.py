"""KPI page time: the three reports of the KPI page (by community, by level, by day) at N/10 and N cases.

Run: .venv/bin/python bench/bench_kpis.py [--cases 1000000] [--postgres URL]
Fills a migrated database (a SQLite file in a temp dir, or a throwaway PostgreSQL schema) with cases spread
uniformly over the two years before "now" across the demo street's 18 communities (bulk insert, no real demo),
first N/10 then the rest. For each size it times, in the same run:
  - the page read live from the cases table (the baseline: no rollup yet),
  - a full rollup build, then the page read from the rollup (past days) plus today live,
  - an incremental refresh after 1,000 of today's cases changed, and the page again.
Scopes: the street operator's (the whole street) and a community operator's; windows of 30 and 365 days.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, create_engine, delete, insert, select, text, update
from sqlalchemy.orm import Session

from chengyun.areas.tables import AreaRow
from chengyun.cases.kpis import GroupBy, KpiQuery
from chengyun.cases.rollup import overview, refresh
from chengyun.cases.tables import CaseRow, KpiDailyRow, KpiRollupStateRow
from chengyun.db.engine import make_engine
from chengyun.db.migrate import upgrade

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
STREET = "510113002000"
STREET_PATH = "/510100000000/510113000000/510113002000/"
COMMUNITIES = [f"510113002{i:03d}" for i in range(1, 19)]
LEVELS = ["property", "community", "community", "street", "street", "district", "city"]
STATES = ["registered", "dispatched", "claimed", "handling", "closed", "followed_up", "followed_up", "rejected"]
RATINGS = ["satisfied", "satisfied", "basically_satisfied", "unsatisfied"]
CASES = CaseRow.metadata.tables["cases"]
OFFSET = 480  # Asia/Shanghai, minutes east of UTC


def seed_areas(engine: Engine) -> None:
    """City, district, street and the 18 communities (no polygons needed for KPIs)."""
    rows = [("510100000000", "city", None, "/510100000000/"),
            ("510113000000", "district", "510100000000", "/510100000000/510113000000/"),
            (STREET, "street", "510113000000", STREET_PATH)]
    rows += [(c, "community", STREET, f"{STREET_PATH}{c}/") for c in COMMUNITIES]
    with Session(engine) as session, session.begin():
        session.execute(insert(AreaRow), [{"code": c, "name": c, "level": lv, "parent_code": p, "path": path,
                                           "updated_at": NOW} for c, lv, p, path in rows])


def fake_case(n: int, rnd: random.Random, phones: int) -> dict[str, Any]:
    """One case with plausible timestamps; about 70% carry a phone hash drawn from a pool (repeat reporters)."""
    community = rnd.choice(COMMUNITIES)
    reported = NOW - timedelta(seconds=rnd.randrange(730 * 86400))
    state = rnd.choice(STATES)
    row: dict[str, Any] = {
        "number": f"B-{n:09d}", "source": "grid", "category_code": f"0{rnd.randrange(1, 10)}0{rnd.randrange(1, 6)}",
        "urgency": "normal", "state": state, "version": 1, "title": "t", "description": "d",
        "area_code": community, "area_path": f"{STREET_PATH}{community}/", "community_code": community,
        "handling_level": rnd.choice(LEVELS), "reported_at": reported, "updated_at": reported,
        "reporter_phone_hash": f"{rnd.randrange(phones):016x}" if rnd.random() < 0.7 else None,
        "repeat_report": rnd.random() < 0.2,
        "lead_unit": None, "dispatched_at": None, "claim_due": None, "handling_due": None, "claimed_at": None,
        "closed_at": None, "rating": None, "returns": 0,
    }
    if state in ("registered", "rejected"):
        return row
    dispatched = reported + timedelta(minutes=rnd.randrange(10, 600))
    row.update(lead_unit=f"u{rnd.randrange(40)}", dispatched_at=dispatched, claim_due=dispatched + timedelta(hours=8),
               handling_due=dispatched + timedelta(days=5), returns=int(rnd.random() < 0.1))
    if state != "dispatched":
        row["claimed_at"] = dispatched + timedelta(minutes=rnd.randrange(5, 900))
    if state in ("closed", "followed_up"):
        row["closed_at"] = dispatched + timedelta(hours=rnd.randrange(1, 160))
    if state == "followed_up":
        row["rating"] = rnd.choice(RATINGS)
    return row


def fill(engine: Engine, start: int, stop: int, phones: int, chunk: int = 20_000) -> float:
    """Insert cases start..stop-1 in chunks; returns seconds."""
    rnd = random.Random(start)
    began = time.perf_counter()
    for lo in range(start, stop, chunk):
        rows = [fake_case(n, rnd, phones) for n in range(lo, min(lo + chunk, stop))]
        with Session(engine) as session, session.begin():
            session.execute(insert(CASES), rows)  # Core executemany: the ORM path goes row by row
    analyse(engine)
    return time.perf_counter() - began


def timed(engine: Engine, scope: str, days: int, repeat: int) -> tuple[float, int]:
    """Median seconds of the KPI page's reports over the last `days` local days, and the cases counted."""
    last = NOW.astimezone(TZ).date() + timedelta(days=1)
    query = KpiQuery.local(scope, GroupBy.COMMUNITY, last - timedelta(days=days), last, TZ)
    times, cases = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        with Session(engine) as session:
            result = overview(session, query)
        times.append(time.perf_counter() - began)
        cases = result.by_place.total.counts.cases
    return statistics.median(times), cases


def page_times(engine: Engine, n: int, label: str, repeat: int) -> None:
    for who, scope in (("street", STREET_PATH), ("community", f"{STREET_PATH}{COMMUNITIES[0]}/")):
        for days in (30, 365):
            secs, cases = timed(engine, scope, days, repeat)
            print(f"  N={n:>9,}  {label:<26} scope={who:<9} {days:>3} days  cohort={cases:>8,}  "
                  f"{secs * 1000:8.1f} ms", flush=True)


def refresh_timed(engine: Engine, full: bool) -> float:
    began = time.perf_counter()
    with Session(engine) as session, session.begin():
        refresh(session, NOW, OFFSET, full=full)
    return time.perf_counter() - began


def touch_today(engine: Engine, count: int) -> None:
    """Mark `count` of the newest cases as changed now, as steps on them would."""
    with Session(engine) as session, session.begin():
        ids = session.scalars(select(CaseRow.id).order_by(CaseRow.reported_at.desc()).limit(count)).all()
        session.execute(update(CaseRow).where(CaseRow.id.in_(ids)).values(updated_at=NOW, state="closed",
                                                                          closed_at=NOW))


def measure(engine: Engine, n: int, repeat: int) -> None:
    """The page live, then after a full rollup, then after an incremental refresh."""
    with Session(engine) as session, session.begin():
        session.execute(delete(KpiRollupStateRow))
        session.execute(delete(KpiDailyRow))
    page_times(engine, n, "live (no rollup)", repeat)
    print(f"  N={n:>9,}  full rollup build {refresh_timed(engine, True):.1f} s", flush=True)
    page_times(engine, n, "rollup + today live", repeat)
    touch_today(engine, 1000)
    print(f"  N={n:>9,}  refresh after 1,000 changed cases {refresh_timed(engine, False) * 1000:.0f} ms", flush=True)
    page_times(engine, n, "after refresh", repeat)


def analyse(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="PostgreSQL URL: measure there (a throwaway schema) instead of SQLite")
    args = parser.parse_args()
    print(f"bench_kpis {date.today()} python {platform.python_version()} {platform.machine()} "
          f"cpus={os.cpu_count()} {'postgresql' if args.postgres else 'sqlite'}")
    with tempfile.TemporaryDirectory() as tmp:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        if args.postgres:
            admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine = make_engine(args.postgres, search_path=schema)
        else:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'kpis.db'}")
        try:
            upgrade(engine)
            seed_areas(engine)
            phones = max(args.cases // 3, 1)
            tenth = args.cases // 10
            print(f"filled {tenth:,} cases in {fill(engine, 0, tenth, phones):.1f} s", flush=True)
            measure(engine, tenth, args.repeat)
            print(f"filled {args.cases - tenth:,} more cases in {fill(engine, tenth, args.cases, phones):.1f} s",
                  flush=True)
            measure(engine, args.cases, args.repeat)
        finally:
            engine.dispose()
            if args.postgres:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
