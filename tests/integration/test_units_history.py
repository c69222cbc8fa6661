"""The handled-case history behind unit suggestions, on SQLite and PostgreSQL, from cases driven through the loop."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chengyun.auth.model import Principal, Role
from chengyun.bootstrap import Container
from chengyun.cases.model import Action, CaseState, Request, Source
from chengyun.cases.policies import CategoryFacts, RouteAnswer
from chengyun.cases.service import CaseService, NewCase
from chengyun.errors import NotFound
from chengyun.org.model import UnitKind
from chengyun.org.tables import UnitRow
from chengyun.routing import Unrouted, UnroutedReason
from chengyun.shared.clock import FixedClock
from chengyun.shared.handling import HandlingLevel, Urgency
from chengyun.triage.units import CATEGORY_WIDE, Receivers, UnitPlace, suggest_units
from chengyun.triage.units_history import HistoryCache, load_history, load_unit_places

YIHU, SJN, STREET = "510113002001", "510113002002", "510113002000"
YIHU_POINT = (104.005, 30.002)  # 怡湖社区第1网格
SJN_POINT = (104.015, 30.002)  # 石家碾社区第1网格
START = datetime.fromisoformat("2026-11-02T01:00:00+00:00")


class DutyToChengguan:
    """The duty list as the loop sees it: 0101 always goes to 城管 first; nothing else matters here."""

    def category(self, code: str, *, new: bool = False) -> CategoryFacts:
        if code != "0101":
            raise NotFound("categories.not_found", code=code)
        return CategoryFacts("0101", "暴露垃圾", ("0101", "01"), Urgency.NORMAL, HandlingLevel.STREET,
                             admission=False, self_handle=True)

    def route(self, category: CategoryFacts, area_chain: tuple[tuple[str, str], ...],
              level: HandlingLevel | None) -> RouteAnswer:
        return RouteAnswer("cg", (), HandlingLevel.STREET, explanation={"code": "routing.explain.level"})

    def due_dates(self, start: datetime, category: CategoryFacts, urgency: Urgency,
                  route: RouteAnswer) -> tuple[datetime, datetime]:
        return start + timedelta(hours=8), start + timedelta(days=5)

    def shift_for_pause(self, due: datetime, paused_from: datetime, paused_to: datetime) -> datetime:
        return due + (paused_to - paused_from)

    def extended(self, due: datetime, limit: str) -> datetime:
        return due + timedelta(days=3)


class Loop:
    """A case service on a movable clock with the accounts that drive it."""

    def __init__(self, container: Container) -> None:
        with container.sessions.begin() as session:
            rows = [UnitRow(code=code, name=code, kind=kind, level=level, area_code=area) for code, kind, level, area
                    in [("cg", "department", "street", STREET), ("zj", "department", "street", STREET),
                        ("yihu-jwh", "community_committee", "community", YIHU)]]
            session.add_all(rows)
            session.flush()
            ids = {r.code: r.id for r in rows}
        accounts = {"op": (Role.OPERATOR, STREET, None), "cg": (Role.HANDLER, STREET, ids["cg"]),
                    "zj": (Role.HANDLER, STREET, ids["zj"]), "grid": (Role.GRID_WORKER, f"{YIHU}001", None)}
        for name, (role, scope, unit) in accounts.items():
            container.auth.create_user(username=f"u-{name}", display_name=name, role=role, scope_code=scope,
                                       unit_id=unit)
        self.clock = FixedClock(START)
        self.service = CaseService(container.sessions, self.clock, container.vault, container.audit,
                                   container.areas, DutyToChengguan())
        self.p: dict[str, Principal] = {name: container.auth.principal(f"u-{name}") for name in accounts}

    def case(self, steps: list[tuple[str, Action, dict[str, object]]], point: tuple[float, float] = YIHU_POINT,
             reporter: str = "op") -> str:
        """Open a case an hour after the last one and take the steps; the case's final state."""
        self.clock.advance(timedelta(hours=1))
        row = self.service.open(self.p[reporter], NewCase(Source.GRID, "0101", "路边垃圾堆积", *point))
        for who, action, data in steps:
            row = self.service.act(self.p[who], row.number, Request(action, note="原因说明", data=data))
        return row.state


