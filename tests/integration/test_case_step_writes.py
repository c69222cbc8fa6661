"""What one step of the loop writes, on SQLite and PostgreSQL: only the columns it changed, the snapshot and its
timeline row together or neither (one statement on PostgreSQL, one transaction on SQLite), and one winner when two
steps start from the same version.

The service's own check of a caller's stale `version=` (before anything is written) is covered in
test_case_service.py; here a concurrent change lands between the step's read and its write, through a hook in
the routing policy (called while a DISPATCH is being decided), so the version-checked write itself is exercised.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, Table, func, insert, select, update

from chengyun.audit.tables import AuditEventRow
from chengyun.auth.model import Principal, Role
from chengyun.bootstrap import Container
from chengyun.cases import repository as repo
from chengyun.cases.model import Action, CaseState, Request, Source, decide, evolve
from chengyun.cases.policies import CategoryFacts, RouteAnswer
from chengyun.cases.service import CaseService, NewCase, actor_of
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.db.engine import write_gate_of
from chengyun.errors import Conflict, DomainError
from chengyun.org.tables import UnitRow
from chengyun.shared.clock import FixedClock
from chengyun.shared.handling import HandlingLevel
from tests.integration.test_case_service import YIHU_POINT, FakePolicies

CASES: Table = CaseRow.__table__  # type: ignore[assignment]
TIMELINE: Table = TimelineRow.__table__  # type: ignore[assignment]
WAIT_S = 60


class HookedPolicies(FakePolicies):
    """The test's fake catalogue; `during_route` runs while a routed action (DISPATCH) is being decided, i.e.
    after the step read the case and before it writes."""

    def __init__(self) -> None:
        self.during_route: Callable[[], None] | None = None

    def route(self, category: CategoryFacts, area_chain: tuple[tuple[str, str], ...],
              level: HandlingLevel | None) -> RouteAnswer:
        if self.during_route is not None:
            hook, self.during_route = self.during_route, None
            hook()
        return super().route(category, area_chain, level)


@dataclass
class Loop:
    service: CaseService
    policies: HookedPolicies
    engine: Engine
    people: dict[str, Principal] = field(default_factory=dict)

    @property
    def clock(self) -> FixedClock:
        clock = self.service.clock
        assert isinstance(clock, FixedClock)
        return clock

    def open_registered(self) -> CaseRow:
        row = self.service.open(self.people["op"], NewCase(Source.GRID, "0101", "小区门口垃圾堆积三天无人清运",
                                                           *YIHU_POINT, reporter_phone="13812345678"))
        return self.service.act(self.people["op"], row.number, Request(Action.REGISTER))

    def case(self, case_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(CASES).where(CASES.c.id == case_id)).one()._mapping)

    def steps(self, case_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(TIMELINE).where(TIMELINE.c.case_id == case_id).order_by(TIMELINE.c.seq))]


@pytest.fixture
def loop(tiny_district: Container) -> Loop:
    return make_loop(tiny_district)


def make_loop(c: Container) -> Loop:
    """Two street units, an operator and a handler, and a case service on the hooked fake catalogue."""
    with c.sessions.begin() as session:
        units = [UnitRow(code="cg", name="综合行政执法队", kind="department", level="street", area_code="510113002000"),
                 UnitRow(code="zj", name="住建办", kind="department", level="street", area_code="510113002000")]
        session.add_all(units)
        session.flush()
        cg = units[0].id
    c.auth.create_user(username="u-op", display_name="op", role=Role.OPERATOR, scope_code="510113002000")
    c.auth.create_user(username="u-cg", display_name="cg", role=Role.HANDLER, scope_code="510113002000", unit_id=cg)
    policies = HookedPolicies()
    service = CaseService(c.sessions, FixedClock(), c.vault, c.audit, c.areas, policies)
    return Loop(service, policies, c.engine, {name: c.auth.principal(f"u-{name}") for name in ("op", "cg")})


def test_a_step_writes_only_the_columns_it_changed(loop: Loop) -> None:
    row = loop.open_registered()
    before = loop.case(row.id)
    assert (before["urges"], before["returns"], before["version"]) == (0, 0, 1)
    loop.clock.advance(timedelta(minutes=7))
    landed: list[bool] = []

    def concurrent_change() -> None:  # e.g. another writer's column, changed without a step (no version bump)
        with loop.engine.begin() as conn:
            landed.append(conn.execute(update(CASES).where(CASES.c.id == row.id)
                                       .values(urges=5, returns=2)).rowcount == 1)

    loop.policies.during_route = concurrent_change
    dispatched = loop.service.act(loop.people["op"], row.number, Request(Action.DISPATCH))
    assert landed == [True]  # the change landed after the step read the case and before it wrote
    after = loop.case(row.id)
    assert (after["urges"], after["returns"]) == (5, 2)  # not overwritten with the values the step read
    assert after["state"] == CaseState.DISPATCHED.value and after["version"] == 2
    assert after["updated_at"] == loop.clock.now() > before["updated_at"]
    assert after["lead_unit"] == "cg" and after["assist_units"] == ["zj"]
    assert after["route_note"] == {"code": "routing.matched", "rule": 1}
    assert after["dispatched_at"] == loop.clock.now() and after["handling_due"] == dispatched.handling_due
    unchanged = {"title", "description", "reported_at", "area_path", "reporter_phone_hash", "number"}
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    steps = loop.steps(row.id)
    assert [(s["seq"], s["action"], s["from_state"], s["to_state"]) for s in steps] == [
        (1, "register", "reported", "registered"), (2, "dispatch", "registered", "dispatched")]
    assert steps[1]["at"] == loop.clock.now() and steps[1]["data"]["lead_unit"] == "cg"


def test_a_stale_version_given_by_the_caller_changes_neither_the_case_nor_its_timeline(loop: Loop) -> None:
    row = loop.open_registered()
    before, steps = loop.case(row.id), loop.steps(row.id)
    loop.clock.advance(timedelta(minutes=1))
    with pytest.raises(Conflict) as err:
        loop.service.act(loop.people["op"], row.number, Request(Action.DISPATCH), version=0)
    assert err.value.code == "cases.changed" and err.value.params["current"] == 1
    assert loop.case(row.id) == before and loop.steps(row.id) == steps


def test_a_step_that_lost_the_race_to_a_concurrent_step_writes_nothing(loop: Loop) -> None:
    row = loop.open_registered()
    loop.service.recent.drop(row.number)  # a fresh read (the remembered row's own case is further below)
    loop.clock.advance(timedelta(minutes=1))
    moved: dict[str, Any] = {}

    def concurrent_step() -> None:  # another request's step commits between this step's read and its write
        with loop.engine.begin() as conn:
            conn.execute(update(CASES).where(CASES.c.id == row.id).values(version=CASES.c.version + 1,
                                                                          state=CaseState.SUSPENDED.value))
            conn.execute(insert(TIMELINE).values(case_id=row.id, seq=2, action="suspend", from_state="registered",
                                                 to_state="suspended", at=loop.clock.now(), actor_role="operator",
                                                 note="等待产权单位", attachments=[], data={}))
        moved.update(loop.case(row.id))

    loop.policies.during_route = concurrent_step
    with pytest.raises(Conflict) as err:
        loop.service.act(loop.people["op"], row.number, Request(Action.DISPATCH))
    assert err.value.code == "cases.changed"
    assert moved and loop.case(row.id) == moved  # the other step's snapshot stands, untouched
    assert [(s["seq"], s["action"]) for s in loop.steps(row.id)] == [(1, "register"), (2, "suspend")]
    gate = write_gate_of(loop.engine)
    assert gate is None or not gate.held  # SQLite: the failed step gave the write gate back


def test_the_version_check_alone_refuses_a_step_whose_case_moved(loop: Loop) -> None:
    """Not left to the timeline's unique (case_id, seq): a case whose version moved (no timeline row to collide
    with) is not written over."""
    row = loop.open_registered()
    loop.service.recent.drop(row.number)
    loop.clock.advance(timedelta(minutes=1))
    moved: dict[str, Any] = {}

    def bump() -> None:
        with loop.engine.begin() as conn:
            conn.execute(update(CASES).where(CASES.c.id == row.id).values(version=7, state="suspended"))
        moved.update(loop.case(row.id))

    loop.policies.during_route = bump
    with pytest.raises(Conflict) as err:
        loop.service.act(loop.people["op"], row.number, Request(Action.DISPATCH))
    assert err.value.code == "cases.changed"
    assert moved and loop.case(row.id) == moved
    assert [s["seq"] for s in loop.steps(row.id)] == [1]


def test_a_refused_timeline_row_undoes_the_snapshot_update(loop: Loop) -> None:
    """The UPDATE matches (same version), its timeline INSERT hits the unique (case_id, seq): neither is kept —
    one statement on PostgreSQL (run in autocommit), one transaction on SQLite."""
    row = loop.open_registered()
    before = loop.case(row.id)
    loop.clock.advance(timedelta(minutes=1))

    def stray_entry() -> None:  # a timeline row for seq 2 while the case still says version 1
        with loop.engine.begin() as conn:
            conn.execute(insert(TIMELINE).values(case_id=row.id, seq=2, action="urge", from_state="registered",
                                                 to_state="registered", at=loop.clock.now(), actor_role="operator",
                                                 note="", attachments=[], data={}))

    loop.policies.during_route = stray_entry
    with pytest.raises(Conflict) as err:
        loop.service.act(loop.people["op"], row.number, Request(Action.DISPATCH))
    assert err.value.code == "cases.changed"
    assert loop.case(row.id) == before  # state, version, updated_at, lead_unit: all as before the step
    assert [(s["seq"], s["action"]) for s in loop.steps(row.id)] == [(1, "register"), (2, "urge")]
    gate = write_gate_of(loop.engine)
    assert gate is None or not gate.held
    with loop.engine.begin() as conn:  # without the stray row the same step goes through on the same engine
        conn.execute(TIMELINE.delete().where(TIMELINE.c.case_id == row.id, TIMELINE.c.seq == 2))
    dispatched = loop.service.act(loop.people["op"], row.number, Request(Action.DISPATCH), version=1)
    assert dispatched.state == CaseState.DISPATCHED.value and loop.case(row.id)["version"] == 2
    assert [(s["seq"], s["action"]) for s in loop.steps(row.id)] == [(1, "register"), (2, "dispatch")]


def _race(attempts: list[Callable[[], object]]) -> list[object]:
    """Run the attempts on threads released together; each result or the DomainError's code."""
    results: list[object] = []
    lock = threading.Lock()
    start = threading.Barrier(len(attempts))

    def run(attempt: Callable[[], object]) -> None:
        start.wait(WAIT_S)
        try:
            outcome: object = attempt()
        except DomainError as exc:
            outcome = exc.code
        except BaseException as exc:  # kept, so that the assertion below shows it
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(a,)) for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert not any(t.is_alive() for t in threads)
    return results


