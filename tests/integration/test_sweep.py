"""The deadline sweep on the demo street across the 2026 Spring Festival: colours, one urge, then escalation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from chengyun.bootstrap import Container, bootstrap
from chengyun.cases.model import Action, CaseState, Request, Source
from chengyun.cases.service import NewCase
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.cli import app as cli_app
from chengyun.config import Settings
from chengyun.demo.load import ensure_demo
from chengyun.shared.clock import FixedClock
from tests.conftest import SECRET


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """February 2026, Chengdu wall-clock time, as UTC."""
    return datetime(2026, 2, day, hour - 8, minute, tzinfo=UTC)


@pytest.fixture
def demo(settings: Settings, engine: Engine) -> Container:
    container = bootstrap(settings, engine=engine, clock=FixedClock(local(13, 15)))
    ensure_demo(container, echo=lambda _: None)
    return container


def _dispatched_case(container: Container) -> str:
    operator = container.auth.principal("operator")
    center = container.areas.get(operator, "510113002001001001")
    assert center.center_lon is not None and center.center_lat is not None
    row = container.cases.open(operator, NewCase(Source.GRID, "0101", "路口暴露垃圾", center.center_lon,
                                                 center.center_lat))
    for action in (Action.REGISTER, Action.DISPATCH):
        row = container.cases.act(operator, row.number, Request(action))
    return row.number


def _at(container: Container, when: datetime) -> None:
    container.clock.current = when  # type: ignore[attr-defined]


def _row(container: Container, number: str) -> CaseRow:
    with container.sessions() as session:
        row = session.scalars(select(CaseRow).where(CaseRow.number == number)).one()
        session.expunge(row)
    return row


def test_colours_urge_once_and_escalate_across_the_spring_festival(demo: Container) -> None:
    number = _dispatched_case(demo)
    row = _row(demo, number)
    # 0101 暴露垃圾 is due in 1 working day: Friday 13 Feb 15:00 + 1wd = the make-up working Saturday 14 Feb 17:30
    assert row.handling_due == local(14, 17, 30) and row.lead_unit == "dept-chengguan"

    _at(demo, local(14, 15))  # 7 of 10 working hours used
    report = demo.run_sweep()
    assert report.checked == 1 and report.levels == {"green": 1} and _row(demo, number).deadline_level == "green"

    _at(demo, local(14, 16, 30))  # 9 of 10 working hours: yellow
    demo.run_sweep()
    assert _row(demo, number).deadline_level == "yellow"

    _at(demo, local(14, 18))  # half an hour overdue: red and one automatic urge
    report = demo.run_sweep()
    assert report.urged == 1 and report.escalated == 0 and _row(demo, number).deadline_level == "red"
    _at(demo, local(14, 19))
    assert demo.run_sweep().urged == 0  # one urge per overdue spell
    assert _row(demo, number).urges == 1

    _at(demo, local(16, 10))  # Monday in the holiday, 40 hours overdue: escalated to the district and re-routed
    report = demo.run_sweep()
    assert report.escalated == 1 and report.redispatched == 1, report.failed
    row = _row(demo, number)
    assert row.state == CaseState.DISPATCHED.value and row.handling_level == "district"
    assert row.lead_unit == "dept-qu-chengguan" and row.escalations == 1
    with demo.sessions() as session:
        steps = session.scalars(select(TimelineRow).where(TimelineRow.case_id == row.id)
                                .order_by(TimelineRow.seq)).all()
        actions = [(s.action, s.actor_id) for s in steps]
    assert actions == [("register", actions[0][1]), ("dispatch", actions[1][1]), ("urge", None),
                       ("escalate", None), ("dispatch", None)]


def test_a_suspended_case_is_coloured_but_never_urged(demo: Container) -> None:
    number = _dispatched_case(demo)
    operator = demo.auth.principal("operator")
    demo.cases.act(operator, number, Request(Action.SUSPEND, note="等待节后产权单位答复"))
    _at(demo, local(24, 10))
    report = demo.run_sweep()
    assert report.checked == 1 and report.urged == 0 and report.escalated == 0
    assert _row(demo, number).state == CaseState.SUSPENDED.value


def test_jobs_run_once_sweeps_then_refreshes_the_kpi_rollup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHENGYUN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CHENGYUN_SECRET_KEY", SECRET)
    monkeypatch.setenv("CHENGYUN_LANG", "zh-CN")
    runner = CliRunner()
    assert runner.invoke(cli_app, ["db", "upgrade"]).exit_code == 0
    first = runner.invoke(cli_app, ["jobs", "run-once"])
    assert first.exit_code == 0, first.output
    assert "时限巡检完成：检查 0 件" in first.output and "指标汇总已按全部案件重建：0 行。" in first.output
    second = runner.invoke(cli_app, ["jobs", "run-once"])
    assert "指标汇总已更新：重算有变动的 0 天，0 行。" in second.output  # nothing changed since the first
