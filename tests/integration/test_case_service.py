"""The case service on SQLite and PostgreSQL: open, the loop, scope, push-down guard, optimistic locking."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from chengyun.audit.tables import AuditEventRow
from chengyun.auth.model import Principal, Role
from chengyun.bootstrap import Container
from chengyun.cases.model import Action, CaseState, Request, Source
from chengyun.cases.policies import CategoryFacts, RouteAnswer
from chengyun.cases.service import CaseService, NewCase
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.errors import Conflict, DomainError, Forbidden, Invalid, InvalidTransition, NotFound
from chengyun.org.tables import UnitRow
from chengyun.shared.clock import FixedClock
from chengyun.shared.handling import HandlingLevel, Urgency

YIHU_POINT = (104.005, 30.002)  # 怡湖社区第1网格
SJN_POINT = (104.015, 30.002)  # 石家碾社区第1网格


class FakePolicies:
    """Fixed catalogue facts and routes: 0101 goes to 城管 (street), 0201 to the 怡湖 committee."""

    def category(self, code: str, *, new: bool = False) -> CategoryFacts:
        known = {
            "0101": CategoryFacts("0101", "暴露垃圾", ("0101", "01"), Urgency.NORMAL, HandlingLevel.STREET,
                                  admission=False, self_handle=True),
            "0201": CategoryFacts("0201", "邻里纠纷", ("0201", "02"), Urgency.NORMAL, HandlingLevel.COMMUNITY,
                                  admission=True, self_handle=False),
        }
        if code not in known:
            raise NotFound("categories.not_found", code=code)
        return known[code]

    def route(self, category: CategoryFacts, area_chain: tuple[tuple[str, str], ...],
              level: HandlingLevel | None) -> RouteAnswer:
        lead = "cg" if category.code == "0101" else "yihu-jwh"
        return RouteAnswer(lead, ("zj",) if lead == "cg" else (), HandlingLevel.STREET,
                           explanation={"code": "routing.matched", "rule": 1})

    def due_dates(self, start: datetime, category: CategoryFacts, urgency: Urgency,
                  route: RouteAnswer) -> tuple[datetime, datetime]:
        return start + timedelta(hours=8), start + timedelta(days=5)

    def shift_for_pause(self, due: datetime, paused_from: datetime, paused_to: datetime) -> datetime:
        return due + (paused_to - paused_from)

    def extended(self, due: datetime, limit: str) -> datetime:
        return due + timedelta(days=int(limit.rstrip("wd")))


@pytest.fixture
def loop(tiny_district: Container) -> tuple[CaseService, dict[str, Principal]]:
    c = tiny_district
    with c.sessions.begin() as session:
        units = [UnitRow(code="cg", name="综合行政执法队", kind="department", level="street", area_code="510113002000"),
                 UnitRow(code="zj", name="住建办", kind="department", level="street", area_code="510113002000"),
                 UnitRow(code="yihu-jwh", name="怡湖社区居委会", kind="community_committee", level="community",
                         area_code="510113002001"),
                 UnitRow(code="sjn-jwh", name="石家碾社区居委会", kind="community_committee", level="community",
                         area_code="510113002002")]
        session.add_all(units)
        session.flush()
        ids = {u.code: u.id for u in units}
    accounts = {"op": (Role.OPERATOR, "510113002000", None), "cg": (Role.HANDLER, "510113002000", ids["cg"]),
                "zj": (Role.HANDLER, "510113002000", ids["zj"]), "yihu": (Role.OPERATOR, "510113002001", None),
                "grid": (Role.GRID_WORKER, "510113002001001", None)}
    for name, (role, scope, unit) in accounts.items():
        c.auth.create_user(username=f"u-{name}", display_name=name, role=role, scope_code=scope, unit_id=unit)
    service = CaseService(c.sessions, FixedClock(), c.vault, c.audit, c.areas, FakePolicies())
    return service, {name: c.auth.principal(f"u-{name}") for name in accounts}


def _open(service: CaseService, who: Principal, category: str = "0101", point: tuple[float, float] = YIHU_POINT,
          **kw: object) -> CaseRow:
    return service.open(who, NewCase(Source.GRID, category, "小区门口垃圾堆积三天无人清运", *point,
                                     reporter_phone="13812345678", **kw))  # type: ignore[arg-type]


def test_a_case_goes_round_the_whole_loop(loop: tuple[CaseService, dict[str, Principal]]) -> None:
    service, p = loop
    row = _open(service, p["op"])
    assert row.number.startswith("QY-") and row.number.endswith(f"{row.id:06d}")
    assert row.area_code == "510113002001001" and row.community_code == "510113002001"
    assert row.reporter_phone_masked == "138****5678" and "13812345678" not in (row.reporter_phone_encrypted or "")
    for who, action, note in [("op", Action.REGISTER, ""), ("op", Action.DISPATCH, ""), ("cg", Action.CLAIM, ""),
                              ("cg", Action.SUBMIT_RESULT, "已清运"), ("op", Action.VERIFY_PASS, ""),
                              ("op", Action.CLOSE, "")]:
        row = service.act(p[who], row.number, Request(action, note=note))
    row = service.act(p["op"], row.number, Request(Action.FOLLOW_UP, data={"rating": "satisfied"}))
    case, steps = service.get(p["op"], row.number)
    assert case.state == CaseState.FOLLOWED_UP.value and case.version == 7 == len(steps)
    assert case.lead_unit == "cg" and case.assist_units == ["zj"]
    assert [s.seq for s in steps] == list(range(1, 8))
    dispatch = steps[1]
    assert dispatch.data["route"] == {"code": "routing.matched", "rule": 1} and "handling_due" in dispatch.data
    assert case.handling_due is not None and case.claimed_at is not None


def test_a_reporter_with_a_case_in_the_last_30_days_is_a_repeat_report(
    loop: tuple[CaseService, dict[str, Principal]],
) -> None:
    service, p = loop
    clock = service.clock
    assert isinstance(clock, FixedClock)
    first = _open(service, p["op"])
    clock.advance(timedelta(days=29))
    again = _open(service, p["op"], point=SJN_POINT)  # another place, the same phone: 一人多诉
    other = service.open(p["op"], NewCase(Source.GRID, "0101", "路灯不亮", *YIHU_POINT, reporter_phone="13900000000"))
    anonymous = service.open(p["op"], NewCase(Source.GRID, "0101", "路灯不亮", *YIHU_POINT))
    clock.advance(timedelta(days=31))
    much_later = _open(service, p["op"])  # the last one was 31 days ago
    assert [r.repeat_report for r in (first, again, other, anonymous, much_later)] == [False, True, False, False,
                                                                                       False]
    assert service.get(p["op"], again.number)[0].repeat_report is True


def test_handlers_see_their_units_cases_and_others_get_not_found(
    loop: tuple[CaseService, dict[str, Principal]],
) -> None:
    service, p = loop
    row = _open(service, p["op"], point=SJN_POINT)
    with pytest.raises(NotFound):
        service.get(p["yihu"], row.number)  # another community's operator, guessing the number
    service.act(p["op"], row.number, Request(Action.REGISTER))
    service.act(p["op"], row.number, Request(Action.DISPATCH))
    assert service.get(p["cg"], row.number)[0].lead_unit == "cg"
    with pytest.raises(Forbidden) as err:
        service.act(p["zj"], row.number, Request(Action.CLAIM))
    assert err.value.code == "cases.not_lead_unit"
    # the assisting unit (zj) sees it in its list and may open it; only the lead acts on the loop
    assert [r.number for r in service.search(p["zj"])[1]] == [row.number]
    assert service.get(p["zj"], row.number)[0].assist_units == ["zj"]
    assert [r.number for r in service.search(p["cg"])[1]] == [row.number]


def test_push_down_to_a_community_needs_the_admission_list_and_is_audited(
    loop: tuple[CaseService, dict[str, Principal]], tiny_district: Container,
) -> None:
    service, p = loop
    row = _open(service, p["op"])
    service.act(p["op"], row.number, Request(Action.REGISTER))
    with pytest.raises(Forbidden) as err:
        service.act(p["op"], row.number, Request(Action.DISPATCH, data={"lead_unit": "yihu-jwh"}))
    assert err.value.code == "cases.push_down.not_admitted"
    assert service.get(p["op"], row.number)[0].state == CaseState.REGISTERED.value  # nothing changed
    with tiny_district.sessions() as session:
        refused = session.scalar(select(func.count()).select_from(AuditEventRow).where(
            AuditEventRow.action == "cases.dispatch", AuditEventRow.outcome == "refused"))
    assert refused == 1
    admitted = _open(service, p["op"], category="0201")
    service.act(p["op"], admitted.number, Request(Action.REGISTER))
    assert service.act(p["op"], admitted.number, Request(Action.DISPATCH)).lead_unit == "yihu-jwh"


def test_a_community_operator_cannot_dispatch_outside_their_subtree(
    loop: tuple[CaseService, dict[str, Principal]],
) -> None:
    service, p = loop
    row = _open(service, p["yihu"], category="0201")
    service.act(p["yihu"], row.number, Request(Action.REGISTER))
    with pytest.raises(Forbidden) as err:
        service.act(p["yihu"], row.number, Request(Action.DISPATCH, data={"lead_unit": "sjn-jwh"}))
    assert err.value.code == "cases.push_down.outside_scope"


def test_a_stale_version_is_a_conflict_and_changes_nothing(loop: tuple[CaseService, dict[str, Principal]]) -> None:
    service, p = loop
    row = _open(service, p["op"])
    service.act(p["op"], row.number, Request(Action.REGISTER), version=0)
    with pytest.raises(Conflict) as err:
        service.act(p["op"], row.number, Request(Action.REJECT, note="重复"), version=0)
    assert err.value.code == "cases.changed"
    case, steps = service.get(p["op"], row.number)
    assert case.state == CaseState.REGISTERED.value and len(steps) == 1


def test_concurrent_actions_on_one_case_cannot_both_win(loop: tuple[CaseService, dict[str, Principal]]) -> None:
    service, p = loop
    row = _open(service, p["op"])
    service.act(p["op"], row.number, Request(Action.REGISTER))
    service.act(p["op"], row.number, Request(Action.DISPATCH))
    results: list[object] = []
    barrier = threading.Barrier(2)

    def attempt(request: Request) -> None:
        barrier.wait()
        try:
            results.append(service.act(p["cg"] if request.action == Action.CLAIM else p["op"], row.number,
                                       request, version=2).state)
        except DomainError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=attempt, args=(r,)) for r in
               (Request(Action.CLAIM), Request(Action.REDISPATCH, data={"lead_unit": "zj"}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results)).count("cases.changed") == 1, results
    case, steps = service.get(p["op"], row.number)
    assert case.version == 3 == len(steps)


def test_bad_input_is_refused_precisely_and_nothing_is_stored(
    loop: tuple[CaseService, dict[str, Principal]], tiny_district: Container,
) -> None:
    service, p = loop
    cases = [(dict(category="9999"), "categories.not_found"),
             (dict(point=(105.0, 31.0)), "areas.point_outside"),
             (dict(point=SJN_POINT), "areas.point_outside_scope")]
    for kwargs, code in cases:
        with pytest.raises(DomainError) as err:
            _open(service, p["yihu"], **kwargs)  # type: ignore[arg-type]
        assert err.value.code == code
    with pytest.raises(Invalid) as err:
        service.open(p["op"], NewCase(Source.CITIZEN, "0101", "长" * 4001, *YIHU_POINT))
    assert err.value.code == "cases.description_too_long"
    with tiny_district.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == 0


def test_the_same_external_id_never_makes_a_second_case(loop: tuple[CaseService, dict[str, Principal]],
                                                        tiny_district: Container) -> None:
    service, p = loop
    first = _open(service, p["op"], external_system="12345", external_id="GD-1")
    again = _open(service, p["op"], external_system="12345", external_id="GD-1")
    assert again.number == first.number
    with tiny_district.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == 1


def test_suspend_moves_the_due_date_and_self_handle_closes_at_once(
    loop: tuple[CaseService, dict[str, Principal]], tiny_district: Container,
) -> None:
    service, p = loop
    row = _open(service, p["op"])
    service.act(p["op"], row.number, Request(Action.REGISTER))
    due = service.act(p["op"], row.number, Request(Action.DISPATCH)).handling_due
    service.act(p["op"], row.number, Request(Action.SUSPEND, note="等待产权单位"))
    service.clock.advance(timedelta(hours=5))  # type: ignore[attr-defined]
    resumed = service.act(p["op"], row.number, Request(Action.RESUME))
    assert resumed.state == CaseState.DISPATCHED.value
    assert due is not None and resumed.handling_due == due + timedelta(hours=5)
    mine = _open(service, p["grid"])
    closed = service.act(p["grid"], mine.number, Request(Action.SELF_HANDLE, note="已当场清理"))
    assert closed.state == CaseState.CLOSED.value and closed.self_handled
    with tiny_district.sessions() as session:
        assert session.scalar(select(func.count()).select_from(TimelineRow)
                              .where(TimelineRow.case_id == mine.id)) == 1


def test_overdue_search_finds_red_or_past_due_clocked_cases_longest_overdue_first(
    loop: tuple[CaseService, dict[str, Principal]],
) -> None:
    service, p = loop
    clock = service.clock
    assert isinstance(clock, FixedClock)
    numbers = []
    for _ in range(4):
        row = _open(service, p["op"])
        service.act(p["op"], row.number, Request(Action.REGISTER))
        service.act(p["op"], row.number, Request(Action.DISPATCH))  # due in 5 days (the fake policies)
        numbers.append(row.number)
        clock.advance(timedelta(hours=1))
    service.act(p["cg"], numbers[0], Request(Action.CLAIM))
    with pytest.raises(Forbidden) as refused:  # a unit may not suspend: the refusal is clean and audited
        service.act(p["cg"], numbers[0], Request(Action.SUSPEND, note="等待产权单位"))
    assert refused.value.code == "cases.role_not_allowed"
    service.act(p["op"], numbers[0], Request(Action.SUSPEND, note="等待产权单位"))  # paused: not overdue
    not_yet = _open(service, p["op"])  # reported only: no clock yet
    assert service.search(p["op"], overdue_at=clock.now())[0] == 0
    later = clock.now() + timedelta(days=5)
    total, rows = service.search(p["op"], states=frozenset({"dispatched", "claimed", "handling"}), overdue_at=later)
    assert total == 3 and [r.number for r in rows] == numbers[1:]  # the oldest due date first
    assert not_yet.number not in {r.number for r in rows}
    _, handler_rows = service.search(p["cg"], overdue_at=later, limit=1)
    assert [r.number for r in handler_rows] == [numbers[0]]  # no state filter: the suspended one counts here


def test_a_role_refusal_is_audited_with_its_parameters(loop: tuple[CaseService, dict[str, Principal]],
                                                      tiny_district: Container) -> None:
    service, p = loop
    row = _open(service, p["op"])
    with pytest.raises(Forbidden) as err:
        service.act(p["grid"], row.number, Request(Action.REGISTER))
    assert err.value.code == "cases.role_not_allowed" and err.value.params["action"] == "register"
    [event] = tiny_district.audit.recent(action="cases.register")
    assert (event.outcome, event.actor, event.target) == ("refused", "u-grid", row.number)
    assert event.detail == {"code": "cases.role_not_allowed", "params": {"action": "register", "role": "grid_worker"}}


def test_a_merge_is_undone_only_while_the_main_case_is_open(loop: tuple[CaseService, dict[str, Principal]]) -> None:
    service, p = loop
    main, dup = _open(service, p["op"]), _open(service, p["op"])
    service.act(p["op"], dup.number, Request(Action.REGISTER))
    service.act(p["op"], dup.number, Request(Action.MERGE, data={"main_case": main.number}))
    undone = service.act(p["op"], dup.number, Request(Action.UNMERGE))
    assert (undone.state, undone.merged_into) == (CaseState.REGISTERED.value, None)
    service.act(p["op"], dup.number, Request(Action.MERGE, data={"main_case": main.number}))
    service.act(p["op"], main.number, Request(Action.REJECT, note="重复"))  # the main case is finished
    with pytest.raises(InvalidTransition) as refused:
        service.act(p["op"], dup.number, Request(Action.UNMERGE))
    assert refused.value.code == "cases.main_case_closed"
    assert service.get(p["op"], dup.number)[0].state == CaseState.MERGED.value
