"""The demo comes alive: a deterministic history of cases from the five sources, moved through the loop.

Reports arrive through the intake channel of their source (grid worker, resident page or Open311, the 12345 and
district systems' webhook with their external ids, the AI video platform), and every step goes through the real case
service (duty list, working calendar, guards, timeline) with a simulated clock, so the history is exactly what the
loop would have recorded; cases whose next step lies after "now" stay open, and the sweep then colours, urges and
escalates them like any other.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select

from chengyun.areas.tables import AreaRow
from chengyun.auth.model import Principal, Role
from chengyun.bootstrap import Container
from chengyun.cases.model import Action, Request, Source
from chengyun.cases.service import CaseService
from chengyun.cases.tables import CaseRow
from chengyun.errors import DomainError
from chengyun.intake.model import Channel, Report
from chengyun.intake.service import IntakeService
from chengyun.shared.clock import FixedClock

SOURCES = [(Source.GRID, 45), (Source.CITIZEN, 30), (Source.SENSOR, 10), (Source.UPSTREAM, 10), (Source.DISTRICT, 5)]
TEMPLATES: dict[str, tuple[str, ...]] = {
    "0101": ("{place}门口有暴露垃圾，已堆放两天", "{place}旁绿化带内有生活垃圾未清运"),
    "0104": ("{place}垃圾桶满溢，周边异味明显",),
    "0201": ("{place}单元楼道内被张贴大量小广告",),
    "0301": ("{place}附近工地晚上十点后仍在施工，噪音很大",),
    "0401": ("{place}路口有流动摊贩占道经营，影响通行",),
    "0404": ("{place}楼下有人乱堆建筑材料",),
    "0405": ("{place}消防车道旁长期有机动车乱停放",),
    "0406": ("{place}门口共享单车乱停放，挡住盲道",),
    "0502": ("{place}路段下雨后积水严重，行人无法通过",),
    "0601": ("{place}人行道井盖破损，存在安全隐患",),
    "0603": ("{place}一带路灯连续几晚不亮",),
    "0701": ("{place}路面出现坑槽，电动车经过容易摔倒",),
    "0802": ("{place}行道树有枯枝，大风天可能掉落",),
    "0902": ("{place}顶楼有住户私搭乱建",),
    "1001": ("{place}消防通道被杂物和车辆堵塞",),
    "1002": ("{place}楼道内堆放纸箱等杂物",),
    "1003": ("{place}有居民把电动车推进楼道充电",),
    "1004": ("{place}住户反映闻到燃气味道",),
    "1101": ("{place}楼上楼下因漏水发生纠纷，多次协商未果",),
    "1106": ("{place}有住户饲养的狗夜间吠叫扰民",),
    "1204": ("{place}底商餐馆油烟直排，楼上住户无法开窗",),
    "1301": ("{place}独居老人近两天未见出门，请网格员上门看看",),
    "1307": ("{place}小区突然停水，未见提前通知",),
    "1308": ("{place}物业长期不处理电梯异响问题",),
}
RATINGS = [("satisfied", 82), ("basically_satisfied", 12), ("unsatisfied", 6)]
UPSTREAM_SYSTEMS = {Source.UPSTREAM: "sys12345", Source.DISTRICT: "qbj-district"}
"""The simulated upstream systems: the city's 12345 hotline platform and the district's own system."""
AI_PLATFORM = "ai-video"


Place = tuple[str, str, float | None, float | None]  # microgrid code, name, centre


def microgrids(container: Container) -> list[Place]:
    """The demo street's microgrids: where simulated cases happen."""
    with container.sessions() as session:
        return [tuple(r) for r in session.execute(  # type: ignore[misc]
            select(AreaRow.code, AreaRow.name, AreaRow.center_lon, AreaRow.center_lat)
            .where(AreaRow.level == "microgrid").order_by(AreaRow.code))]


@dataclass
class SimulationReport:
    """How many cases were simulated and where they ended."""

    cases: int = 0
    states: dict[str, int] = field(default_factory=dict)
    refused: int = 0


def simulate(container: Container, *, days: int = 7, per_day: int = 30, seed: int = 2026,
             echo: Callable[[str], object] = print) -> SimulationReport:
    """Backfill `days` of history ending now (only into an empty case table; otherwise do nothing)."""
    report = SimulationReport()
    with container.sessions() as session:
        if session.scalar(select(func.count()).select_from(CaseRow)):
            return report
    places = microgrids(container)
    now = container.clock.now()
    clock = FixedClock(now - timedelta(days=days))
    service = replace(container.cases, clock=clock)
    intake = replace(container.intake, clock=clock, cases=service)
    rng = random.Random(seed)  # noqa: S311 - a reproducible demo, not a secret
    sim = Simulator(rng, service, intake, container.auth.principal("operator"), clock, now)
    for _ in range(days * per_day):
        clock.current = now - timedelta(days=days) + timedelta(seconds=sim.rng.uniform(0, days * 86400))
        state = sim.run_case(places[sim.rng.randrange(len(places))])
        report.cases += 1
        report.states[state] = report.states.get(state, 0) + 1
    report.refused = sim.refused
    echo(f"  simulated {report.cases} cases over {days} days: {dict(sorted(report.states.items()))}")
    return report


PlanStep = tuple[float, str, Action, str, dict[str, object]]  # (hours after the previous step, who, action, …)


