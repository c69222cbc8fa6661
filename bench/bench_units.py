"""Suggested handling unit: top-1 / top-3 accuracy against the unit that finally handled each case.

Run: .venv/bin/python bench/bench_units.py [--weeks 12] [--per-day 40] [--test-weeks 3] [--seed 2026]

Builds the demo street on SQLite in a temp dir and simulates `weeks` of history through the real loop (intake,
duty list, working calendar, timeline), twice:
  1. `demo`: exactly what `chengyun demo` simulates (`chengyun.demo.simulate.simulate`);
  2. `local practice`: the same simulator, but for some (category, place) the first unit returns the case and the
     operator redispatches it to the unit that really does the work there — rules the duty list does not know
     (written in LOCAL_PRACTICE below, applied to 85% of matching cases) — plus 8% of all cases redispatched to a
     random street unit (noise nothing can learn). Its ground truth is synthetic by construction: the figures show
     whether history recovers such practice and what it costs on the rest, not a real district's accuracy.
Temporal split: history is learnt from cases reported before the last `test-weeks`, scored on handled cases reported
after. Compared in the same run: the duty list alone; the most frequent final unit of the category; history alone
(duty list ignored); and the suggestion (duty list first where explicit, history after).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from chengyun.areas.model import AreaRef
from chengyun.bootstrap import Container, bootstrap
from chengyun.cases.model import Action
from chengyun.cases.tables import CaseRow
from chengyun.config import Settings
from chengyun.db.engine import make_engine
from chengyun.db.migrate import upgrade
from chengyun.demo.district import build_demo_district, load_communities
from chengyun.demo.load import ensure_demo
from chengyun.demo.simulate import PlanStep, Simulator, microgrids, simulate
from chengyun.routing import CaseFacts, Routed, RouteResult, Unrouted, UnroutedReason, route
from chengyun.shared.clock import FixedClock
from chengyun.triage.units import Accuracy, Receivers, UnitHistory, accuracy, suggest_units
from chengyun.triage.units_history import HANDLED_STATES, load_history, load_unit_places

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
SECRET = "bench-secret-bench-secret-bench-secret-0123"
K = 3
NO_MATCH = Unrouted(UnroutedReason.NO_MATCH)
PRACTICE_SHARE = 0.85
NOISE_SHARE = 0.08
NOISE_UNITS = ("dept-chengguan", "office-planning", "office-safety", "dept-market", "office-governance")


@dataclass(frozen=True)
class Practice:
    """Who really handles a category at a place, where that is not the duty list's unit."""

    property_of_microgrid: dict[str, str]  # microgrid → property company of a managed compound in it
    parking_communities: frozenset[str]  # communities where 城管, not the police, clears parked cars

    def unit(self, category: str, microgrid: str) -> str | None:
        """The unit local practice hands the case to, or None to keep the duty list's."""
        community = microgrid[:12]
        if category in {"1002", "1308"} and microgrid in self.property_of_microgrid:
            return self.property_of_microgrid[microgrid]  # 楼道堆物, 物业服务: the compound's property company
        if category == "0405" and community in self.parking_communities:
            return "dept-chengguan"  # 机动车乱停放
        if category in {"1101", "1106"} and community == "510113002004":
            return f"cc-{community}"  # the one community without its own duty rows: its committee anyway
        if category == "0601":
            return "dept-chengguan"  # 井盖破损: street-wide, 城管 not 规划建设办
        return None


def local_practice(seed: int) -> Practice:
    """The rules of the `local practice` scenario, from the generated demo street (same seed as the demo)."""
    district = build_demo_district(seed)
    owners = {c.area_code: c.property_unit_code for c in sorted(district.compounds, key=lambda c: c.code)
              if c.property_unit_code}
    communities = sorted(code for code, _ in load_communities())
    return Practice(owners, frozenset(communities[:6]))


# --- building the history ---------------------------------------------------------------------------------------


def demo_container(tmp: Path, seed: int) -> Container:
    """The demo street on a fresh SQLite file, clock fixed at NOW."""
    engine = make_engine(f"sqlite:///{tmp / 'chengyun.db'}")
    upgrade(engine)
    container = bootstrap(Settings(env="dev", secret_key=SECRET, data_dir=tmp / "var"), engine=engine,
                          clock=FixedClock(NOW))
    ensure_demo(container, seed=seed, echo=lambda _: None)
    return container