def test_steps_from_the_same_version_have_exactly_one_winner(loop: Loop) -> None:
    def suspend(number: str, note: str) -> CaseRow:
        return loop.service.act(loop.people["op"], number, Request(Action.SUSPEND, note=note), version=1)

    for _ in range(3):
        row = loop.open_registered()
        loop.clock.advance(timedelta(seconds=1))
        results = _race([functools.partial(suspend, row.number, note) for note in ("甲", "乙", "丙", "丁")])
        winners = [r for r in results if isinstance(r, CaseRow)]
        assert len(winners) == 1 and sorted(map(str, results)).count("cases.changed") == 3, results
        case = loop.case(row.id)
        assert case["version"] == 2 and case["state"] == CaseState.SUSPENDED.value
        assert winners[0].version == 2 and winners[0].state == CaseState.SUSPENDED.value
        steps = loop.steps(row.id)
        assert [(s["seq"], s["action"]) for s in steps] == [(1, "register"), (2, "suspend")]
        assert steps[1]["note"] in {"甲", "乙", "丙", "丁"}


def test_two_steps_that_both_read_before_either_writes_have_exactly_one_winner(loop: Loop) -> None:
    """Both steps read version 1 first; the version-checked write itself refuses the later one."""
    row = loop.open_registered()
    loop.clock.advance(timedelta(seconds=1))
    both_read = threading.Barrier(2)
    op = loop.people["op"]

    def step(note: str) -> str:
        with loop.engine.connect() as conn:
            read = repo.by_number(conn, row.number)
        assert read is not None and read.version == 1
        case = repo.to_aggregate(read)
        entry = decide(case, Request(Action.SUSPEND, note=note), actor_of(op), loop.clock.now())
        values = {**repo.snapshot(evolve(case, entry)), "updated_at": loop.clock.now(), "route_note": read.route_note}
        both_read.wait(WAIT_S)
        with repo.step_connection(loop.engine) as conn:
            repo.write_step(conn, read, values, entry)
        return note

    results = _race([lambda: step("甲"), lambda: step("乙")])
    assert sorted(map(str, results)) in (["cases.changed", "甲"], ["cases.changed", "乙"]), results
    winner = next(r for r in results if r != "cases.changed")
    steps = loop.steps(row.id)
    assert [(s["seq"], s["action"], s["note"]) for s in steps] == [(1, "register", ""), (2, "suspend", winner)]
    case = loop.case(row.id)
    assert (case["version"], case["state"]) == (2, CaseState.SUSPENDED.value)
    with loop.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(TIMELINE)).scalar_one() == 2
    gate = write_gate_of(loop.engine)
    assert gate is None or not gate.held


def test_a_step_leaves_its_connection_as_it_found_it(engine: Engine) -> None:
    """PostgreSQL steps run in the driver's autocommit mode on the lane's own connections; the pool's stay
    transactional, so the next user's rollback undoes its write (in autocommit the row would stay)."""
    with repo.step_connection(engine) as conn:
        conn.execute(select(1)).scalar_one()
    events = AuditEventRow.__table__
    for attempt in range(3):  # whichever pooled connection comes next
        with engine.connect() as conn:
            assert getattr(conn.connection.dbapi_connection, "autocommit", False) is False
            with conn.begin() as tx:
                conn.execute(insert(events).values(at=datetime.now(UTC), actor=f"probe-{attempt}", action="probe",
                                                   outcome="ok", detail={}))
                tx.rollback()
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)
                            .where(events.c.actor.like("probe-%"))).scalar_one() == 0
