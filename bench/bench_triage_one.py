"""Triage of one report as one call, with 1,000,000 reports in the duplicate index: classify (the active model, and
the decision against the catalogue) + the duplicate lookups (similar text, same place, same reporter) + the unit
suggestion (duty list first, then the handled-case history).

    .venv/bin/python bench/bench_triage_one.py [--reports 1000000] [--lookups 2000]

The index holds bench_duplicates' synthetic reports (fujian3 texts with a place and small edits when ../shared/data
is there). The classifier, catalogue, duty list, units and history are the demo street's: a fresh SQLite database
with 30 days of simulated cases, its shipped demo model. Each query is one of the indexed reports: its text is
classified, it is looked up in the index, and the route of the category it got is taken in one of the street's
microgrids (chosen in turn), as the operator's dispatch form asks. Printed: p50/p99/max of the whole call and of
each part, on one pinned core.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from bench_duplicates import RULES, _rss_mib, synthetic
from sqlalchemy import select

from chengyun.areas.tables import AreaRow
from chengyun.bootstrap import bootstrap
from chengyun.config import Settings
from chengyun.demo.load import ensure_demo
from chengyun.demo.simulate import simulate
from chengyun.routing.model import CaseFacts, route
from chengyun.triage.catalogue import decide
from chengyun.triage.duplicates import DuplicateIndex, DuplicateParams, ReportKey
from chengyun.triage.units import Receivers, suggest_units

SECRET = "bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"
PARTS = ("classify", "duplicates", "units", "whole")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores (one pinned), Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="dev", secret_key=SECRET, data_dir=Path(tmp), sweep_interval_s=0)
        c = bootstrap(settings)
        c.migrate()
        ensure_demo(c, echo=lambda _: None)
        simulate(c, days=30, per_day=30, echo=lambda _: None)
        known = c.unit_advisor.history.get()
        print(f"demo street: {known.history.cases} handled cases in the history, {len(known.units)} units, "
              f"{len(c.duty.rules())} duty rules; model {c.triage.active_version()}")
        with c.sessions() as session:
            micro = list(session.scalars(select(AreaRow.code).where(AreaRow.level == "microgrid")
                                         .order_by(AreaRow.code)))
        chains = [c.areas.chain(code) for code in micro]
        operator = c.auth.principal("operator")
        queries: list[ReportKey] = []
        step = max(1, args.reports // args.lookups)
        index = DuplicateIndex(DuplicateParams(rules=RULES))
        started = time.perf_counter()
        index.build(_sampled(synthetic(args.reports), step, args.lookups, queries))
        print(f"{len(index):,} reports indexed in {time.perf_counter() - started:.0f} s (generation included); "
              f"RSS {_rss_mib():,.0f} MiB")
        times: dict[str, list[float]] = {part: [] for part in PARTS}
        matches: list[int] = []
        suggested: list[int] = []
        catalogue, rules = c.categories.catalogue(), c.duty.rules()
        for n, report in enumerate(queries):
            t0 = time.perf_counter()
            decision = decide(c.triage.classify(report.text), catalogue)
            t1 = time.perf_counter()
            found = len(index.similar(report)) + len(index.same_place(report)) + len(index.same_reporter(report))
            t2 = time.perf_counter()
            item = catalogue.get(decision.code or decision.suggestions[0].code)
            ancestors = (item.code, *(a.code for a in catalogue.ancestors(item.code)))
            chain = chains[n % len(chains)]
            duty = route(CaseFacts(ancestors, chain, None), rules)
            units = suggest_units(item.code, chain, duty, known.history,
                                  Receivers(operator.scope_path, known.units, item.admission), 3)
            t3 = time.perf_counter()
            matches.append(found)
            suggested.append(len(units))
            for part, seconds in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                times[part].append(seconds * 1000)
        for part in PARTS:
            p50, p99 = np.percentile(times[part], [50, 99])
            print(f"  {part:10s} {len(queries)} reports: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
                  f"max {max(times[part]):.2f} ms")
        print(f"  per report: {np.mean(matches):.2f} duplicate matches, {np.mean(suggested):.2f} units suggested")
        c.engine.dispose()


def _sampled(reports: Iterator[ReportKey], step: int, most: int, into: list[ReportKey]) -> Iterator[ReportKey]:
    """The reports as they come, every `step`-th (up to `most`) also kept `into` the query list."""
    for i, report in enumerate(reports):
        if i % step == 0 and len(into) < most:
            into.append(report)
        yield report


if __name__ == "__main__":
    main()
