"""The served demo keeps moving: new cases arrive and open ones take their next step, in real time, and grid workers
check in on patrol (their positions on the big screen).

`chengyun demo --serve` runs `LiveSimulator.tick` every few seconds. Each new case gets the same kind of plan as
the history (claims, returns, extensions, failed checks, ratings), with the plan's hours passing as minutes
(`speed`), so a visitor watches cases move through the loop. Steps go through the real case service on the real
clock, so the dashboards, KPIs and the sweep see them like any other.
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from chengyun.areas.tables import AreaRow
from chengyun.auth.model import Role
from chengyun.auth.tables import UserRow
from chengyun.bootstrap import Container
from chengyun.demo.simulate import Place, PlanStep, Simulator, microgrids
from chengyun.org.tables import PersonRow
from chengyun.patrol.service import CheckIn

DEFAULT_SPEED = 60.0  # one planned hour passes in one real minute
DEFAULT_NEW_CASE_EVERY_S = 45.0
DEFAULT_PATROL_EVERY_S = 30.0  # a round of check-ins …
PATROLS_PER_ROUND = 5  # … by this many grid workers, each near the middle of their own grid
FIRST_PATROLS = 40  # the first round, so the screen shows workers at once
PATROL_ACCOUNTS = 40  # grids whose (demo) grid worker gets an account to check in with
PATROL_JITTER_DEG = 0.0003  # about 30 m


@dataclass
class LiveSimulator:
    """An agenda of due steps; `tick()` opens a case when one is due and takes every step that is due."""

    container: Container
    seed: int = 2026
    speed: float = DEFAULT_SPEED
    new_case_every_s: float = DEFAULT_NEW_CASE_EVERY_S
    patrol_every_s: float = DEFAULT_PATROL_EVERY_S
    opened: int = 0
    steps: int = 0
    checkins: int = 0
    _agenda: list[tuple[datetime, int, str, list[PlanStep]]] = field(default_factory=list, init=False)
    _order: itertools.count[int] = field(default_factory=itertools.count, init=False)
    _next_case: datetime | None = field(default=None, init=False)
    _places: list[Place] = field(default_factory=list, init=False)
    _sim: Simulator | None = field(default=None, init=False)
    _next_patrol: datetime | None = field(default=None, init=False)
    _patrollers: list[tuple[str, float, float]] | None = field(default=None, init=False)

    def tick(self) -> int:
        """Bring the demo up to the clock's now; the number of cases opened and steps taken."""
        now = self.container.clock.now()
        sim = self._simulator()
        done = 0
        if self._next_case is None or now >= self._next_case:
            number, plan = sim.open_case(self._places[sim.rng.randrange(len(self._places))])
            if number is not None:
                self._schedule(now, number, plan)
            self._next_case = now + timedelta(seconds=sim.rng.uniform(0.5, 1.5) * self.new_case_every_s)
            self.opened += 1
            done += 1
        while self._agenda and self._agenda[0][0] <= now:
            _due, _, number, plan = heapq.heappop(self._agenda)
            _delay, who, action, note, data = plan[0]
            if sim.step(number, who, action, note, data) is not None:
                self._schedule(now, number, plan[1:])
            self.steps += 1
            done += 1
        if self._next_patrol is None or now >= self._next_patrol:
            self._patrol(sim.rng, FIRST_PATROLS if self._next_patrol is None else PATROLS_PER_ROUND)
            self._next_patrol = now + timedelta(seconds=self.patrol_every_s)
        return done

    def _patrol(self, rng: random.Random, count: int) -> None:
        """`count` grid workers (drawn at random) check in a few metres from the middle of their grid."""
        if self._patrollers is None:
            ensure_patrol_accounts(self.container, PATROL_ACCOUNTS)
            self._patrollers = grid_workers(self.container)
        for username, lon, lat in rng.sample(self._patrollers, min(count, len(self._patrollers))):
            point = CheckIn(lon + rng.uniform(-PATROL_JITTER_DEG, PATROL_JITTER_DEG),
                            lat + rng.uniform(-PATROL_JITTER_DEG, PATROL_JITTER_DEG), accuracy_m=10.0)
            self.container.patrol.check_in(self.container.auth.principal(username), point)
            self.checkins += 1

    def _schedule(self, now: datetime, number: str, plan: list[PlanStep]) -> None:
        if plan:
            due = now + timedelta(hours=plan[0][0]) / self.speed
            heapq.heappush(self._agenda, (due, next(self._order), number, plan))

    def _simulator(self) -> Simulator:
        if self._sim is None:
            self._places = microgrids(self.container)
            rng = random.Random(self.seed)  # noqa: S311 - a reproducible demo, not a secret
            self._sim = Simulator(rng, self.container.cases, self.container.intake,
                                  self.container.auth.principal("operator"))
        return self._sim

    @property
    def pending(self) -> int:
        """Cases with a step still to come."""
        return len(self._agenda)


def grid_workers(container: Container) -> list[tuple[str, float, float]]:
    """Active grid workers with the middle of their scope area (username, lon, lat), by username."""
    with container.sessions() as session:
        rows = session.execute(
            select(UserRow.username, AreaRow.center_lon, AreaRow.center_lat)
            .join(AreaRow, AreaRow.code == UserRow.scope_code)
            .where(UserRow.role == Role.GRID_WORKER.value, UserRow.is_active.is_(True),
                   AreaRow.center_lon.is_not(None), AreaRow.center_lat.is_not(None))
            .order_by(UserRow.username)).all()
    return [(r.username, r.center_lon, r.center_lat) for r in rows]


def ensure_patrol_accounts(container: Container, grids: int) -> int:
    """Accounts for the demo's grid workers (people of kind grid_worker) of the first `grids` grids, one each,
    named after the person (once: existing accounts are kept); how many were created."""
    with container.sessions() as session:
        taken = set(session.scalars(select(UserRow.person_id).where(UserRow.person_id.is_not(None))))
        people = session.execute(select(PersonRow.id, PersonRow.name, PersonRow.area_code)
                                 .where(PersonRow.kind == Role.GRID_WORKER.value).order_by(PersonRow.area_code,
                                                                                           PersonRow.id)).all()
    first_per_grid: dict[str, Any] = {}
    for person in people:
        first_per_grid.setdefault(person.area_code, person)
    created = 0
    for person in list(first_per_grid.values())[:grids]:
        if person.id not in taken:
            container.auth.create_user(username=f"gw-{person.id}", display_name=person.name, role=Role.GRID_WORKER,
                                       scope_code=person.area_code, person_id=person.id, actor="demo")
            created += 1
    return created
