"""The alarm service on SQLite and PostgreSQL: batches, one active alarm per key, cases through intake, timelines,
propagation up the place hierarchy, scope, people's operations."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from chengyun.alarms import repository as repo
from chengyun.alarms import service as service_module
from chengyun.alarms.model import Operation
from chengyun.alarms.queries import AlarmFilter
from chengyun.alarms.tables import AlarmEventRow, AlarmRow
from chengyun.audit.tables import AuditEventRow
from chengyun.bootstrap import Container
from chengyun.cases.model import Action, CaseState
from chengyun.cases.model import Request as StepRequest
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.config import Settings
from chengyun.db.base import Base
from chengyun.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from chengyun.intake.tables import ReportRow
from chengyun.shared.clock import FixedClock
from tests.integration.alarm_fixtures import (
    NOW,
    SJN,
    STREET,
    T0,
    YIHU,
    YIHU_GRID,
    clear,
    facts_of,
    fire,
    make_app,
)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def app(settings: Settings, engine: Any, clock: FixedClock) -> Container:
    return make_app(settings, engine, clock)


def apply(app: Container, *transitions: Any) -> list[Any]:
    return app.alarms.apply(list(transitions), facts_of(app).get)


def who(app: Container, name: str) -> Any:
    return app.auth.principal(name)


def rows(app: Container) -> list[AlarmRow]:
    with app.engine.connect() as conn:
        return [repo.detached(r._mapping) for r in conn.execute(select(repo.ALARMS).order_by(repo.ALARMS.c.id))]


def timeline(app: Container, number: str) -> list[TimelineRow]:
    return app.cases.get(who(app, "op1"), number)[1]


def test_a_batch_raises_re_triggers_update_a_clear_clears_and_a_fire_after_it_opens_a_new_alarm(
        app: Container) -> None:
    raised = apply(app, fire(), fire("smoke-2", "smoke_on", "smoke", smoke=True))
    assert [(c.kind, c.device_id, c.alarm_type, c.opens_case) for c in raised] == [
        ("raised", "gas-1", "gas_leak", True), ("raised", "smoke-2", "smoke", True)]
    gas = raised[0]
    assert (gas.area_code, gas.household, gas.place_codes, gas.resident_id) == (
        YIHU_GRID, "cmp-1-03/2/301", ("cmp-1-03", "cmp-1"), 11)
    assert gas.area_path.endswith(f"/{YIHU}/{YIHU_GRID}/") and gas.at.timestamp() == T0
    again = apply(app, fire(at=T0 + 30, severity="major", gas_lel=40.0))  # type: ignore[arg-type]
    assert [(c.kind, c.alarm_id, c.count, c.previous_severity) for c in again] == [
        ("updated", gas.alarm_id, 2, "critical")]
    cleared = apply(app, clear(), clear("nobody", "none"))  # a CLEAR without an alarm changes nothing
    assert [(c.kind, c.alarm_id) for c in cleared] == [("cleared", gas.alarm_id)]
    reopened = apply(app, fire(at=T0 + 400))
    assert reopened[0].kind == "raised" and reopened[0].alarm_id != gas.alarm_id
    stored = {r.id: r for r in rows(app)}
    first = stored[gas.alarm_id]
    assert (first.active, first.count, first.severity, first.params, first.clearer) == (
        False, 2, "major", {"gas_lel": 40.0}, "rule")
    assert first.cleared_by == "rule:gas_high" and first.case_state == "pending" and first.version == 3
    assert stored[reopened[0].alarm_id].active and stored[reopened[0].alarm_id].count == 1
    history = app.alarms.get(who(app, "op1"), gas.alarm_id)[1]
    assert [e.kind for e in history] == ["raised", "updated", "cleared"]
    assert [e.case_sync for e in history] == ["none", "none", "pending"]
    assert apply(app) == []


def test_many_devices_in_one_batch_and_fire_clear_fire_of_one_key(app: Container) -> None:
    devices = [f"dev-{i:04d}" for i in range(450)]  # more keys than one IN list holds
    changes = app.alarms.apply([fire(d, "offline", "device_offline", severity="minor") for d in devices],  # type: ignore[arg-type]
                               lambda _: None)
    assert len(changes) == 450 and {c.kind for c in changes} == {"raised"} and not changes[0].opens_case
    assert len({c.alarm_id for c in changes}) == 450 and changes[0].area_path == ""
    again = app.alarms.apply([fire(d, "offline", "device_offline", at=T0 + 60) for d in devices], lambda _: None)
    assert {c.kind for c in again} == {"updated"} and [c.alarm_id for c in again] == [c.alarm_id for c in changes]
    mixed = apply(app, fire(), clear(at=T0 + 10), fire(at=T0 + 20), fire(at=T0 + 30))
    assert [c.kind for c in mixed] == ["raised", "cleared", "raised", "updated"]
    assert mixed[0].alarm_id == mixed[1].alarm_id != mixed[2].alarm_id == mixed[3].alarm_id
    stored_then_new = apply(app, clear(at=T0 + 40), fire(at=T0 + 50))  # the stored alarm ends, a new one starts
    assert [(c.kind, c.alarm_id == mixed[3].alarm_id) for c in stored_then_new] == [("cleared", True),
                                                                                   ("raised", False)]
    with app.engine.connect() as conn:
        active = conn.execute(select(func.count()).select_from(repo.ALARMS).where(repo.ALARMS.c.active)).scalar()
        offline_cases = conn.execute(select(func.count()).select_from(repo.ALARMS)
                                     .where(repo.ALARMS.c.case_state == "none")).scalar()
    assert active == 451 and offline_cases == 450


def test_the_database_refuses_a_second_active_alarm_for_one_device_and_rule(app: Container) -> None:
    apply(app, fire())
    row = rows(app)[0]
    values = {**repo.aggregate_values(repo.to_alarm(row.__dict__)), **{"area_path": "", "place_codes": "",
                                                                        "case_state": "none", "case_attempts": 0}}
    with pytest.raises(IntegrityError), app.engine.begin() as conn:
        conn.execute(insert(repo.ALARMS), values)
    with app.engine.begin() as conn:  # a cleared one beside it is fine: the index holds active rows only
        conn.execute(insert(repo.ALARMS), {**values, "active": False})
    assert len(rows(app)) == 2


def test_a_batch_that_races_another_writer_runs_again_on_fresh_rows(app: Container,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    first = apply(app, fire())[0]
    real = repo.active_by_keys
    calls: list[int] = []

    def stale_then_real(conn: Any, keys: Any) -> Any:
        calls.append(1)
        return {} if len(calls) == 1 else real(conn, keys)  # the first read misses the alarm raised meanwhile

    monkeypatch.setattr(service_module.repo, "active_by_keys", stale_then_real)
    again = apply(app, fire(at=T0 + 5))
    assert len(calls) == 2 and [(c.kind, c.alarm_id) for c in again] == [("updated", first.alarm_id)]
    monkeypatch.setattr(service_module.repo, "active_by_keys", real)
    read = real
    acked: list[int] = []

    def acknowledged_meanwhile(conn: Any, keys: Any) -> Any:
        found = read(conn, keys)
        if not acked:  # a person acknowledges between this read and the batch's write
            acked.append(1)
            app.alarms.acknowledge(who(app, "op1"), first.alarm_id)
        return found

    monkeypatch.setattr(service_module.repo, "active_by_keys", acknowledged_meanwhile)
    apply(app, fire(at=T0 + 9))
    row = rows(app)[0]
    assert row.acknowledged and row.count == 3 and row.acknowledged_by == "op1"  # nobody's change was lost


def test_alarms_of_case_types_open_one_case_through_intake_and_device_offline_none(app: Container) -> None:
    gas, offline = apply(app, fire(), fire("gas-1", "offline", "device_offline", severity="minor"))  # type: ignore[arg-type]
    run = app.alarms.open_cases_due()
    assert (run.opened, run.failed) == (1, 0)
    stored = {r.id: r for r in rows(app)}
    assert stored[offline.alarm_id].case_state == "none" and stored[offline.alarm_id].case_number is None
    alarm = stored[gas.alarm_id]
    assert alarm.case_state == "opened" and alarm.case_number and alarm.case_attempts == 1
    case = app.cases.get(who(app, "op1"), alarm.case_number)[0]
    assert (case.source, case.category_code, case.urgency, case.state) == ("sensor", "0504", "critical", "reported")
    assert (case.external_system, case.external_id) == ("alarms", str(gas.alarm_id))
    assert case.area_code == YIHU_GRID and (case.lon, case.lat) == (104.0032, 30.0031)  # the building's point
    assert "燃气泄漏" in case.title and "gas-1" in case.description and "cmp-1-03/2/301" in case.description
    with app.sessions() as session:
        report = session.scalar(select(ReportRow).where(ReportRow.case_number == alarm.case_number))
    assert report is not None and (report.channel, report.source) == ("iot", "sensor")
    assert app.alarms.open_cases_due() == service_module.CaseRun(0, 0, 0)  # nothing due: never a second case
    assert [e.kind for e in app.alarms.get(who(app, "op1"), gas.alarm_id)[1]] == ["raised", "case_opened"]
    apply(app, clear(), fire(at=T0 + 400))  # a new alarm after the clear opens its own case
    app.alarms.open_cases_due()
    numbers = {r.case_number for r in rows(app) if r.case_number}
    assert len(numbers) == 2


class FlakyIntake:
    """Intake that fails the first `failures` submissions with a storage error, then behaves."""

    def __init__(self, real: Any, failures: int) -> None:
        self.real, self.failures, self.calls = real, failures, 0

    def submit(self, principal: Any, report: Any, **kw: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("database went away")
        return self.real.submit(principal, report, **kw)


def test_a_failing_intake_is_recorded_and_retried_on_the_next_run(app: Container) -> None:
    flaky = FlakyIntake(app.intake, failures=1)
    app.alarms.linker.intake = flaky  # type: ignore[assignment]
    gas = apply(app, fire())[0]
    nowhere = app.alarms.apply([fire("ghost", "sos", "sos")], lambda _: None)[0]  # no place: cannot be a case
    run = app.alarms.open_cases_due()
    assert (run.opened, run.failed) == (0, 2)
    stored = {r.id: r for r in rows(app)}
    assert (stored[gas.alarm_id].case_state, stored[gas.alarm_id].case_error) == ("failed", "RuntimeError")
    assert (stored[nowhere.alarm_id].case_state, stored[nowhere.alarm_id].case_error) == ("failed", "alarms.no_place")
    run = app.alarms.open_cases_due()
    assert (run.opened, run.failed) == (1, 1)
    stored = {r.id: r for r in rows(app)}
    assert stored[gas.alarm_id].case_state == "opened" and stored[gas.alarm_id].case_attempts == 2
    assert stored[gas.alarm_id].case_error is None and stored[nowhere.alarm_id].case_attempts == 2
    with app.sessions() as session:
        assert session.scalar(select(func.count()).select_from(CaseRow)) == 1


def test_acknowledging_and_clearing_are_written_into_the_case_timeline(app: Container) -> None:
    gas = apply(app, fire())[0]
    app.alarms.acknowledge(who(app, "grid"), gas.alarm_id, "已电话联系住户")  # before the case exists
    app.alarms.open_cases_due()
    number = rows(app)[0].case_number
    assert number is not None
    notes = [s for s in timeline(app, number) if s.action == Action.NOTE.value]
    assert [(n.note, n.data["alarm_event"], n.actor_role) for n in notes] == [
        ("grid-姓名 已确认物联告警：已电话联系住户", "acknowledged", "system")]
    app.alarms.comment(who(app, "op1"), gas.alarm_id, "已通知燃气公司")  # written at once, the case being open
    apply(app, clear())  # the rule clears it: written by the next scheduled run
    assert app.alarms.open_cases_due().reflected == 1
    steps = timeline(app, number)
    assert [s.note for s in steps if s.action == "note"][1:] == [
        "op1-姓名 对物联告警的说明：已通知燃气公司", "物联告警已解除（告警规则 gas_high）"]
    assert all(s.from_state == s.to_state == CaseState.REPORTED.value for s in steps if s.action == "note")
    assert {e.case_sync for e in app.alarms.get(who(app, "op1"), gas.alarm_id)[1] if e.kind != "raised"} <= {
        "done", "none"}
    app.cases.act(who(app, "op1"), number, StepRequest(Action.REJECT, note="误报"))  # the case ends
    app.alarms.comment(who(app, "op1"), gas.alarm_id, "设备已更换")
    history = app.alarms.get(who(app, "op1"), gas.alarm_id)[1]
    assert history[-1].kind == "commented" and history[-1].case_sync == "skipped"
    assert len([s for s in timeline(app, number) if s.action == "note"]) == 3


def test_filters_propagate_up_the_place_hierarchy_and_reads_are_scoped(app: Container) -> None:
    gas, smoke = apply(app, fire(), fire("smoke-2", "smoke_on", "smoke", severity="major"))  # type: ignore[arg-type]
    op, yihu = who(app, "op1"), who(app, "yihu")

    def ids(principal: Any, **kw: Any) -> list[int]:
        return [r.id for r in app.alarms.search(principal, AlarmFilter(**kw))[1]]

    assert ids(op) == [gas.alarm_id, smoke.alarm_id]  # the most severe first
    assert ids(op, place=STREET) == [gas.alarm_id, smoke.alarm_id]
    assert ids(op, place=YIHU) == ids(op, place=YIHU_GRID) == [gas.alarm_id]
    assert ids(op, place=SJN) == [smoke.alarm_id]
    assert ids(op, place="cmp-1") == ids(op, place="cmp-1-03") == [gas.alarm_id]  # compound and building
    assert ids(op, place="cmp-2") == [] and ids(op, place="cmp") == []
    assert ids(op, severities=frozenset({"major"})) == [smoke.alarm_id]
    assert ids(op, types=frozenset({"gas_leak"}), household="cmp-1-03/2/301", device_id="gas-1") == [gas.alarm_id]
    assert ids(yihu) == [gas.alarm_id] and ids(yihu, place=SJN) == []  # scope narrows everything
    with pytest.raises(NotFound):
        app.alarms.get(yihu, smoke.alarm_id)
    with pytest.raises(Forbidden) as resident:
        app.alarms.search(who(app, "res"))
    assert resident.value.code == "alarms.read_not_allowed"
    with pytest.raises(Invalid) as bad:
        app.alarms.search(op, AlarmFilter(severities=frozenset({"fatal"})))
    assert bad.value.code == "alarms.bad_severity"
    app.alarms.acknowledge(op, gas.alarm_id)
    assert ids(op, active=True, acknowledged=False) == [smoke.alarm_id]
    counts = app.alarms.counts(op)
    assert counts["critical"] == {"active_unacknowledged": 0, "active_acknowledged": 1,
                                  "cleared_unacknowledged": 0, "cleared_acknowledged": 0}
    assert counts["major"]["active_unacknowledged"] == 1 and sum(counts["minor"].values()) == 0
    assert sum(sum(v.values()) for v in app.alarms.counts(yihu).values()) == 1


def test_peoples_operations_refuse_precisely_and_are_audited(app: Container) -> None:
    gas = apply(app, fire())[0]
    op, grid = who(app, "op1"), who(app, "grid")
    row = app.alarms.acknowledge(op, gas.alarm_id, "收到", version=1)
    assert row.acknowledged and row.version == 2
    with pytest.raises(Conflict) as twice:
        app.alarms.acknowledge(grid, gas.alarm_id)
    assert twice.value.code == "alarms.already_acknowledged"
    with pytest.raises(Conflict) as stale:
        app.alarms.clear(op, gas.alarm_id, version=1)
    assert stale.value.code == "alarms.changed"
    with pytest.raises(Invalid) as outside:
        app.alarms.assign(op, gas.alarm_id, who(app, "sjngrid").user_id)  # 石家碾's grid worker: not their place
    assert outside.value.code == "alarms.bad_assignee"
    assigned = app.alarms.assign(op, gas.alarm_id, grid.user_id, "请上门查看")
    assert assigned.assignee_user_id == grid.user_id
    assert [p[1] for p in app.alarms.assignees(op, gas.alarm_id)] == ["grid-姓名", "op1-姓名", "yihu-姓名"]
    with pytest.raises(Forbidden):
        app.alarms.clear(who(app, "aud"), gas.alarm_id)
    cleared = app.alarms.clear(grid, gas.alarm_id, "现场已处置")
    assert not cleared.active and cleared.clearer == "person" and cleared.cleared_by == "grid"
    with pytest.raises(DomainError) as again:
        app.alarms.clear(op, gas.alarm_id)
    assert again.value.code == "alarms.already_cleared"
    assert apply(app, fire(at=T0 + 500))[0].alarm_id != gas.alarm_id  # the rule firing again: a new alarm
    with app.sessions() as session:
        audited = session.execute(select(AuditEventRow.action, AuditEventRow.outcome)
                                  .where(AuditEventRow.action.like("alarms.%")).order_by(AuditEventRow.id)).all()
    assert [tuple(a) for a in audited] == [("alarms.acknowledge", "ok"), ("alarms.assign", "ok"),
                                          ("alarms.clear", "refused"), ("alarms.clear", "ok")]
    kinds = [e.kind for e in app.alarms.get(op, gas.alarm_id)[1]]
    assert kinds == ["raised", "acknowledged", "assigned", "cleared"]
    assert Operation.CLEAR.value == "clear"


OURS = {"alarms", "alarm_events"}


def _table_of(obj: Any, name: str | None, type_: str) -> str | None:
    return name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)


def test_the_migration_creates_exactly_the_mapped_alarm_tables(engine: Any) -> None:
    opts = {"compare_type": True,
            "include_name": lambda name, type_, *_: type_ != "table" or name in OURS,
            "include_object": lambda obj, name, type_, *_: _table_of(obj, name, type_) in OURS}
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata) == []
        indexes = {ix["name"]: ix for ix in inspect(conn).get_indexes("alarms")}
    assert indexes["uq_alarms_one_active"]["unique"]
    assert indexes["uq_alarms_one_active"]["column_names"] == ["device_id", "rule_id"]
    assert {AlarmRow.__tablename__, AlarmEventRow.__tablename__} <= set(Base.metadata.tables)