DISPATCH = [("op", Action.REGISTER, {}), ("op", Action.DISPATCH, {})]
HANDLE = [("op", Action.VERIFY_PASS, {}), ("op", Action.CLOSE, {})]


def returned_to(unit: str) -> list[tuple[str, Action, dict[str, object]]]:
    """城管 returns the case, the operator redispatches it to `unit`, which handles it to the end."""
    return [*DISPATCH, ("cg", Action.RETURN, {}), ("op", Action.REDISPATCH, {"lead_unit": unit}),
            (unit, Action.CLAIM, {}), (unit, Action.SUBMIT_RESULT, {}), *HANDLE]


@pytest.fixture
def loop(tiny_district: Container) -> Loop:
    return Loop(tiny_district)


def test_history_counts_the_unit_that_finally_handled_each_case(tiny_district: Container, loop: Loop) -> None:
    assert loop.case(returned_to("zj")) == CaseState.CLOSED.value  # first 城管, finally 住建
    assert loop.case(returned_to("zj")) == CaseState.CLOSED.value
    assert loop.case([*DISPATCH, ("cg", Action.CLAIM, {}), ("cg", Action.SUBMIT_RESULT, {})]) == "result_submitted"
    assert loop.case([*DISPATCH, ("cg", Action.CLAIM, {})], point=SJN_POINT) == "claimed"  # not handled yet
    assert loop.case([*DISPATCH, ("cg", Action.RETURN, {})]) == "returned"  # waiting for the operator
    assert loop.case([("grid", Action.SELF_HANDLE, {})], reporter="grid") == "closed"  # no lead unit
    loop.clock.advance(timedelta(hours=1))
    with tiny_district.engine.connect() as conn:
        history = load_history(conn, START, loop.clock.now())
        units = load_unit_places(conn)
        before = load_history(conn, START - timedelta(days=1), START + timedelta(hours=2, minutes=30))
    assert history.at("0101", f"{YIHU}001") == history.at("0101", YIHU) == {"zj": 2, "cg": 1}
    assert history.at("0101", CATEGORY_WIDE) == history.at("0101", STREET) == {"zj": 2, "cg": 1}
    assert history.at("0101", SJN) == {} and history.cases == 3
    assert before.at("0101") == {"zj": 2}  # the window is on the report time: only the first two cases
    assert units["yihu-jwh"] == UnitPlace(f"/510100000000/510113000000/{STREET}/{YIHU}/",
                                          UnitKind.COMMUNITY_COMMITTEE)
    chain = tiny_district.areas.chain(f"{YIHU}002")  # the community's other grid: backs off to 怡湖
    receivers = Receivers(loop.p["op"].scope_path, units, admission=False)
    got = suggest_units("0101", chain, Unrouted(UnroutedReason.NO_MATCH), history, receivers)
    assert [s.unit for s in got] == ["zj", "cg"]
    assert got[0].explanation.params["cases"] == "2" and got[0].explanation.params["area"] == YIHU


def test_the_cache_reloads_at_most_every_n_seconds(tiny_district: Container, loop: Loop) -> None:
    ticks = [0.0]
    cache = HistoryCache(tiny_district.engine, loop.clock.now, window=timedelta(days=30), every_s=60.0,
                         monotonic=lambda: ticks[0])
    loop.case(returned_to("zj"))
    loop.clock.advance(timedelta(minutes=1))
    first = cache.get()
    assert first.history.at("0101") == {"zj": 1} and "cg" in first.units
    loop.case(returned_to("zj"))
    loop.clock.advance(timedelta(minutes=1))
    ticks[0] = 59.0
    assert cache.get() is first  # not yet due: no query
    ticks[0] = 60.0
    assert cache.get().history.at("0101") == {"zj": 2}
    cache.forget()
    assert cache.get() is not first
