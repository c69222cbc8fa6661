"""The demo's simulated history: deterministic, every case consistent with its timeline, a realistic mix."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select

from chengyun.auth.tables import UserRow
from chengyun.bootstrap import bootstrap
from chengyun.cases.model import CaseState
from chengyun.cases.tables import CaseRow, TimelineRow
from chengyun.config import Settings
from chengyun.demo.live import (
    FIRST_PATROLS,
    PATROL_ACCOUNTS,
    PATROLS_PER_ROUND,
    LiveSimulator,
    ensure_patrol_accounts,
)
from chengyun.demo.load import ensure_demo
from chengyun.demo.simulate import simulate
from chengyun.patrol.tables import CheckinRow
from chengyun.shared.clock import FixedClock

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def test_simulated_history_replays_and_mixes_outcomes(settings: Settings, engine: Engine) -> None:
    container = bootstrap(settings, engine=engine, clock=FixedClock(NOW))
    ensure_demo(container, echo=lambda _: None)
    report = simulate(container, days=6, per_day=10, seed=7, echo=lambda _: None)
    assert report.cases == 60 and sum(report.states.values()) == 60
    assert simulate(container, days=6, per_day=10, seed=7, echo=lambda _: None).cases == 0  # only once
    with container.sessions() as session:
        rows = session.scalars(select(CaseRow)).all()
        steps = session.scalars(select(TimelineRow).order_by(TimelineRow.case_id, TimelineRow.seq)).all()
    by_case: dict[int, list[TimelineRow]] = {}
    for step in steps:
        by_case.setdefault(step.case_id, []).append(step)
    states = Counter(r.state for r in rows)
    assert states[CaseState.FOLLOWED_UP.value] >= 10  # older cases went round the whole loop
    assert sum(states[s] for s in ("dispatched", "claimed", "handling", "result_submitted", "verified")) > 0
    assert {r.source for r in rows} >= {"grid", "citizen"}
    for row in rows:
        entries = by_case.get(row.id, [])
        assert row.version == len(entries) and all(e.at <= NOW for e in entries)
        assert all(a.to_state == b.from_state for a, b in itertools.pairwise(entries))
        assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
        if entries:
            assert entries[-1].to_state == row.state


def test_the_live_simulator_opens_cases_and_moves_them_on_in_real_time(settings: Settings, engine: Engine) -> None:
    clock = FixedClock(NOW)
    container = bootstrap(settings, engine=engine, clock=clock)
    ensure_demo(container, echo=lambda _: None)
    live = LiveSimulator(container, seed=3, speed=60.0, new_case_every_s=60.0)
    assert live.tick() == 1 and live.opened == 1 and live.pending == 1  # a case at once, its first step later
    assert live.tick() == 0  # nothing is due yet: the clock has not moved
    for _ in range(240):  # four hours of ticks a minute apart: planned days pass as real hours
        clock.advance(timedelta(minutes=1))
        live.tick()
    with container.sessions() as session:
        rows = session.scalars(select(CaseRow)).all()
        steps = session.scalars(select(TimelineRow)).all()
    assert len(rows) == live.opened and 150 <= live.opened <= 330  # about one a minute, jittered ±50%
    assert all(s.at <= clock.now() for s in steps) and len(steps) >= live.steps - live.pending
    states = Counter(r.state for r in rows)
    assert states["followed_up"] + states["closed"] > 0 and states["reported"] < len(rows)
    assert live.tick() == 0  # at the same instant nothing more is due


def test_grid_workers_check_in_on_patrol_and_show_on_the_screen(settings: Settings, engine: Engine) -> None:
    clock = FixedClock(NOW)
    container = bootstrap(settings, engine=engine, clock=clock)
    ensure_demo(container, echo=lambda _: None)
    live = LiveSimulator(container, seed=3, patrol_every_s=30.0)
    live.tick()
    assert live.checkins == FIRST_PATROLS  # a first round at once, by the demo's grid workers given accounts
    assert ensure_patrol_accounts(container, PATROL_ACCOUNTS) == 0  # once
    clock.advance(timedelta(seconds=10))
    live.tick()
    assert live.checkins == FIRST_PATROLS  # the next round is not due yet
    clock.advance(timedelta(seconds=25))
    live.tick()
    assert live.checkins == FIRST_PATROLS + PATROLS_PER_ROUND
    with container.sessions() as session:
        rows = session.execute(select(CheckinRow.user_id, CheckinRow.area_code, UserRow.scope_code, UserRow.role)
                               .join(UserRow, UserRow.id == CheckinRow.user_id)).all()
    assert len(rows) == live.checkins and {r.role for r in rows} == {"grid_worker"}
    assert all(r.area_code is not None and r.area_code.startswith(r.scope_code) for r in rows)  # in their own grid
    operator = container.auth.principal("operator")
    shown = container.screen.layer(operator, container.screen.focus(operator), "workers")
    assert len(shown) == len({r.user_id for r in rows}) and {p.cls for p in shown} == {"fresh"}