def simulate_practice(container: Container, practice: Practice, *, days: int, per_day: int, seed: int) -> int:
    """Like `simulate`, with local practice and noise as returns and redispatches; the number of refused steps."""
    places = microgrids(container)
    clock = FixedClock(NOW - timedelta(days=days))
    service = replace(container.cases, clock=clock)
    intake = replace(container.intake, clock=clock, cases=service)
    rng = random.Random(seed)
    operator = container.auth.principal("operator")
    sim = Simulator(rng, service, intake, operator, clock, NOW)
    for _ in range(days * per_day):
        clock.current = NOW - timedelta(days=days) + timedelta(seconds=rng.uniform(0, days * 86400))
        place = places[rng.randrange(len(places))]
        number, plan = sim.open_case(place)
        if number is None:
            continue
        category = service.get(operator, number)[0].category_code
        target = practice.unit(category, place[0]) if rng.random() < PRACTICE_SHARE else None
        if rng.random() < NOISE_SHARE:
            target = rng.choice(NOISE_UNITS)
        _run(sim, number, _redirected(plan, target, rng) if target else plan, clock)
    return sim.refused


def _redirected(plan: list[PlanStep], unit: str, rng: random.Random) -> list[PlanStep]:
    """The plan with the demo's own return/redispatch replaced by: return, then redispatch to `unit`."""
    steps = [s for s in plan if s[2] not in {Action.RETURN, Action.REDISPATCH}]
    at = next((i + 1 for i, s in enumerate(steps) if s[2] is Action.DISPATCH), None)
    if at is None:
        return plan
    detour: list[PlanStep] = [(rng.uniform(1, 5), "unit", Action.RETURN, "不属于本单位职责范围", {}),
                              (rng.uniform(0.5, 3), "op", Action.REDISPATCH, "按属地惯例改派", {"lead_unit": unit})]
    return [*steps[:at], *detour, *steps[at:]]


def _run(sim: Simulator, number: str, plan: list[PlanStep], clock: FixedClock) -> None:
    """Take the steps until "now"; a return is skipped when the case already sits with the wanted unit."""
    for i, (delay_h, who, action, note, data) in enumerate(plan):
        clock.current += timedelta(hours=delay_h)
        if clock.current > NOW:
            return
        if action is Action.RETURN and i + 1 < len(plan):
            wanted = plan[i + 1][4].get("lead_unit")
            if wanted == sim.service.get(sim.operator, number)[0].lead_unit:
                continue
        if action is Action.REDISPATCH and plan[i - 1][2] is Action.RETURN and _skipped(sim, number):
            continue
        if sim.step(number, who, action, note, data) is None:
            return


def _skipped(sim: Simulator, number: str) -> bool:
    """True when the return before this redispatch was skipped (the case is not waiting in `returned`)."""
    return sim.service.get(sim.operator, number)[0].state != "returned"


# --- scoring -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TestCase:
    """A handled case of the test period: where, what, and who finally handled it."""

    category: str
    area_code: str
    final: str


def test_cases(container: Container, since: datetime) -> list[TestCase]:
    """Handled cases with a lead unit reported at or after `since`, oldest first."""
    stmt = (select(CaseRow.category_code, CaseRow.area_code, CaseRow.lead_unit)
            .where(CaseRow.reported_at >= since, CaseRow.state.in_(HANDLED_STATES), CaseRow.lead_unit.is_not(None))
            .order_by(CaseRow.reported_at))
    with container.engine.connect() as conn:
        return [TestCase(c, a, str(u)) for c, a, u in conn.execute(stmt)]


Method = Callable[[TestCase, Sequence[AreaRef], RouteResult], list[str]]


def methods(history: UnitHistory, receivers: Receivers, admission: Callable[[str], bool]) -> dict[str, Method]:
    """The suggestion and its baselines, each a function of (case, area chain, duty-list route) → units."""

    def scoped(category: str) -> Receivers:
        return Receivers(receivers.scope_path, receivers.units, admission(category))

    def duty_only(case: TestCase, chain: Sequence[AreaRef], duty: RouteResult) -> list[str]:
        return [duty.assignment.lead] if isinstance(duty, Routed) else []

    def most_frequent(case: TestCase, chain: Sequence[AreaRef], duty: RouteResult) -> list[str]:
        counts = history.at(case.category)
        return [u for u, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))][:K]

    def history_only(case: TestCase, chain: Sequence[AreaRef], duty: RouteResult) -> list[str]:
        return [s.unit for s in suggest_units(case.category, chain, NO_MATCH, history, scoped(case.category), K)]

    def suggestion(case: TestCase, chain: Sequence[AreaRef], duty: RouteResult) -> list[str]:
        return [s.unit for s in suggest_units(case.category, chain, duty, history, scoped(case.category), K)]

    return {"duty list only": duty_only, "most frequent unit of the category": most_frequent,
            "history only (duty list ignored)": history_only, "suggestion (duty list first, then history)": suggestion}


