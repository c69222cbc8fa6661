"""KPI query time on SQLite: the community-grouped report for a 30-day and a 365-day window, at N/10 and N cases.

Run: .venv/bin/python bench/bench_kpis.py [--cases 1000000] [--index]
Fills a migrated SQLite file in a temp dir with cases spread uniformly over the two years before "now" across
the demo street's 18 communities (bulk insert, no real demo), first N/10 then the rest, and times the street
operator's query (scope = the street) and a community operator's (scope = one community). With --index it
repeats each measurement after creating candidate indexes ad hoc, so both figures come from the same data.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from chengyun.areas.tables import AreaRow
from chengyun.cases.kpis import GroupBy, KpiQuery
from chengyun.cases.rollup import kpis
from chengyun.cases.tables import CaseRow
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
# candidate: ix_cases_reported_at widened to (reported_at, area_path, reporter_phone_hash): SQLite then tests
# the scope prefix inside the index and reads the repeat-reporter pass from the index alone
WIDE = "CREATE INDEX ix_cases_reported_at ON cases (reported_at, area_path, reporter_phone_hash)"
NARROW = "CREATE INDEX ix_cases_reported_at ON cases (reported_at)"
CANDIDATES: dict[str, tuple[list[str], list[str]]] = {
    "ix_cases_reported_at widened": (["DROP INDEX ix_cases_reported_at", WIDE],
                                     ["DROP INDEX ix_cases_reported_at", NARROW]),
}


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
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - began


def timed(engine: Engine, scope: str, days: int, repeat: int) -> tuple[float, int]:
    """Median seconds of the community-grouped report over the last `days` local days, and its case count."""
    last = NOW.astimezone(TZ).date() + timedelta(days=1)
    query = KpiQuery.local(scope, GroupBy.COMMUNITY, last - timedelta(days=days), last, TZ)
    times, cases = [], 0
    for _ in range(repeat):
        began = time.perf_counter()
        with Session(engine) as session:
            result = kpis(session, query)
        times.append(time.perf_counter() - began)
        cases = result.total.counts.cases
    return statistics.median(times), cases


def measure(engine: Engine, n: int, repeat: int, with_index: bool) -> None:
    """Print the four timings as migrated, then (with --index) with each candidate applied and undone."""
    variants: list[tuple[str, list[str], list[str]]] = [("as migrated", [], [])]
    if with_index:
        variants += [(name, up, down) for name, (up, down) in CANDIDATES.items()]
    for label, up, down in variants:
        _ddl(engine, up)
        for who, scope in (("street", STREET_PATH), ("community", f"{STREET_PATH}{COMMUNITIES[0]}/")):
            for days in (30, 365):
                secs, cases = timed(engine, scope, days, repeat)
                print(f"  N={n:>9,}  {label:<30} scope={who:<9} {days:>3} days  cohort={cases:>8,}  "
                      f"{secs * 1000:8.1f} ms")
        _ddl(engine, down)


def _ddl(engine: Engine, statements: list[str]) -> None:
    with engine.connect() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--index", action="store_true", help="also measure with the candidate indexes")
    args = parser.parse_args()
    print(f"bench_kpis {date.today()} python {platform.python_version()} {platform.machine()} "
          f"cpus={os.cpu_count()} sqlite")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'kpis.db'}")
        upgrade(engine)
        seed_areas(engine)
        phones = max(args.cases // 3, 1)
        tenth = args.cases // 10
        print(f"filled {tenth:,} cases in {fill(engine, 0, tenth, phones):.1f} s")
        measure(engine, tenth, args.repeat, args.index)
        print(f"filled {args.cases - tenth:,} more cases in {fill(engine, tenth, args.cases, phones):.1f} s")
        measure(engine, args.cases, args.repeat, args.index)
        engine.dispose()


if __name__ == "__main__":
    main()