@dataclass
class Simulator:
    rng: random.Random
    service: CaseService
    intake: IntakeService
    operator: Principal
    clock: FixedClock | None = None  # history mode: steps move this clock; live mode: the service's own clock
    now: datetime | None = None
    refused: int = 0

    def open_case(self, place: Place) -> tuple[str | None, list[PlanStep]]:
        """A report from a random source about a random category at the place, sent through that source's intake
        channel, and the planned steps of the case it opens (None when intake held it for an operator)."""
        _code, name, lon, lat = place
        category = self.rng.choice(sorted(TEMPLATES))
        text = self.rng.choice(TEMPLATES[category]).format(place=name)
        source = self.rng.choices([s for s, _ in SOURCES], [w for _, w in SOURCES])[0]
        channel, sender = self._channel(source)
        phone = f"139{self.rng.randrange(10**8):08d}" if source == Source.CITIZEN else None
        external = f"{sender.username}-{self.rng.randrange(10**9):09d}" if channel is Channel.UPSTREAM else None
        submitted = self.intake.submit(sender, Report(
            channel, source, text, category_code=category, lon=float(lon or 0), lat=float(lat or 0),
            reporter_phone=phone, external_system=sender.username if external else None, external_id=external))
        if submitted.report.case_number is None:
            self.refused += 1
            return None, []
        return submitted.report.case_number, self._plan(category, source)

    def _channel(self, source: Source) -> tuple[Channel, Principal]:
        """The channel a simulated report of this source arrives through, and who sends it."""
        if source is Source.CITIZEN:
            channel = Channel.OPEN311 if self.rng.random() < 0.4 else Channel.RESIDENT
            return channel, self._sender("resident-app", Role.RESIDENT)
        if source is Source.GRID:
            return Channel.GRID, self._sender("gridworker", Role.GRID_WORKER)
        if source is Source.SENSOR:
            return Channel.AI, self._sender(AI_PLATFORM, Role.SYSTEM)
        return Channel.UPSTREAM, self._sender(UPSTREAM_SYSTEMS[source], Role.SYSTEM)

    def _sender(self, username: str, role: Role) -> Principal:
        return Principal(0, username, username, role, self.operator.scope_code, self.operator.scope_path)

    def step(self, number: str, who: str, action: Action, note: str, data: dict[str, object]) -> str | None:
        """Take one planned step; None when the loop refused it (the case then waits, e.g. in triage)."""
        try:
            return self.service.act(self._principal(who, number), number, Request(action, note, data=data)).state
        except DomainError:
            self.refused += 1  # e.g. no duty rule: the case waits in the operator's triage queue
            return None

    def run_case(self, place: Place) -> str:
        """History mode: open a case and take its steps on the simulated clock until "now"."""
        assert self.clock is not None and self.now is not None
        number, plan = self.open_case(place)
        if number is None:
            return "held"
        state = "reported"
        for delay_h, who, action, note, data in plan:
            self.clock.current += timedelta(hours=delay_h)
            if self.clock.current > self.now:
                break
            taken = self.step(number, who, action, note, data)
            if taken is None:
                break
            state = taken
        return state

    def _plan(self, category: str, source: Source) -> list[PlanStep]:
        r = self.rng
        if source == Source.GRID and category in {"0101", "0201", "0404", "1002"} and r.random() < 0.3:
            return [(0.2, "grid", Action.SELF_HANDLE, "网格员现场处置完毕", {})]
        if r.random() < 0.03:
            return [(0.3, "op", Action.ACCEPT, "", {}), (1, "op", Action.REJECT, "经核实不属实", {})]
        plan: list[PlanStep] = [
            (0.2, "op", Action.REGISTER, "", {}), (0.3, "op", Action.DISPATCH, "", {})]
        if r.random() < 0.07:
            plan += [(r.uniform(1, 5), "unit", Action.RETURN, "不属于本单位职责范围", {}),
                     (r.uniform(0.5, 3), "op", Action.REDISPATCH, "协调后重新派遣", {})]
        plan.append((r.uniform(0.3, 8), "unit", Action.CLAIM, "", {}))
        if r.random() < 0.05:
            plan += [(r.uniform(2, 20), "unit", Action.REQUEST_EXTENSION, "需协调产权单位", {"limit": "3wd"}),
                     (r.uniform(1, 6), "op", Action.APPROVE_EXTENSION, "", {})]
        plan.append((r.uniform(2, 90), "unit", Action.SUBMIT_RESULT, "已现场处置，附照片", {}))
        if r.random() < 0.06:
            plan += [(r.uniform(2, 10), "op", Action.VERIFY_FAIL, "复核发现仍未整改到位", {}),
                     (r.uniform(4, 30), "unit", Action.SUBMIT_RESULT, "已再次整改", {})]
        rating = r.choices([n for n, _ in RATINGS], [w for _, w in RATINGS])[0]
        plan += [(r.uniform(1, 12), "op", Action.VERIFY_PASS, "", {}), (r.uniform(0.5, 6), "op", Action.CLOSE, "", {}),
                 (r.uniform(12, 60), "op", Action.FOLLOW_UP, "电话回访", {"rating": rating})]
        return plan

    def _principal(self, who: str, number: str) -> Principal:
        if who == "op":
            return self.operator
        role = Role.GRID_WORKER if who == "grid" else Role.HANDLER
        unit = self.service.get(self.operator, number)[0].lead_unit if who == "unit" else None
        return Principal(0, "simulator", "模拟处置人员", role, self.operator.scope_code, self.operator.scope_path,
                         unit_code=unit)