def evaluate(container: Container, split: datetime, start: datetime) -> dict[str, dict[str, Accuracy]]:
    """Accuracy of each method on all test cases and on those whose final unit is not the duty list's."""
    with container.engine.connect() as conn:
        history = load_history(conn, start, split)
        units = load_unit_places(conn)
    operator = container.auth.principal("operator")
    policies = container.cases.policies
    receivers = Receivers(operator.scope_path, units, False)
    rules = container.duty.rules()
    chains: dict[str, tuple[AreaRef, ...]] = {}
    pairs: dict[str, dict[str, list[tuple[list[str], str]]]] = {}
    for case in test_cases(container, split):
        facts = policies.category(case.category)
        chain = chains.setdefault(case.area_code, tuple(container.areas.chain(case.area_code)))
        duty = route(CaseFacts(facts.ancestors, chain), rules)
        differs = not (isinstance(duty, Routed) and duty.assignment.lead == case.final)
        for name, method in methods(history, receivers, lambda c: policies.category(c).admission).items():
            got = method(case, chain, duty)
            for subset in ("all", "final ≠ duty list") if differs else ("all",):
                pairs.setdefault(subset, {}).setdefault(name, []).append((got, case.final))
    return {subset: {name: accuracy(p) for name, p in by_method.items()} for subset, by_method in pairs.items()}


def history_cost(container: Container, start: datetime, split: datetime) -> tuple[int, float, int]:
    """(history cases, ms to load and fold them, distinct (category, area) keys) — best of 5."""
    best = float("inf")
    history = UnitHistory({})
    for _ in range(5):
        began = time.perf_counter()
        with container.engine.connect() as conn:
            history = load_history(conn, start, split)
        best = min(best, time.perf_counter() - began)
    return history.cases, best * 1000, len(history.counts)


# --- report --------------------------------------------------------------------------------------------------------


def report(title: str, container: Container, days: int, test_days: int) -> None:
    """Print the accuracy table of one scenario."""
    start, split = NOW - timedelta(days=days + 1), NOW - timedelta(days=test_days)
    finals = Counter(c.final for c in test_cases(container, start))
    cases, ms, keys = history_cost(container, start, split)
    results = evaluate(container, split, start)
    print(f"\n### {title}\n")
    print(f"history: {cases} handled cases before the split ({keys} (category, area) keys, loaded and folded in "
          f"{ms:.1f} ms); {len(finals)} distinct final units over the whole period\n")
    print(f"| method | top-1 | top-{K} | cases |")
    print("|---|---:|---:|---:|")
    for subset, by_method in results.items():
        for name, acc in by_method.items():
            print(f"| {name} — {subset} | {acc.top1_rate:.3f} | {acc.topk_rate:.3f} | {acc.cases} |")


def main(argv: list[str] | None = None) -> None:
    """Simulate both scenarios and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--per-day", type=int, default=40)
    parser.add_argument("--test-weeks", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    days, test_days = args.weeks * 7, args.test_weeks * 7
    print(f"{args.weeks} weeks × {args.per_day} cases/day, test on the last {args.test_weeks} weeks, top-{K}; "
          f"python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        container = demo_container(Path(tmp) / "demo", args.seed)
        simulate(container, days=days, per_day=args.per_day, seed=args.seed, echo=lambda _: None)
        print(f"(demo simulated in {time.perf_counter() - began:.0f} s)")
        report("demo (as `chengyun demo` simulates it)", container, days, test_days)
        began = time.perf_counter()
        container = demo_container(Path(tmp) / "practice", args.seed)
        refused = simulate_practice(container, local_practice(args.seed), days=days, per_day=args.per_day,
                                    seed=args.seed)
        print(f"\n(local practice simulated in {time.perf_counter() - began:.0f} s; {refused} steps refused)")
        report("demo with local practice (synthetic ground truth)", container, days, test_days)


if __name__ == "__main__":
    main()
